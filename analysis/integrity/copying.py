"""Template copying: identical answer vectors beyond what independent respondents give.

Statistic, per cell and per split c = 2..scale_max of the codes ("≥ c" or not): m_c,
the largest number of identical answer vectors (all items, 不了解 and unanswered
positions included) among the cell's vectors that are not all-"≥ c" or all-"< c".
Reference: independent respondents under a Rasch model for that split with the
cell's own item weights (CML on the cell's answers, shrunk toward the county's) and
*any* distribution of respondents' levels.  Identical vectors are identical splits,
and given a respondent's count t of "≥ c" answers its split pattern has probability
P(x | t) = Π ε_j^x_j / γ_t(ε), whatever the respondent's level, so

    P(some vector appears ≥ m times) ≤ Σ_classes C(n_class, m) · Σ_{|x|=t} P(x|t)^m,

summed over the classes of rows with the same answered items and the same t.  This
union bound is the p-value of split c (exact arithmetic, no Monte Carlo, so it is
reproducible and small enough for the false-discovery control over hundreds of
cells); the test's p-value is the smallest over the splits times their number
(Bonferroni).  Vectors that are the same code everywhere (all 满意, say) carry no
evidence here: a very satisfied school gives many; the all-top test in
:mod:`analysis.integrity.top_excess` looks at those.

``expected_identical_max`` (for the sentence) is the largest m with bound(m) > 1%:
independent respondents give more identical vectors than that in fewer than 1 cell in
100; it takes the smaller of the bounds with the cell's own and with the county's item
weights, because a large template pulls the cell's own weights toward itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

from analysis.integrity.layout import packed_rows, row_ids
from analysis.integrity.rasch import PatternWeights, fit_log_weights

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
M_BATCH = 16
EXPECTED_LEVEL = 0.01
COUNTY_PRIOR_SD = 3.0  # weak: the county's items are estimated from thousands of rows
CELL_PRIOR_SD = 0.5  # a school's items differ from the county's by far less than this


@dataclass(frozen=True, eq=False)
class CopyingResult:
    """Per cell: p-value, the tested group size, the null's 99% bound, near-identical."""

    p_value: FloatArray
    largest_identical: NDArray[np.int64]
    expected_identical_max: NDArray[np.int64]
    largest_near_identical: NDArray[np.int64]


def identical_counts(
    answers: NDArray[np.int16], row_cell: IntArray
) -> tuple[IntArray, NDArray[np.int64]]:
    """Each row's vector id (equal within a cell iff the vectors are equal) and how many
    rows of its cell have exactly the same answer vector."""
    ids = row_ids(np.column_stack([row_cell, answers]))
    return ids, np.bincount(ids)[ids].astype(np.int64)


def largest_near_identical(
    answers: NDArray[np.int16], row_cell: IntArray, ids: IntArray, cells: IntArray, n_cells: int
) -> NDArray[np.int64]:
    """Per cell in ``cells``: the most rows within Hamming distance 1 of one row (itself
    included), in O(rows × items): a row at distance exactly 1 from row i shares i's
    vector with that one position masked, and an identical row shares all k masked
    vectors, so near(i) = Σ_j (rows with i's j-masked vector) − (k − 1) × (rows equal
    to i). ``ids``: the rows' vector ids within their cells (:func:`identical_counts`)."""
    k = answers.shape[1]
    exact = np.bincount(ids)[ids].astype(np.int64)
    near = -(k - 1) * exact
    packed = packed_rows(np.column_stack([row_cell, answers]))
    for j in range(k):
        if packed is not None:  # the key with item j's digit taken out
            keys, low, place = packed
            masked_key = keys - (answers[:, j].astype(np.int64) - low[j + 1]) * place[j + 1]
            _, key, count = np.unique(masked_key, return_inverse=True, return_counts=True)
            near += count[key]
        else:
            masked = np.array(answers, dtype=np.int64)
            masked[:, j] = 0
            key = row_ids(np.column_stack([row_cell, masked]))
            near += np.bincount(key)[key]
    out = np.zeros(n_cells, dtype=np.int64)
    np.maximum.at(out, row_cell, near)
    chosen = np.zeros(n_cells, dtype=bool)
    chosen[cells] = True
    return np.where(chosen, out, 0)


