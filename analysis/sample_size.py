"""How many respondents a county survey needs (shared/statistics.md, "Sample size").

Two statistical requirements, each inflated by the planning design effect and then
corrected for a finite population of N:

* a margin of error ``e`` at an anticipated rate ``p`` (two-sided, level 1 − a):
  n0 = z²·p(1 − p)/e² · deff, with z = Φ⁻¹(1 − a/2);
* a one-sided test of H0: p = p0 (the 85% line) against a true rate p1, with level α
  and power 1 − β:  n0 = [z_{1−α}√(p0 q0) + z_{1−β}√(p1 q1)]² / (p1 − p0)² · deff;

then n = n0 / (1 + (n0 − 1)/N) when N is given. Both round up to whole respondents.
The planning design effect (Kish) is deff = (1 + (m̄ − 1)ρ)(1 + CV_w²) for clusters of
m̄ respondents with intra-school correlation ρ and weights of coefficient of variation
CV_w.

Beside them, the national practice (shared/domain.md): about 1.5‰ of the county's
resident population, parents at least half. A plan takes the larger of the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.special import ndtri

NATIONAL_SHARE = 0.0015  # 1.5‰ of the resident population
PARENT_SHARE = 0.5  # parents at least half of the sample


class SampleSizeError(ValueError):
    """Inputs outside their range; the message names the option at fault."""


@dataclass(frozen=True)
class SampleSize:
    """A requirement: ``n0`` before the finite-population correction, ``n`` after
    (rounded up), and what they were computed from."""

    n0: float
    n: int
    deff: float
    z: float
    population: int | None
    rule: str  # "margin" or "test"

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "n0": self.n0,
            "n": self.n,
            "deff": self.deff,
            "z": self.z,
            "population": self.population,
        }


def design_effect(cluster_size: float = 1.0, icc: float = 0.0, weight_cv: float = 0.0) -> float:
    """Kish's planning design effect (1 + (m̄ − 1)ρ)(1 + CV_w²)."""
    if cluster_size < 1:
        raise SampleSizeError("--m: the mean number of respondents per school is at least 1")
    if not 0 <= icc < 1:
        raise SampleSizeError("--rho: the intra-school correlation is in [0, 1)")
    if weight_cv < 0:
        raise SampleSizeError("--cv-weights: a coefficient of variation is 0 or more")
    return (1 + (cluster_size - 1) * icc) * (1 + weight_cv**2)


def for_margin(
    p: float,
    margin: float,
    *,
    deff: float = 1.0,
    level: float = 0.95,
    population: int | None = None,
) -> SampleSize:
    """Respondents for a two-sided interval of half-width ``margin`` at rate ``p``."""
    _check_share("--p", p)
    if not 0 < margin < 1:
        raise SampleSizeError("--margin: a half-width between 0 and 1, e.g. 0.05")
    _check_common(deff, level, population)
    z = float(ndtri(1 - (1 - level) / 2))
    n0 = z**2 * p * (1 - p) / margin**2 * deff
    return SampleSize(n0, _corrected(n0, population), deff, z, population, "margin")


def for_test(
    p1: float,
    *,
    p0: float = 0.85,
    alpha: float = 0.05,
    power: float = 0.8,
    deff: float = 1.0,
    population: int | None = None,
) -> SampleSize:
    """Respondents for a one-sided level-``alpha`` test of p0 with ``power`` at p1."""
    _check_share("--p0", p0)
    _check_share("--p1", p1)
    if p1 == p0:
        raise SampleSizeError("--p1: the alternative must differ from --p0")
    if not 0 < alpha < 0.5:
        raise SampleSizeError("--alpha: a one-sided level between 0 and 0.5")
    if not 0.5 <= power < 1:
        raise SampleSizeError("--power: between 0.5 and 1")
    _check_common(deff, 0.95, population)
    z_alpha = float(ndtri(1 - alpha))
    z_power = float(ndtri(power))
    spread = z_alpha * math.sqrt(p0 * (1 - p0)) + z_power * math.sqrt(p1 * (1 - p1))
    n0 = spread**2 / (p1 - p0) ** 2 * deff
    return SampleSize(n0, _corrected(n0, population), deff, z_alpha, population, "test")


@dataclass(frozen=True)
class NationalPractice:
    """The customary size: 1.5‰ of residents, at least half of it parents."""

    total: int
    parents: int

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, "parents": self.parents}


def national_practice(residents: int) -> NationalPractice:
    if residents <= 0:
        raise SampleSizeError("--residents: the resident population is above 0")
    total = math.ceil(residents * NATIONAL_SHARE - 1e-9)
    return NationalPractice(total=total, parents=math.ceil(total * PARENT_SHARE - 1e-9))


def _corrected(n0: float, population: int | None) -> int:
    n = n0 if population is None else n0 / (1 + (n0 - 1) / population)
    return math.ceil(n - 1e-9)  # 364.0000000001 from rounding error is still 364


def _check_share(option: str, value: float) -> None:
    if not (math.isfinite(value) and 0 < value < 1):
        raise SampleSizeError(f"{option}: a rate strictly between 0 and 1")


def _check_common(deff: float, level: float, population: int | None) -> None:
    if not (math.isfinite(deff) and deff >= 1):
        raise SampleSizeError("--deff: a design effect of 1 or more")
    if not 0 < level < 1:
        raise SampleSizeError("--level: a confidence level between 0 and 1, e.g. 0.95")
    if population is not None and population < 1:
        raise SampleSizeError("--population: a whole number of people, 1 or more")
