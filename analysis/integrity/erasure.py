"""Erased dissatisfaction: the lower options (codes 1..scale_max−2: 不满意, 基本满意) missing
or nearly so, beyond what the respondents' other answers predict.

A very satisfied school also has few low answers, so the comparison is made
respondent by respondent.  A respondent with a answered items of which t are the top
code has a − t answers below the top; how many of those are low depends on how
satisfied the respondent is, and t measures that.  The reference for each respondent
is the distribution of low answers among the respondents *of the other schools* of
the same stratum and group with the same (a, t) (plus two pseudo-respondents from the
county group's, or a binomial at the county's rate where the county has none, and a
tenth of a pseudo-respondent spread evenly over 0..a−t).  The statistic is the cell's
number L of low answers; under the null it is the sum of the respondents' independent
reference counts, *tilted* by the school's own odds multiplier r of a further low
answer (schools differ a little beyond their level: a canteen item, a head teacher).
log r ~ N(centre, τ²): the centre follows the school's level (a Theil–Sen line of the
cells' fitted tilts on the logit of their top share: a good school's respondents with
the same t are a shade more satisfied), τ is the robust spread of the tilts around it
(at least ``MIN_SPREAD``).  The p-value P(L' ≤ L) averages the tilted tails over 15
Gauss–Hermite nodes; each tail is exact (one convolution, re-weighted per node) for
L ≤ ``EXACT_UP_TO``, normal above; a cell with at least the expected count gets 1.
``low_expected`` is the mean at the centre tilt, ``low_expected_min`` the normal 1%
quantile of the mixture.  Calibrated on clean simulated counties in
``bench/integrity.py`` (including a stress county with strong school × item effects).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
PSEUDO_RESPONDENTS = 2.0
# every count 0..a−t keeps some probability: an empty corner of a sparse bin must not
# make a respondent's own answer impossible (p = 0)
UNIFORM_PSEUDO = 0.1
EXACT_UP_TO = 150
EXPECTED_QUANTILE = 0.01
TILT_GRID = np.linspace(-6.0, 6.0, 121)  # log r; the middle point is r = 1
MIN_SPREAD = 0.25
DEFAULT_SPREAD = 0.5  # a county group with too few cells to estimate its spread
MIN_CELLS_FOR_TILT = 8
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(15)
NODES = _NODES
NODE_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


@dataclass(frozen=True, eq=False)
class ErasureResult:
    """Per cell: p-value, low and substantive answer counts, their expectation."""

    p_value: FloatArray
    low_answers: NDArray[np.int64]
    answers: NDArray[np.int64]
    low_expected: FloatArray
    low_expected_min: NDArray[np.int64]
    stratum_low_share: FloatArray


def erasure_test(
    answered: NDArray[np.int64],
    top: NDArray[np.int64],
    low: NDArray[np.int64],
    row_cell: IntArray,
    cell_pool: IntArray,
    cell_county: IntArray,
    examined: NDArray[np.bool_],
    k: int,
) -> ErasureResult:
    n_cells = cell_pool.shape[0]
    n_pools = int(cell_pool.max()) + 1 if n_cells else 0
    n_counties = int(cell_county.max()) + 1 if n_cells else 0
    size = k + 1
    rest = answered - top
    informative = rest > 0
    # counts[unit, a, t, L] flattened; unit = pool, county or cell
    bin_index = (answered * size + top) * size + low

    def table(unit: IntArray, n_units: int) -> FloatArray:
        flat = unit[informative] * size**3 + bin_index[informative]
        counts = np.bincount(flat, minlength=n_units * size**3).astype(np.float64)
        return counts.reshape(n_units, size, size, size)

    pool_counts = table(cell_pool[row_cell], n_pools)
    county_counts = table(cell_county[row_cell], n_counties)
    cell_low = np.bincount(row_cell, weights=low, minlength=n_cells).astype(np.int64)
    cell_answers = np.bincount(row_cell, weights=answered, minlength=n_cells).astype(np.int64)
    pool_low = np.bincount(cell_pool, weights=cell_low, minlength=n_pools)
    pool_answers = np.bincount(cell_pool, weights=cell_answers, minlength=n_pools)
    with np.errstate(invalid="ignore", divide="ignore"):
        stratum_low_share = (pool_low[cell_pool] - cell_low) / (
            pool_answers[cell_pool] - cell_answers
        )
    # the county group's share of low answers among answers below the top (fallback)
    rest_answers = np.bincount(cell_county[row_cell], weights=rest, minlength=n_counties)
    low_answers = np.bincount(cell_county[row_cell], weights=low, minlength=n_counties)
    county_rate = np.where(rest_answers > 0, low_answers / np.maximum(rest_answers, 1), 0.5)
    p_value = np.ones(n_cells)
    expected = np.zeros(n_cells)
    rows = np.flatnonzero(examined[row_cell] & informative)
    order = rows[np.argsort(row_cell[rows], kind="stable")]
    bounds = np.searchsorted(row_cell[order], np.arange(n_cells + 1))
    references: dict[int, FloatArray] = {}
    means: dict[int, FloatArray] = {}
    variance = np.zeros(n_cells)
    log_tilt = np.zeros(n_cells)
    for c in np.flatnonzero(examined).tolist():
        mine = order[bounds[c] : bounds[c + 1]]
        if mine.size == 0:
            continue
        pmf = _reference(
            pool_counts[cell_pool[c]],
            county_counts[cell_county[c]],
            float(county_rate[cell_county[c]]),
            answered[mine],
            top[mine],
            low[mine],
        )
        references[c] = pmf
        # a row's reference depends on its (a, t) only: each distinct one once, counted
        _, first, count = np.unique(
            answered[mine] * size + top[mine], return_index=True, return_counts=True
        )
        mean, var = _tilted_moments(pmf[first], TILT_GRID, count.astype(np.float64))
        means[c] = mean
        variance[c] = var[TILT_GRID.shape[0] // 2]
        log_tilt[c] = np.interp(cell_low[c], mean, TILT_GRID)
    top_answers = np.bincount(row_cell, weights=top, minlength=n_cells)
    level = np.log((top_answers + 0.5) / (cell_answers - top_answers + 0.5))
    centre, spread = _between_school_tilt(log_tilt, variance, level, cell_county, examined)
    log_r = centre[:, None] + spread[cell_county][:, None] * NODES[None, :]  # (cells, nodes)
    for c, pmf in references.items():
        # the expectation at the cell's predicted tilt (its satisfaction level)
        expected[c] = float(np.interp(centre[c], TILT_GRID, means[c]))
        observed = int(cell_low[c])
        if observed < expected[c]:
            p_value[c] = _mixed_lower_tail(pmf, observed, log_r[c], NODE_WEIGHTS)
    sd = np.sqrt(variance + (variance * spread[cell_county]) ** 2) if n_cells else variance
    with np.errstate(invalid="ignore"):
        lowest = np.floor(stats.norm.ppf(EXPECTED_QUANTILE, expected, np.maximum(sd, 1e-12)))
    expected_min = np.where(examined, np.maximum(0, np.nan_to_num(lowest)), 0).astype(np.int64)
    return ErasureResult(
        p_value=p_value,
        low_answers=cell_low,
        answers=cell_answers,
        low_expected=expected,
        low_expected_min=expected_min,
        stratum_low_share=stratum_low_share,
    )


def _reference(
    pool: FloatArray,
    county: FloatArray,
    county_rate: float,
    answered: NDArray[np.int64],
    top: NDArray[np.int64],
    low: NDArray[np.int64],
) -> FloatArray:
    """Each row's reference distribution of low answers, (rows, k+1), leaving out the
    cell's own rows (they are in ``pool`` and ``county``)."""
    own = np.zeros_like(pool)
    np.add.at(own, (answered, top, low), 1.0)
    pool_rows = (pool - own)[answered, top]
    county_rows = (county - own)[answered, top]
    county_total = county_rows.sum(axis=1, keepdims=True)
    rest = answered - top
    values = np.arange(pool.shape[2])
    with np.errstate(invalid="ignore", divide="ignore"):
        prior = county_rows / county_total
    empty = county_total[:, 0] == 0
    if empty.any():
        prior[empty] = stats.binom.pmf(values[None, :], rest[empty, None], county_rate)
    possible = values[None, :] <= rest[:, None]
    uniform = possible / (rest[:, None] + 1.0)
    pmf = pool_rows + PSEUDO_RESPONDENTS * prior + UNIFORM_PSEUDO * uniform
    pmf[~possible] = 0.0
    return pmf / pmf.sum(axis=1, keepdims=True)


