"""All-top vectors ("100% correct"): more respondents answering 满意 to everything than
the rest of the cell and the school's other groups make plausible.

A very satisfied school has many all-top respondents, and so does a school where
parents copied an all-top "standard answer"; the difference is the rest.  In the good
school the cell's other respondents are nearly all-top too, and so are its students
and teachers; in the coached one they look like any school.  Model: a respondent's
number t of top answers among its a answered items is Binomial(a, logistic(θ)) with
θ ~ N(μ, σ²) for the cell's respondents.  Both μ and σ are the cell's own (schools
differ in spread as well as in level: with one σ for all schools a polarised school
looked coached), learnt only from the respondents who are *not* all-top (a truncated
likelihood), so copies cannot move them.  Priors: σ, the county group's distribution
of school spreads (EM on a grid over the group's cells, each cell's own share left
out); μ, a Student-t around the level the school's *other* groups show (see
:func:`_level_prior`), or flat over a wide grid where the school has no other
examined group (a good school is never pulled toward the county's average).  The
p-value is the partial posterior predictive probability (Bayarri and Berger 2000) of
at least the observed all-top count: Σ over the (μ, σ) grid of posterior × Binomial
tail.  The rest of a cell must look ordinary for a spike of all-top vectors to stand
out, so a small cell, or one of a school that is very satisfied throughout, is not
flagged by this test.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy import stats
from scipy.special import bdtr, bdtrc, expit, gammaln, logsumexp

from analysis.integrity.layout import row_ids

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
MU_GRID = np.arange(-6.0, 12.0 + 1e-9, 0.1)
SIGMA_GRID = np.arange(0.4, 3.2 + 1e-9, 0.3)
NODES, NODE_WEIGHTS = np.polynomial.hermite_e.hermegauss(32)
LOG_NODE_WEIGHTS = np.log(NODE_WEIGHTS / NODE_WEIGHTS.sum())
EXPECTED_QUANTILE = 0.99
NEGLIGIBLE_POSTERIOR = 1e-12
EM_ITERATIONS = 60
LEVEL_DF = 4
MIN_SCHOOLS_FOR_LEVEL = 10  # pairs of groups of one school, to estimate τ_u and τ_e
MIN_GROUP_EFFECT_VARIANCE = 0.05  # τ_e at least 0.22: groups of one school differ
Q_STEP = 0.05  # logit units
Q_BINS = 800  # |logit| ≤ 40
PRIOR_FLOOR = 1e-6  # no school spread on the grid is ruled out entirely


@dataclass(frozen=True, eq=False)
class TopExcessResult:
    """Per cell: p-value, all-top count, eligible respondents, 99% predictive quantile."""

    p_value: FloatArray
    all_top: NDArray[np.int64]
    eligible: NDArray[np.int64]
    expected_max: NDArray[np.int64]


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
    all_top = np.bincount(cell[t == a], minlength=n_cells).astype(np.int64)
    n_eligible = np.bincount(cell, minlength=n_cells).astype(np.int64)
    p_value = np.ones(n_cells)
    expected = n_eligible.copy()
    these = np.flatnonzero(examined & (n_eligible > 0))
    if these.size == 0:
        return TopExcessResult(p_value, all_top, n_eligible, expected)
    k = int(a.max())
    local = np.full(n_cells, -1, dtype=np.intp)
    local[these] = np.arange(these.shape[0])
    below = (t < a) & (local[cell] >= 0)
    triple_rows = np.column_stack([local[cell[below]], a[below], t[below]])
    _, first, count = np.unique(row_ids(triple_rows), return_index=True, return_counts=True)
    triple = triple_rows[first]
    to_cell = sp.csr_matrix(
        (count.astype(np.float64), (triple[:, 0], np.arange(triple.shape[0]))),
        shape=(these.shape[0], triple.shape[0]),
    )
    by_a = np.zeros((these.shape[0], k + 1))
    in_these = local[cell] >= 0
    np.add.at(by_a, (local[cell[in_these]], a[in_these]), 1.0)
    n = n_eligible[these].astype(np.float64)
    # (σ, cell, μ): log-likelihood of the respondents below all-top, P(all-top vector)
    truncated = np.empty((SIGMA_GRID.shape[0], these.shape[0], MU_GRID.shape[0]))
    share = np.empty_like(truncated)
    for s, sigma in enumerate(SIGMA_GRID):
        log_p, log_below = _tables(k, float(sigma))
        truncated[s] = to_cell @ (log_p[triple[:, 1], triple[:, 2]] - log_below[triple[:, 1]])
        p_all = np.exp(log_p[np.arange(k + 1), np.arange(k + 1)])  # (k+1, μ)
        share[s] = np.clip(by_a @ p_all / n[:, None], 0.0, 1.0)
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
    size = n_eligible[these][c_idx]
    tail = np.bincount(c_idx, weights=weight * bdtrc(hits - 1, size, q), minlength=these.size)
    p_value[these] = np.clip(tail, 0.0, 1.0)
    expected[these] = _predictive_quantile(c_idx, weight, size, q, n_eligible[these])
    return TopExcessResult(p_value, all_top, n_eligible, expected)


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
