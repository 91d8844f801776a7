"""Confidence intervals and one-sided tests for survey proportions (R's ``svyciprop``).

Methods, with the design degrees of freedom ``df`` as R uses them:

* ``"logit"`` / ``"xlogit"``: t interval on logit(p̂), SE(p̂)/(p̂q̂) (R's svyglm Wald
  interval and ``svycontrast`` delta method: the same number).
* ``"likelihood"``: R's profile quasi-likelihood interval (y must be 0/1). R interpolates a spline
  through a coarse grid; we solve R's own criterion exactly, so we differ from R's
  printed bounds by up to ~1.5e-3 (tests allow 2e-3).
* ``"asin"``: t interval on asin(√p̂), mapped back with sin², clipped to [0, π/2].
* ``"beta"``: Korn–Graubard: Clopper–Pearson with n_eff = p̂q̂/Var(p̂) ×
  (t_{n−1}/t_df)² (R); with ``nchs=True`` n_eff is capped at n (NCHS).
* ``"mean"``: symmetric Wald t interval.
* ``"wilson"``: Wilson score interval with z and n_eff = p̂q̂/Var(p̂) (not in R).

p̂ = 0 or 1: R returns NaN, a zero-width interval or an error (``likelihood``). The
product needs an answer, so every method then returns the NCHS Korn–Graubard
interval with n_eff = n·(t_{n−1}/t_df)² (Parker et al. 2017) and ``degenerate=True``.

One-sided p-value for H0: p ≤ threshold, on the method's own scale (logit for
logit/xlogit, asin for asin, the profile criterion for likelihood, the score for
wilson, the beta quantile for beta): p_value ≤ α exactly when the lower end of the
two-sided (1 − 2α) interval is ≥ the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize, stats

from analysis.design import SurveyDesign
from analysis.estimators import domain_codes, mean

CIMethod = Literal["logit", "likelihood", "asin", "beta", "mean", "xlogit", "wilson"]
CI_METHODS: tuple[str, ...] = ("logit", "likelihood", "asin", "beta", "mean", "xlogit", "wilson")

# NCHS Data Presentation Standards for Proportions: flag below these
MIN_DF = 8
MIN_EFFECTIVE_N = 30


@dataclass(frozen=True)
class ProportionInterval:
    """A proportion with its interval; ``flags`` name NCHS reliability problems."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    level: float
    method: str
    df: int
    n: int
    n_eff: float
    p_value: float = math.nan
    threshold: float | None = None
    degenerate: bool = False
    flags: tuple[str, ...] = ()

    @property
    def passes(self) -> bool:
        """True when the lower bound exceeds the threshold (the 85% rule)."""
        return self.threshold is not None and self.ci_low > self.threshold


def _t(q: float, df: float) -> float:
    return float(stats.t.ppf(q, df)) if math.isfinite(df) else float(stats.norm.ppf(q))


def _kg_factor(alpha: float, n: int, df: float) -> float:
    """(t_{n−1}(α)/t_df(α))², R's Korn–Graubard df adjustment (limit at α = ½)."""
    if abs(alpha - 0.5) < 1e-9:
        return float((stats.t.pdf(0, df) / stats.t.pdf(0, n - 1)) ** 2)
    return (_t(alpha, n - 1) / _t(alpha, df)) ** 2


def _cp_lower(alpha: float, x: float, n_eff: float) -> float:
    return float(stats.beta.ppf(alpha, x, n_eff - x + 1)) if x > 0 else 0.0


def _cp_upper(alpha: float, x: float, n_eff: float) -> float:
    return float(stats.beta.ppf(1 - alpha, x + 1, n_eff - x)) if x < n_eff else 1.0


def _root_alpha(lower_at: object, threshold: float) -> float:
    """The α in (0,1) where a lower bound (increasing in α) meets the threshold."""
    f = lambda a: lower_at(a) - threshold  # type: ignore[operator]  # noqa: E731
    lo, hi = 1e-15, 1 - 1e-15
    if f(lo) >= 0:
        return lo
    if f(hi) <= 0:
        return 1.0
    return float(optimize.brentq(f, lo, hi, xtol=1e-14, rtol=1e-12))


