"""All-top vectors ("100% correct"): more respondents answering 满意 to everything than
the rest of the cell and the school's other groups make plausible.

A very satisfied school has many all-top respondents, and so does a school where
parents copied an all-top "standard answer"; the difference is the rest.  In the good
school the cell's other respondents are nearly all-top too, and so are its students
and teachers; in the coached one they look like any school.  What is counted is the
*complete* all-top answers: every item of the questionnaire answered 满意.  A posted
"standard answer" has an answer for every item, while an honest respondent says 不了解
to what he does not know, so an honest all-top answer with a don't-know is not
counted (it is still evidence of the school's level, below).  Model: a respondent's
number t of top answers among its a answered items is Binomial(a, logistic(θ)) with
θ ~ N(μ − β·σ²·d, σ²) for the cell's respondents, d the respondent's missing items
(unanswered or 不了解) and β the county group's tilt (those who skip items may be
less, or more, satisfied than those who answer all: if the odds of a don't-know go
with exp(−β·θ), the level of those with d of them is lower by β·σ²·d; β is estimated
from the group's largest cells, :func:`_missing_item_tilt`).  Both μ and σ are the
cell's own (schools differ in spread as well as in level: with one σ for all schools a
polarised school looked coached), learnt from every respondent except the complete
all-top ones (a truncated likelihood for the complete answers), so copies cannot move
them.
Priors: σ, the county group's distribution of school spreads (EM on a grid over the
group's cells, each cell's own share left out); μ, a Student-t around the level the
school's *other* groups show (see :func:`_level_prior`), or flat over a wide grid
where the school has no other examined group (a good school is never pulled toward
the county's average).  The p-value is the partial posterior predictive probability
(Bayarri and Berger 2000) of at least the observed count of complete all-top answers
among the cell's complete answers: Σ over the (μ, σ) grid of posterior × Binomial
tail.  The rest of a cell must look ordinary for a spike of all-top vectors to stand
out, so a small cell, or one of a school that is very satisfied throughout, is not
flagged by this test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy import stats
from scipy.special import bdtr, bdtrc, expit, gammaln, logsumexp

from analysis.integrity.layout import row_ids

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
MU_STEP = 0.1
MU_GRID = np.arange(-6.0, 12.0 + 1e-9, MU_STEP)
SIGMA_GRID = np.arange(0.4, 3.2 + 1e-9, 0.3)
NODES, NODE_WEIGHTS = np.polynomial.hermite_e.hermegauss(32)
LOG_NODE_WEIGHTS = np.log(NODE_WEIGHTS / NODE_WEIGHTS.sum())
EXPECTED_QUANTILE = 0.99
NEGLIGIBLE_POSTERIOR = 1e-12
EM_ITERATIONS = 60
LEVEL_DF = 10  # t tails: heavier than normal (a school whose groups differ a lot)
MIN_SCHOOLS_FOR_LEVEL = 10  # pairs of groups of one school, to estimate τ_u and τ_e
MIN_GROUP_EFFECT_VARIANCE = 0.05  # τ_e at least 0.22: groups of one school differ
Q_STEP = 0.05  # logit units
Q_BINS = 800  # |logit| ≤ 40
PRIOR_FLOOR = 1e-6  # no school spread on the grid is ruled out entirely
# β, the level's tilt per missing item (× σ²), searched on this grid
TILT_STEP = 0.02
TILTS = np.round(np.arange(-30, 31) * TILT_STEP, 2)
TILT_CELLS = 200  # a county group's largest cells estimate its β


@dataclass(frozen=True, eq=False)
class TopExcessResult:
    """Per cell: p-value, complete all-top answers, complete answers (``eligible``), 99%
    predictive quantile of the first; per county group, β (the level's tilt per missing
    item: μ − β·σ²·d)."""

    p_value: FloatArray
    all_top: NDArray[np.int64]
    eligible: NDArray[np.int64]
    expected_max: NDArray[np.int64]
    missing_item_tilt: FloatArray


def top_excess_test(
    answered: NDArray[np.int64],
    top: NDArray[np.int64],
    row_cell: IntArray,
    cell_county: IntArray,
    cell_school: IntArray,
    examined: NDArray[np.bool_],
    min_items: int,
) -> TopExcessResult:
    """The all-top test of every examined cell; rows need ``min_items`` answered items.
    ``cell_school`` (cells,) links the cells of one school (its other groups)."""
    n_cells = cell_county.shape[0]
    eligible = answered >= min_items
    cell, a, t = row_cell[eligible], answered[eligible], top[eligible]
    group = cell_county[cell]
    group_items = np.zeros(int(cell_county.max()) + 1 if n_cells else 0, dtype=np.int64)
    np.maximum.at(group_items, group, a)  # the questionnaire's items, as answered
    missing = group_items[group] - a
    complete = missing == 0
    all_top = np.bincount(cell[complete & (t == a)], minlength=n_cells).astype(np.int64)
    n_complete = np.bincount(cell[complete], minlength=n_cells).astype(np.int64)
    p_value = np.ones(n_cells)
    expected = n_complete.copy()
    these = np.flatnonzero(examined & (n_complete > 0))
    if these.size == 0:
        return TopExcessResult(p_value, all_top, n_complete, expected, np.zeros(group_items.size))
    k = int(a.max())
    local = np.full(n_cells, -1, dtype=np.intp)
    local[these] = np.arange(these.shape[0])
    used = (local[cell] >= 0) & ~(complete & (t == a))
    # rows alike for the likelihood, (a, t, d, county group), and each cell's count of each
    kind_rows = np.column_stack([a[used], t[used], missing[used], group[used]])
    kind_of_row = row_ids(kind_rows)
    n_kinds = int(kind_of_row.max()) + 1 if kind_of_row.size else 0
    first = np.zeros(n_kinds, dtype=np.intp)
    first[kind_of_row] = np.arange(kind_of_row.shape[0])
    kinds = kind_rows[first]
    counts = sp.csr_matrix(
        (np.ones(kind_of_row.shape[0]), (local[cell[used]], kind_of_row)),
        shape=(these.shape[0], n_kinds),
    )
    county = cell_county[these]
    # per σ, each kind's log-likelihood on the μ grid: for β, then for the cells
    logliks = [_kind_loglik(*_tables(k, float(sigma)), kinds) for sigma in SIGMA_GRID]
    tilt = np.zeros(group_items.size)
    tilt[: int(county.max()) + 1] = _missing_item_tilt(
        counts, kinds, county, n_complete[these], logliks
    )
    kind_tilt = tilt[kinds[:, 3]] * kinds[:, 2]
    n = n_complete[these].astype(np.float64)
    # (σ, cell, μ): log-likelihood of the respondents used, P(complete all-top vector)
    truncated = np.empty((SIGMA_GRID.shape[0], these.shape[0], MU_GRID.shape[0]))
    share = np.empty_like(truncated)
    items = group_items[county]
    for s, (sigma, loglik) in enumerate(zip(SIGMA_GRID, logliks, strict=True)):
        lagged = _lag_index(_lag(kind_tilt, float(sigma)))
        truncated[s] = counts @ np.take_along_axis(loglik, lagged, axis=1)
        share[s] = np.exp(_tables(k, float(sigma))[0][items, items])
    hits_all = all_top[these][None, :, None].astype(np.float64)
    full = truncated + _bernoulli_loglik(hits_all, n[None, :, None], share)
    log_prior = _sigma_prior(full, cell_county[these])  # (cells, σ)
    log_level = _level_prior(full, log_prior, cell_school[these], cell_county[these])
    log_post = truncated + np.transpose(log_prior)[:, :, None] + log_level[None, :, :]
    post = np.exp(log_post - log_post.max(axis=(0, 2), keepdims=True))
    post[post < NEGLIGIBLE_POSTERIOR] = 0.0
    post /= post.sum(axis=(0, 2), keepdims=True)
    s_idx, c_idx, m_idx = np.nonzero(post)
    # P(all-top) rounded *up* on a logit grid of step Q_STEP: few distinct values per
    # cell, and a larger probability only makes the upper tail larger (safe side)
    with np.errstate(divide="ignore"):
        logit = np.log(share[s_idx, c_idx, m_idx]) - np.log1p(-share[s_idx, c_idx, m_idx])
    q_bin = np.clip(np.ceil(logit / Q_STEP), -Q_BINS, Q_BINS).astype(np.int64) + Q_BINS
    key, inverse = np.unique(c_idx.astype(np.int64) * (2 * Q_BINS + 1) + q_bin, return_inverse=True)
    weight = np.bincount(inverse.ravel(), weights=post[s_idx, c_idx, m_idx]).astype(np.float64)
    c_idx = (key // (2 * Q_BINS + 1)).astype(np.intp)
    q = expit((key % (2 * Q_BINS + 1) - Q_BINS) * Q_STEP)
    hits = all_top[these][c_idx]
    size = n_complete[these][c_idx]
    tail = np.bincount(c_idx, weights=weight * bdtrc(hits - 1, size, q), minlength=these.size)
    p_value[these] = np.clip(tail, 0.0, 1.0)
    expected[these] = _predictive_quantile(c_idx, weight, size, q, n_complete[these])
    return TopExcessResult(p_value, all_top, n_complete, expected, tilt)


def _kind_loglik(log_p: FloatArray, log_below: FloatArray, kinds: NDArray[np.int64]) -> FloatArray:
    """log P(t | a, μ) of each kind (a, t, d, group) on the μ grid, (kinds, μ): a complete
    answer's truncated to below all-top (complete all-top answers are not used)."""
    out = log_p[kinds[:, 0], kinds[:, 1]]
    return out - np.where((kinds[:, 2] == 0)[:, None], log_below[kinds[:, 0]], 0.0)