def copying_test(
    answers: NDArray[np.int16],
    row_cell: IntArray,
    cell_county: IntArray,
    examined: NDArray[np.bool_],
    scale_max: int,
) -> CopyingResult:
    """The template-copying test of every examined cell (others get p = 1)."""
    n_cells = cell_county.shape[0]
    ids, same = identical_counts(answers, row_cell)
    answered = answers >= 1
    n_answered = answered.sum(axis=1)
    k = answers.shape[1]
    splits = range(2, scale_max + 1)
    p_split, m_split, expected_split = [], [], []
    for c in splits:
        x = answers >= c
        total = x.sum(axis=1)
        varied = (total > 0) & (total < n_answered)
        m = np.zeros(n_cells, dtype=np.int64)
        np.maximum.at(m, row_cell[varied], same[varied])
        county, log_eps = _log_weights(x, varied, n_answered == k, row_cell, cell_county)
        in_test = varied & examined[row_cell]
        classes = _classes(row_cell[in_test], answered[in_test], total[in_test])
        cls_cell, mask, t, _size = classes
        own = PatternWeights.of(log_eps[cls_cell], mask, t)
        p_split.append(np.minimum(_bound(own, classes, m, n_cells), 1.0))
        m_split.append(m)
        # for the sentence: the smaller of the cell's own and the county's reference (a
        # large template inflates the cell's own item weights toward itself)
        reference = PatternWeights.of(county[cell_county][cls_cell], mask, t)
        expected_split.append(
            np.minimum(
                _expected_max(own, classes, n_cells),
                _expected_max(reference, classes, n_cells),
            )
        )
    p_all, m_all = np.array(p_split), np.array(m_split)
    # the split with the smallest p; among equals, the one with the largest group
    best = np.lexsort((-m_all.T, p_all.T), axis=-1)[:, 0]
    cells = np.arange(n_cells)
    best_p = p_all[best, cells]
    best_m = m_all[best, cells]
    best_expected = np.array(expected_split)[best, cells]
    p_value = np.minimum(1.0, best_p * len(splits))
    near = largest_near_identical(answers, row_cell, ids, np.flatnonzero(examined), n_cells)
    return CopyingResult(
        p_value=np.where(examined, p_value, 1.0),
        largest_identical=best_m,
        expected_identical_max=best_expected,
        largest_near_identical=near,
    )


def _log_weights(
    x: NDArray[np.bool_],
    varied: NDArray[np.bool_],
    complete: NDArray[np.bool_],
    row_cell: IntArray,
    cell_county: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """CML log item weights per county group and per cell (shrunk toward its county
    group's), from the complete rows."""
    n_cells, k = cell_county.shape[0], x.shape[1]
    use = varied & complete
    n_counties = int(cell_county.max()) + 1 if n_cells else 0
    county = fit_log_weights(
        cell_county[row_cell[use]], x[use], n_counties, np.zeros((n_counties, k)), COUNTY_PRIOR_SD
    )
    cell = fit_log_weights(row_cell[use], x[use], n_cells, county[cell_county], CELL_PRIOR_SD)
    return county, cell


Classes = tuple[IntArray, NDArray[np.bool_], NDArray[np.intp], NDArray[np.int64]]


def _classes(cell: IntArray, answered: NDArray[np.bool_], total: NDArray[np.int64]) -> Classes:
    """Rows grouped by (cell, answered items, t): each class's cell, mask, t and size."""
    if cell.shape[0] == 0:
        return cell, answered, total.astype(np.intp), np.zeros(0, dtype=np.int64)
    ids = row_ids(np.column_stack([cell, row_ids(answered), total]))
    _, first, size = np.unique(ids, return_index=True, return_counts=True)
    return cell[first], answered[first], total[first].astype(np.intp), size.astype(np.int64)


def _log_terms(
    weights: PatternWeights, rows: NDArray[np.intp], size: NDArray[np.int64], m: NDArray[np.int64]
) -> FloatArray:
    """log of C(n_class, m) Σ_x P(x|t)^m for each of the classes ``rows`` of ``weights``
    (with their sizes; −inf where n_class < m)."""
    out = np.full(size.shape[0], -np.inf)
    live = size >= m
    if live.any():
        mm = m[live]
        comb = gammaln(size[live] + 1) - gammaln(mm + 1) - gammaln(size[live] - mm + 1)
        out[live] = comb + weights.log_power_sum(rows[live], mm)
    return out


def _bound(
    weights: PatternWeights, classes: Classes, m: NDArray[np.int64], n_cells: int
) -> FloatArray:
    """The union bound at each cell's own m (1 where m < 2: no duplicate to test);
    ``weights``: the classes' (:class:`PatternWeights` of their cell's item weights)."""
    cls_cell, _mask, _t, size = classes
    terms = _log_terms(weights, np.arange(size.shape[0]), size, m[cls_cell])
    bound = np.bincount(cls_cell, weights=np.exp(terms), minlength=n_cells)
    return np.where(m >= 2, bound, 1.0)


def _expected_max(weights: PatternWeights, classes: Classes, n_cells: int) -> NDArray[np.int64]:
    """Per cell, the largest m whose bound (``weights`` as for :func:`_bound`) exceeds
    ``EXPECTED_LEVEL`` (at least 1): m counts up from 2 until the cell's bound falls to
    the level, ``M_BATCH`` values of m at a time (the same sums, in fewer and larger
    array steps)."""
    cls_cell, _mask, _t, size = classes
    expected = np.ones(n_cells, dtype=np.int64)
    open_cells = np.zeros(n_cells, dtype=bool)
    open_cells[cls_cell] = True
    largest = int(size.max()) if size.size else 0
    m = 2
    while open_cells.any() and m <= largest:
        ms = np.arange(m, min(m + M_BATCH, largest + 1), dtype=np.int64)
        live = np.flatnonzero(open_cells[cls_cell] & (size >= m))
        pair = np.repeat(live, ms.size)  # (class, m) pairs, class by class
        step = np.tile(np.arange(ms.size), live.size)
        terms = _log_terms(weights, pair, size[pair], ms[step])
        bound = np.bincount(
            cls_cell[pair] * ms.size + step, weights=np.exp(terms), minlength=n_cells * ms.size
        ).reshape(n_cells, ms.size)
        for i, value in enumerate(ms.tolist()):
            open_cells &= bound[:, i] > EXPECTED_LEVEL
            expected[open_cells] = value
        m += ms.size
    return expected