def proportion_interval(
    estimate: float,
    se: float,
    n: int,
    df: float,
    *,
    method: CIMethod = "beta",
    level: float = 0.95,
    threshold: float | None = None,
    nchs: bool = True,
) -> ProportionInterval:
    """Interval for a design-based proportion, as R's ``svyciprop(method=...)``.

    ``n`` is the domain's row count, ``df`` its design df (R's ``degf``). ``nchs``
    caps the Korn–Graubard effective n at n.
    """
    if method not in CI_METHODS:
        raise ValueError(f"unknown interval method {method!r}; use one of {CI_METHODS}")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    p, var = float(estimate), float(se) ** 2
    alpha = (1 - level) / 2
    nan = math.nan
    if n == 0 or not math.isfinite(p):
        return ProportionInterval(
            nan, nan, nan, nan, level, method, int(df), 0, 0.0, nan, threshold, False, ("no_data",)
        )
    q = 1 - p
    degenerate = p <= 0 or p >= 1 or var <= 0
    n_eff = p * q / var if var > 0 else nan
    flags = []
    if df < MIN_DF:
        flags.append("df_below_8")
    if df <= 0 or n < 2:
        flags.append("no_variance")
        return ProportionInterval(
            p,
            float(se),
            nan,
            nan,
            level,
            method,
            int(df),
            n,
            n_eff,
            nan,
            threshold,
            degenerate,
            tuple(flags),
        )
    if degenerate:
        low, high, p_value, n_eff = _nchs_degenerate(p, n, df, alpha, threshold)
    else:
        low, high, p_value = _interval(p, var, n, df, alpha, method, threshold, nchs)
    if (math.isfinite(n_eff) and n_eff < MIN_EFFECTIVE_N) or n < MIN_EFFECTIVE_N:
        flags.append("n_eff_below_30")
    return ProportionInterval(
        p,
        float(se),
        low,
        high,
        level,
        method,
        int(df),
        n,
        float(min(n_eff, n)) if nchs and math.isfinite(n_eff) else float(n_eff),
        p_value,
        threshold,
        degenerate,
        tuple(flags),
    )


def _nchs_degenerate(
    p: float, n: int, df: float, alpha: float, threshold: float | None
) -> tuple[float, float, float, float]:
    """Korn–Graubard with n_eff = n·(t_{n−1}/t_df)² for p̂ = 0 or 1 (NCHS)."""

    def bounds(a: float) -> tuple[float, float]:
        n_eff = n * min(_kg_factor(a, n, df), 1.0)
        return _cp_lower(a, p * n_eff, n_eff), _cp_upper(a, p * n_eff, n_eff)

    low, high = bounds(alpha)
    p_value = math.nan
    if threshold is not None:
        p_value = _root_alpha(lambda a: bounds(a)[0], threshold)
    return low, high, p_value, n * min(_kg_factor(alpha, n, df), 1.0)


