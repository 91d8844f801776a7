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
from numpy.typing import ArrayLike, NDArray
from scipy import special

from analysis.design import SurveyDesign
from analysis.estimators import domain_codes, mean

CIMethod = Literal["logit", "likelihood", "asin", "beta", "mean", "xlogit", "wilson"]
CI_METHODS: tuple[str, ...] = ("logit", "likelihood", "asin", "beta", "mean", "xlogit", "wilson")
FloatArray = NDArray[np.float64]

# NCHS Data Presentation Standards for Proportions: flag below these
MIN_DF = 8
MIN_EFFECTIVE_N = 30


@dataclass(frozen=True)
class ProportionInterval:
    """A proportion with its interval; ``flags`` name NCHS reliability problems.

    There is deliberately no pass/fail here: the recognition decision is
    :class:`analysis.recognition.RecognitionRule` ("met" when the one-sided (1 − α)
    lower bound, the lower end of the two-sided 1 − 2α interval, is ≥ the threshold;
    equivalently ``p_value`` ≤ α).
    """

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


def _t(q: float, df: float) -> float:
    return float(special.stdtrit(df, q)) if math.isfinite(df) else float(special.ndtri(q))


def _t_upper(x: float, df: float) -> float:
    """P(T > x) for Student's t with ``df`` (scipy's ``t.sf``, which is this call)."""
    return float(special.stdtr(df, -x))


def _t_density_at_zero(df: FloatArray) -> FloatArray:
    """Student's t density at 0, Γ((df+1)/2) / (√(df π) Γ(df/2)), computed as scipy's
    ``t.pdf`` computes it (``poch`` keeps the ratio of gammas exact at large df)."""
    log_density = np.log(special.poch(0.5 * df, 0.5)) - 0.5 * (np.log(df) + np.log(np.pi))
    return np.asarray(np.exp(log_density), dtype=np.float64)


def _kg_factor(a: FloatArray, n: FloatArray, df: FloatArray) -> FloatArray:
    """(t_{n−1}(α)/t_df(α))², R's Korn–Graubard df adjustment (limit at α = ½)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = (special.stdtrit(n - 1, a) / special.stdtrit(df, a)) ** 2
    half = np.abs(a - 0.5) < 1e-9
    if half.any():
        factor[half] = (_t_density_at_zero(df[half]) / _t_density_at_zero(n[half] - 1)) ** 2
    return np.asarray(factor, dtype=np.float64)


def _korn_graubard(
    p: FloatArray,
    var: FloatArray,
    n: FloatArray,
    df: FloatArray,
    alpha: float,
    threshold: float | None,
    nchs: bool,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Korn–Graubard bounds at level 1 − 2α and p-values, for arrays (n ≥ 2, df > 0).

    p̂ = 0 or 1 (or no variance): n_eff = n·min((t_{n−1}/t_df)², 1) (NCHS). The p-value
    is the α where the lower bound meets the threshold: bisection on
    α ↦ α − I_threshold(x(α), n_eff(α) − x(α) + 1), which is increasing.
    """
    degenerate = (p <= 0) | (p >= 1) | (var <= 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        base = np.where(degenerate, n, p * (1 - p) / var)

    def n_eff_at(a: FloatArray) -> FloatArray:
        factor = _kg_factor(a, n, df)
        kg = base * factor
        return np.where(degenerate, n * np.minimum(factor, 1.0), np.minimum(kg, n) if nchs else kg)

    m = n_eff_at(np.full(p.shape, alpha))
    x = p * m
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, special.betaincinv(x, m - x + 1, alpha), 0.0)
        high = np.where(x < m, special.betaincinv(x + 1, m - x, 1 - alpha), 1.0)
    if threshold is None:
        return low, high, np.full(p.shape, np.nan)
    at = min(max(threshold, 0.0), 1.0)
    cdf_of_zero = 1.0 if threshold > 0 else 0.0  # x = 0: the lower bound is 0

    def excess(a: FloatArray) -> FloatArray:
        m = n_eff_at(a)
        x = p * m
        with np.errstate(invalid="ignore", divide="ignore"):
            cdf = np.where(x > 0, special.betainc(x, m - x + 1, at), cdf_of_zero)
        return a - cdf

    lo_a, hi_a = np.full(p.shape, 1e-15), np.full(p.shape, 1 - 1e-15)
    at_lo, at_hi = excess(lo_a) >= 0, excess(hi_a) <= 0
    for _ in range(60):
        mid = 0.5 * (lo_a + hi_a)
        up = excess(mid) > 0
        hi_a = np.where(up, mid, hi_a)
        lo_a = np.where(up, lo_a, mid)
    p_value = np.where(at_lo, 1e-15, np.where(at_hi, 1.0, 0.5 * (lo_a + hi_a)))
    if not 0 < threshold < 1:  # only p̂ = 0 or 1 keeps the root; others, as every method
        p_value = np.where(degenerate, p_value, 0.0 if threshold <= 0 else 1.0)
    return low, high, p_value


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
    low, high, p_value, n_eff = (
        float(v)
        for v in interval_arrays(
            estimate, se, n, df, method=method, level=level, threshold=threshold, nchs=nchs
        )
    )
    p, nan = float(estimate), math.nan
    if n == 0 or not math.isfinite(p):
        return ProportionInterval(
            nan, nan, nan, nan, level, method, int(df), 0, 0.0, nan, threshold, False, ("no_data",)
        )
    flags = ["df_below_8"] if df < MIN_DF else []
    if df <= 0 or n < 2:
        flags.append("no_variance")
    elif (math.isfinite(n_eff) and n_eff < MIN_EFFECTIVE_N) or n < MIN_EFFECTIVE_N:
        flags.append("n_eff_below_30")
    degenerate = p <= 0 or p >= 1 or float(se) ** 2 <= 0
    return ProportionInterval(
        p,
        float(se),
        low,
        high,
        level,
        method,
        int(df),
        n,
        n_eff,
        p_value,
        threshold,
        degenerate,
        tuple(flags),
    )