def _tilted_moments(
    pmf: FloatArray, log_r: FloatArray, count: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Mean and variance of the cell's sum of low answers when every respondent's odds of
    each further low answer are multiplied by r = exp(log_r) (exponential tilting);
    ``count``: how many respondents have each row of ``pmf`` (one each if None)."""
    values = np.arange(pmf.shape[1], dtype=np.float64)
    power = np.exp(np.outer(values, log_r))  # (k+1, nodes)
    m0 = pmf @ power
    m1 = pmf @ (values[:, None] * power)
    m2 = pmf @ (values[:, None] ** 2 * power)
    mean = m1 / m0
    variance = m2 / m0 - mean**2
    if count is None:
        return mean.sum(axis=0), variance.sum(axis=0)
    return count @ mean, count @ variance


def _between_school_tilt(
    log_tilt: FloatArray,
    variance: FloatArray,
    level: FloatArray,
    county: IntArray,
    examined: NDArray[np.bool_],
) -> tuple[FloatArray, FloatArray]:
    """Per cell the expected log r, and per county group τ, the SD of log r between
    schools; r is a school's own odds multiplier of low answers given t.

    Satisfied schools' respondents with the same t are a little more satisfied than
    the stratum's (the school's level acts as a prior), so log r falls with the
    school's level: a Theil–Sen line of the cells' tilt estimates on the logit of
    their top share (robust to the coached cells, up to 29% of them).  Each estimate
    has sampling variance ≈ 1/Var(L); τ² is the MAD variance of the residuals minus
    the typical sampling variance, over cells with Var(L) ≥ 4; at least
    ``MIN_SPREAD``."""
    centre = np.zeros(log_tilt.shape[0])
    n_counties = int(county.max()) + 1 if county.size else 0
    spread = np.full(n_counties, DEFAULT_SPREAD)
    for g in range(n_counties):
        use = examined & (county == g) & (variance >= 4)
        if use.sum() < MIN_CELLS_FOR_TILT:
            continue
        x, y = level[use], log_tilt[use]
        slope, intercept, _, _ = stats.theilslopes(y, x)
        slope = min(float(slope), 0.0)  # only the direction the prior effect explains
        intercept = float(np.median(y - slope * x))
        mine = county == g
        centre[mine] = intercept + slope * level[mine]
        residual = y - (intercept + slope * x)
        mad = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
        noise = float(np.median(1 / variance[use]))
        spread[g] = max(MIN_SPREAD, float(np.sqrt(max(mad**2 - noise, 0.0))))
    return centre, spread


def _mixed_lower_tail(
    pmf: FloatArray, observed: int, log_r: FloatArray, weights: FloatArray
) -> float:
    """P(Σ X_i ≤ observed), averaged over the school's tilt r (nodes ``log_r`` with
    ``weights``: Gauss–Hermite for log r ~ N(centre, τ²)).

    Tilting commutes with convolution: P_r(Σ = l) = r^l P_1(Σ = l) / Π_i M_i(r), so one
    untilted convolution (exact up to ``EXACT_UP_TO``) serves every node; above it the
    normal approximation with the tilted mean and variance."""
    if observed <= EXACT_UP_TO:
        dist = np.zeros(observed + 1)
        dist[0] = 1.0
        for row in pmf:
            dist = np.convolve(dist, row)[: observed + 1]
        values = np.arange(pmf.shape[1], dtype=np.float64)
        log_m = np.log(pmf @ np.exp(np.outer(values, log_r))).sum(axis=0)  # (nodes,)
        with np.errstate(divide="ignore"):
            log_dist = np.log(dist)
        levels = np.arange(observed + 1, dtype=np.float64)
        terms = log_dist[:, None] + levels[:, None] * log_r[None, :]
        top = terms.max(axis=0)
        if not np.isfinite(top).all():  # every term underflowed: the tail is 0
            return 0.0
        tails = np.exp(top + np.log(np.exp(terms - top).sum(axis=0)) - log_m)
    else:
        mean, var = _tilted_moments(pmf, log_r)
        tails = stats.norm.cdf(observed + 0.5, mean, np.sqrt(var))
    return float(np.clip(weights @ np.minimum(tails, 1.0), 0.0, 1.0))