def _interval(
    p: float,
    var: float,
    n: int,
    df: float,
    alpha: float,
    method: str,
    threshold: float | None,
    nchs: bool,
) -> tuple[float, float, float]:
    q, se = 1 - p, math.sqrt(var)
    t = -_t(alpha, df)
    p_value = math.nan
    has_t = threshold is not None and 0 < threshold < 1
    if method == "mean":
        low, high = p - t * se, p + t * se
        if has_t:
            p_value = float(stats.t.sf((p - threshold) / se, df))  # type: ignore[operator]
    elif method in ("logit", "xlogit"):
        eta, se_eta = math.log(p / q), se / (p * q)
        low, high = _expit(eta - t * se_eta), _expit(eta + t * se_eta)
        if has_t:
            stat = (eta - math.log(threshold / (1 - threshold))) / se_eta  # type: ignore[operator]
            p_value = float(stats.t.sf(stat, df))
    elif method == "asin":
        eta, se_eta = math.asin(math.sqrt(p)), se / (2 * math.sqrt(p * q))
        low = math.sin(max(eta - t * se_eta, 0.0)) ** 2
        high = math.sin(min(eta + t * se_eta, math.pi / 2)) ** 2
        if has_t:
            stat = (eta - math.asin(math.sqrt(threshold))) / se_eta  # type: ignore[arg-type]
            p_value = float(stats.t.sf(stat, df))
    elif method == "wilson":
        z = float(stats.norm.ppf(1 - alpha))
        m = p * q / var
        centre = (p + z * z / (2 * m)) / (1 + z * z / m)
        half = z / (1 + z * z / m) * math.sqrt(p * q / m + z * z / (4 * m * m))
        low, high = centre - half, centre + half
        if has_t:
            stat = (p - threshold) / math.sqrt(threshold * (1 - threshold) / m)  # type: ignore[operator]
            p_value = float(stats.norm.sf(stat))
    elif method == "beta":
        base = p * q / var

        def n_eff_at(a: float) -> float:
            value = base * _kg_factor(a, n, df)
            return min(value, n) if nchs else value

        n_eff = n_eff_at(alpha)
        low, high = _cp_lower(alpha, p * n_eff, n_eff), _cp_upper(alpha, p * n_eff, n_eff)
        if has_t:
            p_value = _root_alpha(lambda a: _cp_lower(a, p * n_eff_at(a), n_eff_at(a)), threshold)  # type: ignore[arg-type]
    else:  # likelihood
        low, high, p_value = _likelihood(p, var, n, df, t, threshold if has_t else None)
    if threshold is not None and not has_t:
        p_value = 0.0 if threshold <= 0 else 1.0
    return low, high, p_value


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _likelihood(
    p: float, var: float, n: int, df: float, t: float, threshold: float | None
) -> tuple[float, float, float]:
    """Exact roots of R's profile criterion for ``svyciprop(method="likelihood")``.

    R (``confint.svyglm``/``MASSprofile_glm``): the bounds solve
    2n[p̂ log(p̂/π) + q̂ log(q̂/π')]/φ = λ t², λ = Var(β̂)/naive = Var(p̂)·n/(p̂q̂).
    n cancels: p̂ log(p̂/π) + q̂ log(q̂/(1−π)) = φ·Var(p̂)·t²/(2p̂q̂). For a 0/1 y the
    dispersion φ (``svyvar`` of the Pearson residuals (y−p̂)/√(p̂q̂)) is n/(n−1).
    """
    q = 1 - p
    unit = n / (n - 1) * var / (2 * p * q)

    def divergence(pi: float) -> float:
        return p * math.log(p / pi) + q * math.log(q / (1 - pi))

    target = unit * t * t

    def solve(lo: float, hi: float) -> float:
        return float(
            optimize.brentq(
                lambda x: divergence(x) - target, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps
            )
        )

    tiny = 1e-300
    low = solve(tiny, p) if divergence(tiny) > target else 0.0
    high = solve(p, 1 - 1e-16) if divergence(1 - 1e-16) > target else 1.0
    p_value = math.nan
    if threshold is not None:
        signed = math.copysign(math.sqrt(divergence(threshold) / unit), p - threshold)
        p_value = float(stats.t.sf(signed, df))
    return low, high, p_value


def ciprop(
    design: SurveyDesign,
    y: np.ndarray,
    domain: np.ndarray | None = None,
    *,
    method: CIMethod = "beta",
    level: float = 0.95,
    threshold: float | None = None,
    nchs: bool = True,
) -> ProportionInterval:
    """R's ``svyciprop(~y, subset(design, domain & !is.na(y)), method=, level=)``:
    a 0/1 ``y`` (NaN: not answered) over a domain of the whole design."""
    y = np.asarray(y, dtype=float)
    est = mean(design, y, domain)
    return proportion_interval(
        est.estimate,
        est.se,
        est.n,
        est.df,
        method=method,
        level=level,
        threshold=threshold,
        nchs=nchs,
    )


def ciprop_by(
    design: SurveyDesign,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    method: CIMethod = "beta",
    level: float = 0.95,
    threshold: float | None = None,
    nchs: bool = True,
) -> list[tuple[object, ProportionInterval]]:
    """R's ``svyby(~y, ~groups, design, svyciprop, vartype="ci", method=)``: one
    interval per group label, in sorted order, each with its own domain df."""
    codes, labels = domain_codes(groups)
    return [
        (
            label,
            ciprop(
                design, y, codes == g, method=method, level=level, threshold=threshold, nchs=nchs
            ),
        )
        for g, label in enumerate(labels)
    ]


def interval_and_p_value(
    estimate: np.ndarray,
    se: np.ndarray,
    n: np.ndarray,
    df: np.ndarray,
    *,
    method: CIMethod = "beta",
    level: float = 0.95,
    threshold: float | None = None,
    nchs: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`proportion_interval` over arrays: (ci_low, ci_high, p_value) arrays."""
    p, s = np.broadcast_arrays(np.asarray(estimate, float), np.asarray(se, float))
    nn = np.broadcast_to(np.asarray(n), p.shape)
    dd = np.broadcast_to(np.asarray(df), p.shape)
    out = np.full((3, *p.shape), np.nan)
    for idx in np.ndindex(p.shape):
        r = proportion_interval(
            float(p[idx]),
            float(s[idx]),
            int(nn[idx]),
            float(dd[idx]),
            method=method,
            level=level,
            threshold=threshold,
            nchs=nchs,
        )
        out[(slice(None), *idx)] = (r.ci_low, r.ci_high, r.p_value)
    return out[0], out[1], out[2]