def _lag(tilt_times_d: FloatArray, sigma: float) -> NDArray[np.int64]:
    """β·σ²·d in MU_STEPs, rounded: how far below the cell's μ a row's level lies."""
    return np.rint(tilt_times_d * sigma**2 / MU_STEP).astype(np.int64)


def _lag_index(lag: NDArray[np.int64]) -> IntArray:
    """Per row, the μ-grid index i − lag (clipped to the grid): the likelihood of a
    respondent whose level is μ − lag·MU_STEP, read at the cell's μ."""
    m = MU_GRID.shape[0]
    return np.clip(np.arange(m)[None, :] - lag[:, None], 0, m - 1).astype(np.intp)


def _missing_item_tilt(
    counts: sp.csr_matrix,
    kinds: NDArray[np.int64],
    county: IntArray,
    n_complete: NDArray[np.int64],
    logliks: list[FloatArray],
) -> FloatArray:
    """Per county group, β on the grid ``TILTS``: the level of a respondent with d
    missing items is μ − β·σ²·d.  Maximum marginal likelihood (flat over the (σ, μ)
    grid) on the group's ``TILT_CELLS`` largest cells (``logliks``: per σ of
    ``SIGMA_GRID``, the kinds' :func:`_kind_loglik`); the complete all-top answers,
    where copies would be, do not enter it.  With don't-knows independent of
    satisfaction β is 0; when the less satisfied say 不了解 more often, ignoring β
    would put the complete answerers' level too low and honest all-top answers would
    look like copies."""
    out = np.zeros(int(county.max()) + 1)
    missing = kinds[:, 2]
    for g in np.unique(county).tolist():
        d_values = np.unique(missing[(kinds[:, 3] == g) & (missing > 0)]).tolist()
        if not d_values:
            continue
        cells = np.flatnonzero(county == g)
        cells = cells[np.argsort(-n_complete[cells], kind="stable")[:TILT_CELLS]]
        mine = counts[cells]
        # per σ, each cell's log-likelihood (cells, μ) of its rows with d missing items
        by_d = [
            (sigma, {d: mine[:, missing == d] @ loglik[missing == d] for d in [0, *d_values]})
            for sigma, loglik in zip(SIGMA_GRID.tolist(), logliks, strict=True)
        ]
        out[g] = _grid_maximum(partial(_tilt_log_marginal, by_d, d_values))
    return out


