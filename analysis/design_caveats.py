"""Warnings about designs whose variance is valid as R computes it but misleading.

Kept apart from :mod:`analysis.design` so the variance engine stays small. A caveat is
a code with its figures (the web app translates by code); ``message`` is the English
text the command line prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "FPC_CAVEAT_MIN_FRACTION",
    "DesignCaveat",
    "first_stage_fpc_caveat",
    "first_stage_pps_caveat",
]


@dataclass(frozen=True)
class DesignCaveat:
    """A warning that leaves every number unchanged but says how far to trust it."""

    code: str  # "fpc_first_stage_only" or "pps_first_stage_only"
    largest_fraction: float  # the largest n_h / N_h, or (PPS) the largest π_i

    @property
    def message(self) -> str:
        if self.code == "pps_first_stage_only":
            return (
                "PPS first stage (Brewer) without a second stage while a school's inclusion "
                f"probability reaches {self.largest_fraction:.0%}: the variance leaves out "
                "that share of each school's within-school variance (all of it for a "
                "certainty school); give the second stage (cluster2 with fpc2 as the "
                "sampling fraction within the school)"
            )
        return (
            f"first-stage fpc without a second stage while up to {self.largest_fraction:.0%} "
            "of the PSUs (schools) of a stratum are sampled: the variance is understated "
            "(0 for a census of schools); give the second stage (cluster2 with fpc2) or "
            "drop the fpc"
        )


# shared/statistics.md, "Finite population correction pitfall": with a large
# school sampling fraction (or a census of schools) a first-stage fpc alone understates
# the variance (exactly 0 for a census); in simulation it pushed the false-pass rate to
# 6-10% at 20-40% school sampling fractions. Warn from a 10% fraction in any stratum.
FPC_CAVEAT_MIN_FRACTION = 0.10


def first_stage_fpc_caveat(
    n_rows: int,
    n_psu: int,
    psu_per_stratum: np.ndarray,
    stratum_popsize: np.ndarray | None,
    two_stage: bool,
) -> DesignCaveat | None:
    """The first-stage-only fpc caveat, or None when it does not apply.

    Applies to a clustered design (fewer PSUs than rows) with a first-stage fpc
    (``stratum_popsize`` N_h), no second stage in the variance, and some stratum
    sampling at least :data:`FPC_CAVEAT_MIN_FRACTION` of its PSUs (n_h / N_h).
    """
    if stratum_popsize is None or two_stage or n_psu >= n_rows or psu_per_stratum.size == 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(np.isinf(stratum_popsize), 0.0, psu_per_stratum / stratum_popsize)
    largest = float(np.max(fraction))
    if not largest >= FPC_CAVEAT_MIN_FRACTION:
        return None
    return DesignCaveat("fpc_first_stage_only", largest)


def first_stage_pps_caveat(n_rows: int, psu_pi: np.ndarray, two_stage: bool) -> DesignCaveat | None:
    """The same caveat for a PPS (Brewer) first stage: Brewer's (1 − π_i) removes π_i
    of school i's within-school variance along with its share of the between-school
    variance, so a clustered design without its second stage is understated once some
    π_i reaches :data:`FPC_CAVEAT_MIN_FRACTION`."""
    if two_stage or psu_pi.size == 0 or psu_pi.size >= n_rows:
        return None
    largest = float(np.max(psu_pi))
    if not largest >= FPC_CAVEAT_MIN_FRACTION:
        return None
    return DesignCaveat("pps_first_stage_only", largest)