def interval_arrays(
    estimate: ArrayLike,
    se: ArrayLike,
    n: ArrayLike,
    df: ArrayLike,
    *,
    method: CIMethod = "beta",
    level: float = 0.95,
    threshold: float | None = None,
    nchs: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """:func:`proportion_interval` over (broadcast) arrays: ci_low, ci_high, p_value
    and n_eff arrays. Korn–Graubard (``beta``, and every method at p̂ = 0 or 1) is
    vectorised; the other methods go one estimate at a time."""
    if method not in CI_METHODS:
        raise ValueError(f"unknown interval method {method!r}; use one of {CI_METHODS}")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (estimate, se, n, df)))
    shape = arrays[0].shape
    p, s, nn, dd = (a.ravel() for a in arrays)
    var, alpha = s**2, (1 - level) / 2
    no_data = (nn == 0) | ~np.isfinite(p)
    ok = ~no_data & (dd > 0) & (nn >= 2)
    degenerate = ok & ((p <= 0) | (p >= 1) | (var <= 0))
    low, high, p_value = (np.full(p.shape, np.nan) for _ in range(3))
    kg = ok if method == "beta" else degenerate
    if kg.any():
        low[kg], high[kg], p_value[kg] = _korn_graubard(
            p[kg], var[kg], nn[kg], dd[kg], alpha, threshold, nchs
        )
    for i in np.flatnonzero(ok & ~kg):
        low[i], high[i], p_value[i] = _interval(
            float(p[i]), float(var[i]), int(nn[i]), float(dd[i]), alpha, method, threshold
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(var > 0, p * (1 - p) / var, np.nan)
    if degenerate.any():
        a = np.full(int(degenerate.sum()), alpha)
        n_eff[degenerate] = nn[degenerate] * np.minimum(
            _kg_factor(a, nn[degenerate], dd[degenerate]), 1.0
        )
    if nchs:
        n_eff = np.where(ok & np.isfinite(n_eff), np.minimum(n_eff, nn), n_eff)
    n_eff[no_data] = 0.0
    return low.reshape(shape), high.reshape(shape), p_value.reshape(shape), n_eff.reshape(shape)


def _interval(
    p: float,
    var: float,
    n: int,
    df: float,
    alpha: float,
    method: str,
    threshold: float | None,
) -> tuple[float, float, float]:
    """One estimate by a method other than ``beta`` (0 < p̂ < 1, Var > 0)."""
    q, se = 1 - p, math.sqrt(var)
    t = -_t(alpha, df)
    p_value = math.nan
    has_t = threshold is not None and 0 < threshold < 1
    if method == "mean":
        low, high = p - t * se, p + t * se
        if has_t:
            p_value = _t_upper((p - threshold) / se, df)  # type: ignore[operator]
    elif method in ("logit", "xlogit"):
        eta, se_eta = math.log(p / q), se / (p * q)
        low, high = _expit(eta - t * se_eta), _expit(eta + t * se_eta)
        if has_t:
            stat = (eta - math.log(threshold / (1 - threshold))) / se_eta  # type: ignore[operator]
            p_value = _t_upper(stat, df)
    elif method == "asin":
        eta, se_eta = math.asin(math.sqrt(p)), se / (2 * math.sqrt(p * q))
        low = math.sin(max(eta - t * se_eta, 0.0)) ** 2
        high = math.sin(min(eta + t * se_eta, math.pi / 2)) ** 2
        if has_t:
            stat = (eta - math.asin(math.sqrt(threshold))) / se_eta  # type: ignore[arg-type]
            p_value = _t_upper(stat, df)
    elif method == "wilson":
        z = float(special.ndtri(1 - alpha))
        m = p * q / var
        centre = (p + z * z / (2 * m)) / (1 + z * z / m)
        half = z / (1 + z * z / m) * math.sqrt(p * q / m + z * z / (4 * m * m))
        low, high = centre - half, centre + half
        if has_t:
            stat = (p - threshold) / math.sqrt(threshold * (1 - threshold) / m)  # type: ignore[operator]
            p_value = float(special.ndtr(-stat))
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
        from scipy import optimize  # only this method needs it: no import at start-up

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
        p_value = _t_upper(signed, df)
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
    low, high, p_value, _ = interval_arrays(
        estimate, se, n, df, method=method, level=level, threshold=threshold, nchs=nchs
    )
    return low, high, p_value