def _tilt_log_marginal(
    by_d: list[tuple[float, dict[int, FloatArray]]], d_values: list[int], beta: float
) -> float:
    """Σ over cells of log Σ over the (σ, μ) grid of the likelihood at tilt β; ``by_d``
    holds per σ each cell's log-likelihood on the μ grid of its rows with d missing."""
    d_array = np.array(d_values, dtype=np.float64)
    per_sigma = []
    for sigma, parts in by_d:
        acc = parts[0].copy()
        for d, index in zip(d_values, _lag_index(_lag(beta * d_array, sigma)), strict=True):
            acc += parts[d][:, index]
        top = acc.max(axis=1, keepdims=True)
        per_sigma.append(top[:, 0] + np.log(np.exp(acc - top).sum(axis=1)))
    return float(np.logaddexp.reduce(np.array(per_sigma), axis=0).sum())


def _grid_maximum(objective: Callable[[float], float]) -> float:
    """The β of ``TILTS`` with the largest objective, searched coarse (every fifth) then
    fine around the best; ties go to the β nearest 0."""
    coarse = TILTS[np.round(TILTS / TILT_STEP).astype(np.int64) % 5 == 0]
    value = {float(b): objective(float(b)) for b in coarse}
    best = max(value, key=lambda b: (value[b], -abs(b)))
    for b in TILTS[np.abs(TILTS - best) < 5 * TILT_STEP - 1e-9].tolist():
        if b not in value:
            value[b] = objective(b)
    return max(value, key=lambda b: (value[b], -abs(b)))


def _sigma_prior(full: FloatArray, county: IntArray) -> FloatArray:
    """log prior weights over ``SIGMA_GRID`` per cell, (cells, σ): the county group's
    distribution of school spreads, by EM (nonparametric maximum likelihood on the
    grid, flat in μ) on the cells' whole answers, leaving each cell's own share out."""
    marginal = logsumexp(full, axis=2).T  # (cells, σ)
    likelihood = np.exp(marginal - marginal.max(axis=1, keepdims=True))
    out = np.empty_like(marginal)
    for g in np.unique(county).tolist():
        rows = county == g
        m = int(rows.sum())
        lik = likelihood[rows]
        w = np.full(SIGMA_GRID.shape[0], 1 / SIGMA_GRID.shape[0])
        resp = np.zeros_like(lik)
        for _ in range(EM_ITERATIONS):
            resp = lik * w
            resp /= resp.sum(axis=1, keepdims=True)
            w = np.maximum(resp.mean(axis=0), PRIOR_FLOOR)
            w /= w.sum()
        own = (m * w - resp) / (m - 1) if m > 1 else np.broadcast_to(w, resp.shape)
        own = np.maximum(own, PRIOR_FLOOR)
        out[rows] = np.log(own / own.sum(axis=1, keepdims=True))
    return out


def _level_prior(
    full: FloatArray, log_sigma_prior: FloatArray, school: IntArray, county: IntArray
) -> FloatArray:
    """log prior over ``MU_GRID`` per cell, (cells, μ): where the school has other examined
    groups, a Student-t (``LEVEL_DF`` df) around the level they predict; elsewhere flat.

    A school is good or poor for all its groups (parents, students, teachers) up to a
    school × group effect; a very satisfied school is so in its other groups too, while
    a cell of an ordinary school whose parents copied an all-top answer is not.  Each
    cell's level μ̂ is its posterior mean under a flat prior (whole answers);
    with group medians m_g, residuals r = μ̂ − m_g, between-school variance τ_u² and
    school × group variance τ_e² from robust (MAD) moments of r and of the differences
    between two groups of one school, the prior of a cell is centred at
    m_g + B·mean(other groups' r), B = τ_u² / (τ_u² + (τ_e² + v̄)/k), with scale²
    τ_e² + B(τ_e² + v̄)/k (k other groups, v̄ their posterior variance).  The t tails
    keep a school whose parents are much happier than its students from being flagged."""
    log_post = full + np.transpose(log_sigma_prior)[:, :, None]
    post = np.exp(log_post - log_post.max(axis=(0, 2), keepdims=True))
    post /= post.sum(axis=(0, 2), keepdims=True)
    weight = post.sum(axis=0)  # (cells, μ)
    level = weight @ MU_GRID
    variance = np.maximum(weight @ MU_GRID**2 - level**2, 1e-4)
    out = np.zeros_like(weight)
    centre_g = np.zeros(int(county.max()) + 1)
    for g in np.unique(county).tolist():
        centre_g[g] = float(np.median(level[county == g]))
    residual = level - centre_g[county]
    order = np.argsort(school, kind="stable")
    starts = np.flatnonzero(np.r_[True, school[order][1:] != school[order][:-1]])
    groups = np.split(order, starts[1:])
    pairs = [(i, j) for members in groups for i in members for j in members if i < j]
    if len(pairs) < MIN_SCHOOLS_FOR_LEVEL:
        return out
    first, second = np.array(pairs).T
    difference = residual[first] - residual[second]
    total = _robust_variance(residual) - float(np.median(variance))
    within = (
        _robust_variance(difference) - float(np.median(variance[first] + variance[second]))
    ) / 2
    within = max(within, MIN_GROUP_EFFECT_VARIANCE)
    between = max(total - within, 0.0)
    # per cell, the mean residual and posterior variance of the school's *other* cells
    n_schools = int(school.max()) + 1
    size = np.bincount(school, minlength=n_schools)[school]
    has_others = np.flatnonzero(size >= 2)
    k = (size[has_others] - 1).astype(np.float64)
    school_sum = np.bincount(school, weights=residual, minlength=n_schools)
    school_var = np.bincount(school, weights=variance, minlength=n_schools)
    residual_others = (school_sum[school[has_others]] - residual[has_others]) / k
    variance_others = (school_var[school[has_others]] - variance[has_others]) / k
    noise = within + variance_others
    shrink = between / (between + noise / k) if between > 0 else np.zeros_like(k)
    centre = centre_g[county[has_others]] + shrink * residual_others
    scale = np.sqrt(within + shrink * noise / k)
    out[has_others] = stats.t.logpdf(
        MU_GRID[None, :], LEVEL_DF, loc=centre[:, None], scale=scale[:, None]
    )
    return out


def _robust_variance(x: FloatArray) -> float:
    """(1.4826 · MAD)²: the variance of the bulk, unmoved by a few coached cells."""
    return float((1.4826 * np.median(np.abs(x - np.median(x)))) ** 2)


def _predictive_quantile(
    c_idx: IntArray,
    weight: FloatArray,
    size: NDArray[np.int64],
    q: FloatArray,
    n: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Per cell, the smallest x with predictive P(count ≤ x) ≥ ``EXPECTED_QUANTILE``."""
    low = np.zeros(n.shape[0], dtype=np.int64)
    high = n.astype(np.int64).copy()
    while np.any(low < high):
        mid = (low + high) // 2
        cdf = np.bincount(c_idx, weights=weight * bdtr(mid[c_idx], size, q), minlength=n.size)
        ok = cdf >= EXPECTED_QUANTILE
        high = np.where(ok, mid, high)
        low = np.where(ok, low, mid + 1)
    return low


def _bernoulli_loglik(hits: FloatArray, n: FloatArray, share: FloatArray) -> FloatArray:
    """log-likelihood of ``hits`` all-top vectors among n at probability ``share``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = hits * np.log(share) + (n - hits) * np.log1p(-share)
    return np.where(np.isnan(out), 0.0, out)


@lru_cache(maxsize=128)
def _tables(k: int, sigma: float) -> tuple[FloatArray, FloatArray]:
    """log P(t | a, μ) on the μ grid, (k+1, k+1, grid), and log P(t < a | a, μ), (k+1, grid)
    (Gauss–Hermite over θ ~ N(μ, σ²); one a at a time to keep memory small)."""
    theta = MU_GRID[:, None] + sigma * NODES[None, :]
    log_yes = np.log(expit(theta))
    log_no = np.log(expit(-theta))
    log_p = np.full((k + 1, k + 1, MU_GRID.shape[0]), -np.inf)
    log_below = np.full((k + 1, MU_GRID.shape[0]), -np.inf)
    for a in range(k + 1):
        t = np.arange(a + 1)
        log_comb = gammaln(a + 1) - gammaln(t + 1) - gammaln(a - t + 1)
        terms = (
            log_comb[:, None, None]
            + t[:, None, None] * log_yes[None]
            + (a - t)[:, None, None] * log_no[None]
            + LOG_NODE_WEIGHTS[None, None, :]
        )
        log_p[a, : a + 1] = np.logaddexp.reduce(terms, axis=2)
        if a > 0:
            log_below[a] = np.logaddexp.reduce(log_p[a, :a], axis=0)
    log_p.flags.writeable = False  # kept by the cache: shared by every later call
    log_below.flags.writeable = False
    return log_p, log_below
