"""The integrity tests' arithmetic against brute force, and their calibration on data
drawn from their own null models."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import optimize, stats
from scipy.special import betaln, gammaln

from analysis.integrity.copying import (
    EXPECTED_LEVEL,
    _bound,
    _classes,
    _expected_max,
    copying_test,
    identical_counts,
    largest_near_identical,
)
from analysis.integrity.erasure import _mixed_lower_tail, _tilted_moments
from analysis.integrity.layout import factorize, packed_rows
from analysis.integrity.rasch import (
    PatternWeights,
    esf,
    esf_without,
    fit_log_weights,
    log_pattern_power_sum,
)
from analysis.integrity.timing import _bursts, betabinom_at_least, timing_tests
from analysis.integrity.top_excess import TopExcessResult, top_excess_test


def test_elementary_symmetric_functions_and_pattern_power_sums_by_enumeration() -> None:
    rng = np.random.default_rng(1)
    k = 7
    log_eps = rng.normal(0, 1.5, (1, k))
    eps = np.exp(log_eps)
    g = esf(eps)[0]
    for t in range(k + 1):
        subsets = list(itertools.combinations(range(k), t))
        assert g[t] == pytest.approx(sum(np.prod(eps[0, list(s)]) for s in subsets), rel=1e-12)
    without = esf_without(eps, esf(eps))
    for j in range(k):
        dropped = eps.copy()
        dropped[0, j] = 0.0
        np.testing.assert_allclose(without[0, j], esf(dropped)[0, :k], rtol=1e-9, atol=1e-12)
    mask = np.ones((1, k), dtype=bool)
    mask[0, 2] = False  # item 2 unanswered
    for t, m in [(1, 2), (3, 2), (3, 5), (5, 3)]:
        items = [j for j in range(k) if j != 2]
        probs = np.array([np.prod(eps[0, list(s)]) for s in itertools.combinations(items, t)])
        probs /= probs.sum()
        got = log_pattern_power_sum(log_eps, mask, np.array([t]), np.array([m]))
        assert np.exp(got[0]) == pytest.approx((probs**m).sum(), rel=1e-10)


def test_conditional_maximum_likelihood_matches_a_general_optimiser() -> None:
    rng = np.random.default_rng(2)
    k, n = 6, 300
    beta = rng.normal(0, 1, k)
    theta = rng.normal(0, 1.5, n)
    x = rng.random((n, k)) < 1 / (1 + np.exp(-(theta[:, None] - beta[None, :])))
    t = x.sum(axis=1)
    x, t = x[(t > 0) & (t < k)], t[(t > 0) & (t < k)]
    fitted = fit_log_weights(np.zeros(x.shape[0], dtype=np.intp), x, 1, np.zeros((1, k)), 1e3, 300)

    def minus_loglik(log_eps: np.ndarray) -> float:
        log_eps = log_eps - log_eps.mean()
        return -float((x @ log_eps).sum() - np.log(esf(np.exp(log_eps)[None, :])[0, t]).sum())

    best = optimize.minimize(minus_loglik, np.zeros(k), method="BFGS").x
    np.testing.assert_allclose(fitted[0], best - best.mean(), atol=1e-4)


def test_identical_vectors_are_counted_within_a_cell() -> None:
    answers = np.array([[4, 3], [4, 3], [4, 3], [4, 0], [4, 3]], dtype=np.int16)
    cell = np.array([0, 0, 1, 0, 1])
    _, same = identical_counts(answers, cell)
    assert same.tolist() == [2, 2, 2, 1, 2]


def test_copying_p_values_are_calibrated_on_rasch_data_with_any_levels() -> None:
    """Cells drawn from the null: a Rasch model per split with a bimodal mix of
    levels (a very satisfied half) and cell-specific item weights."""
    rng = np.random.default_rng(3)
    cells, n, k = 400, 30, 8
    cell = np.repeat(np.arange(cells), n)
    level = rng.normal(1.0, 1.2, cell.size) + 2.5 * (rng.random(cells) < 0.3)[cell]
    location = rng.normal(0, 0.6, k)[None, :] + rng.normal(0, 0.3, (cells, k))[cell]
    steps = np.array([-2.5, -1.0, 0.5])
    p_at_least = 1 / (1 + np.exp(-(level[:, None, None] - location[:, :, None] - steps)))
    answers = (1 + (rng.random((cell.size, k, 1)) < p_at_least).sum(axis=2)).astype(np.int16)
    result = copying_test(answers, cell, np.zeros(cells, dtype=np.intp), np.ones(cells, bool), 4)
    for level_ in (0.01, 0.05, 0.2):
        assert np.mean(result.p_value <= level_) <= level_


def test_a_copied_vector_is_found_and_bounded() -> None:
    rng = np.random.default_rng(4)
    cells, n, k = 60, 40, 10
    cell = np.repeat(np.arange(cells), n)
    level = rng.normal(1.0, 1.2, cell.size)
    answers = (
        1
        + (
            rng.random((cell.size, k, 3))
            < 1 / (1 + np.exp(-(level[:, None, None] - [-2.5, -1.0, 0.5])))
        ).sum(axis=2)
    ).astype(np.int16)
    template = np.array([4, 4, 3, 4, 4, 3, 4, 4, 2, 4], dtype=np.int16)
    answers[:12] = template  # 12 of cell 0's 40
    result = copying_test(answers, cell, np.zeros(cells, dtype=np.intp), np.ones(cells, bool), 4)
    assert result.largest_identical[0] == 12
    assert result.p_value[0] < 1e-8
    assert result.expected_identical_max[0] <= 3
    assert result.largest_near_identical[0] >= 12


def test_beta_binomial_tail_equals_scipy() -> None:
    k = np.array([0, 1, 3, 10, 40, 5])
    n = np.array([5, 10, 30, 30, 60, 4])
    a = np.array([0.5, 0.3, 1.2, 0.6, 2.0, 1.0])
    b = np.array([10, 20, 30, 40, 3.0, 1.0])
    np.testing.assert_allclose(
        betabinom_at_least(k, n, a, b), stats.betabinom.sf(k - 1, n, a, b), rtol=1e-8, atol=1e-300
    )


def test_beta_binomial_tail_of_large_cells_is_the_whole_sum() -> None:
    """Cells of thousands: the sum that stops where the tail's terms stop counting, and
    1 − P(X < k) at or below the mode, equal every pmf term from k to n added up
    (scipy's ``sf`` is 1 − cdf there, which loses tails below about 1e-12)."""
    rng = np.random.default_rng(3)
    n = rng.integers(1, 9000, 60)
    p0 = rng.uniform(0.01, 0.6, 60)
    icc = 0.03
    a, b = p0 * (1 - icc) / icc, (1 - p0) * (1 - icc) / icc
    k = np.minimum(np.round(n * rng.uniform(0, 1.2, 60)).astype(np.int64), n + 3)
    k[:3] = (0, -1, 1)
    want = np.zeros(k.size)
    for i in range(k.size):
        x = np.arange(max(k[i], 0), n[i] + 1)
        logs = (
            gammaln(n[i] + 1)
            - gammaln(x + 1)
            - gammaln(n[i] - x + 1)
            + betaln(x + a[i], n[i] - x + b[i])
            - betaln(a[i], b[i])
        )
        want[i] = min(1.0, float(np.exp(logs).sum())) if x.size else 0.0
    got = betabinom_at_least(k, n, a, b)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13)
    tiny = (want < 1e-10) & (want > 0)
    assert tiny.any()
    np.testing.assert_allclose(got[tiny], want[tiny], rtol=1e-9)


def test_bursts_count_speeding_responses_in_a_ten_minute_window() -> None:
    minute = np.array([0, 3, 9.5, 10, 25, 26, 27, 28, 29, 30, 31, 0, 1], dtype=float)
    fast = np.array([1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1], dtype=bool)
    cell = np.array([0] * 11 + [1, 1])
    timed = np.ones(13, dtype=bool)
    burst, window = _bursts(fast, timed, minute, cell, 2, 10.0)
    # cell 0: [0, 10) holds 0, 3, 9.5 (10 is outside); [26, 36) holds 26, 27, 28, 30
    assert burst.tolist() == [4, 2]
    assert window[0] == 3  # the timed responses of [0, 10), fast or not
    assert window[4] == 7  # [25, 35): 25 … 31
    assert window[11] == 2  # the other cell's own window: cells never mix
    untimed = timed.copy()
    untimed[5] = False
    burst, window = _bursts(fast, untimed, minute, cell, 2, 10.0)
    assert burst.tolist() == [3, 2]
    assert window[5] == 0


def test_a_burst_of_fast_answers_is_proxy_filling_and_honest_speed_is_not() -> None:
    """Cells of 40 in one stratum: one with 15 answers in ten minutes at a fifth of the
    reading time; the others with the stratum's usual few fast answers spread over days."""
    rng = np.random.default_rng(8)
    n_cells, size = 12, 40
    row_cell = np.repeat(np.arange(n_cells), size)
    minute = rng.uniform(0, 3 * 24 * 60, row_cell.size)
    duration = rng.lognormal(np.log(200), 0.4, row_cell.size)
    proxy = np.flatnonzero(row_cell == 0)[:15]
    minute[proxy] = 1000 + rng.uniform(0, 9, proxy.size)
    duration[proxy] = 40
    speeding = duration < 70
    result = timing_tests(
        speeding,
        duration,
        minute,
        row_cell,
        cell_pool=np.zeros(n_cells, dtype=np.intp),
        cell_county=np.zeros(n_cells, dtype=np.intp),
        examined=np.ones(n_cells, dtype=bool),
        burst_minutes=10.0,
        floor=0.01,
        icc=0.03,
    )
    assert result.burst[0] >= 15
    assert result.burst_p[0] < 1e-6
    assert result.speeding_p[0] < 1e-4
    assert (result.burst_p[1:] > 0.01).all()
    assert (result.speeding_p[1:] > 0.01).all()
    assert result.burst_expected_max[0] < 15


def test_the_mixed_lower_tail_is_the_convolution_averaged_over_the_tilt() -> None:
    """P(Σ X_i ≤ l) with each respondent's own pmf, tilted by r^x / M_i(r) and averaged
    over the nodes: against enumerating every combination of three respondents."""
    pmf = np.array([[0.5, 0.3, 0.2], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    log_r = np.array([-0.7, 0.0, 0.4])
    weights = np.array([0.25, 0.5, 0.25])
    for observed in range(5):
        want = 0.0
        for w, lr in zip(weights, log_r, strict=True):
            tilted = pmf * np.exp(lr * np.arange(3))
            tilted /= tilted.sum(axis=1, keepdims=True)
            below = sum(
                tilted[0, x] * tilted[1, y] * tilted[2, z]
                for x, y, z in itertools.product(range(3), repeat=3)
                if x + y + z <= observed
            )
            want += w * below
        assert _mixed_lower_tail(pmf, observed, log_r, weights) == pytest.approx(want, rel=1e-12)


def test_all_top_answers_beyond_the_schools_level_are_flagged_and_a_good_school_is_not() -> None:
    """Three schools' parents and students of 30 each: in school 0 the parents copy an
    all-top vector (20 of 30), its students do not; school 1 is very satisfied in every
    group (many honest all-top answers); school 2 is ordinary."""
    rng = np.random.default_rng(5)
    items = 14
    level = {0: 0.6, 1: 3.0, 2: 0.6}
    answered, top, row_cell, cell_school = [], [], [], []
    for school in range(3):
        for g in range(2):
            cell = 2 * school + g
            cell_school.append(school)
            person = rng.normal(level[school], 1.0, 30)
            p_top = 1 / (1 + np.exp(-(person - 0.8)))
            t = rng.binomial(items, p_top)
            if cell == 0:
                t[:20] = items
            answered += [items] * 30
            top += t.tolist()
            row_cell += [cell] * 30
    result = top_excess_test(
        np.array(answered),
        np.array(top),
        np.array(row_cell),
        cell_county=np.zeros(6, dtype=np.intp),
        cell_school=np.array(cell_school),
        examined=np.ones(6, dtype=bool),
        min_items=5,
    )
    assert result.all_top[0] >= 20
    assert result.p_value[0] < 1e-4
    assert (result.p_value[[2, 3]] > 0.01).all()  # the good school's honest all-top answers
    assert result.expected_max[0] < result.all_top[0]


@pytest.mark.parametrize(("seed", "k"), [(1, 6), (2, 6), (3, 6), (4, 30)])
def test_largest_near_identical_is_the_brute_force_count(seed: int, k: int) -> None:
    """The masked-vector count equals comparing every pair of a cell's rows; with 30
    items a row's codes need more than 62 bits, so the rows are not packed."""
    rng = np.random.default_rng(seed)
    n = 400
    codes = np.array([-1, 0, 1, 2, 3, 4], dtype=np.int16)
    answers = rng.choice(codes, size=(n, k), p=[0.05, 0.05, 0.05, 0.15, 0.3, 0.4])
    answers[:90] = answers[0]  # a template, and near copies of it
    answers[np.arange(60, 90), rng.integers(0, k, 30)] = 1  # one position changed
    row_cell = rng.integers(0, 7, n).astype(np.intp)
    ids, _counts = identical_counts(answers, row_cell)
    cells = np.array([0, 1, 2, 3, 5, 6])
    found = largest_near_identical(answers, row_cell, ids, cells, 7)
    for c in range(7):
        rows = answers[row_cell == c]
        if c not in cells or rows.size == 0:
            assert found[c] == 0
            continue
        distance = (rows[:, None, :] != rows[None, :, :]).sum(axis=2)
        assert found[c] == int((distance <= 1).sum(axis=1).max())


def test_expected_largest_group_is_where_the_bound_first_falls_to_the_level() -> None:
    """The batched search gives, per cell, the m before the first m ≥ 2 whose union bound
    (the test's own, at that m) is at most the level, one m at a time; cells of 4 items
    and hundreds of rows run m past several batches."""
    rng = np.random.default_rng(11)
    n_cells, k = 5, 4
    sizes = [300, 120, 40, 8, 2]
    row_cell = np.repeat(np.arange(n_cells), sizes).astype(np.intp)
    x = rng.random((row_cell.size, k)) < rng.uniform(0.2, 0.9, k)
    total = x.sum(axis=1)
    answered = np.ones_like(x)
    varied = (total > 0) & (total < k)
    classes = _classes(row_cell[varied], answered[varied], total[varied])
    log_eps = rng.normal(0, 0.8, (n_cells, k))
    weights = PatternWeights.of(log_eps[classes[0]], classes[1], classes[2])
    got = _expected_max(weights, classes, n_cells)

    def bound_at(m: int) -> np.ndarray:
        return _bound(weights, classes, np.full(n_cells, m), n_cells)

    for c in range(n_cells):
        m = 2
        while m <= max(sizes) and bound_at(m)[c] > EXPECTED_LEVEL:
            m += 1
        assert got[c] == max(m - 1, 1), c
    assert got[0] > 2 + 16  # beyond the first batch


def test_tilted_moments_of_counted_rows_equal_the_rows_repeated() -> None:
    rng = np.random.default_rng(2)
    pmf = rng.dirichlet(np.ones(5), 4)
    count = np.array([3, 1, 7, 2])
    log_r = np.linspace(-2, 2, 9)
    mean, variance = _tilted_moments(pmf, log_r, count.astype(np.float64))
    want_mean, want_variance = _tilted_moments(np.repeat(pmf, count, axis=0), log_r)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-12)
    np.testing.assert_allclose(variance, want_variance, rtol=1e-12)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["b", "a", "b", "c", "a", "d"]),
        np.array([30, 10, 30, 20, 10]),
        np.array(["x", 1, "x", 2.5, 1], dtype=object),
        np.array([], dtype=str),
    ],
)
def test_factorize_codes_labels_by_first_appearance(labels: np.ndarray) -> None:
    codes, found = factorize(labels)
    want: dict[object, int] = {}
    for label in labels.tolist():
        want.setdefault(label, len(want))
    assert found == list(want)
    assert [type(v) for v in found] == [type(v) for v in want]
    assert codes.tolist() == [want[label] for label in labels.tolist()]


def test_packed_rows_mask_a_column_by_taking_its_digit_out() -> None:
    rng = np.random.default_rng(4)
    m = rng.integers(-1, 5, (200, 8))
    m[:50] = m[0]
    packed = packed_rows(m)
    assert packed is not None
    keys, low, place = packed
    assert (keys[:50] == keys[0]).all()
    assert np.unique(keys).size == np.unique(m, axis=0).shape[0]
    masked = m.copy()
    masked[:, 3] = low[3]  # column 3's digit 0 in every row
    assert (keys - (m[:, 3] - low[3]) * place[3] == (masked - low) @ place).all()
    masked_ids = np.unique(np.delete(m, 3, axis=1), axis=0, return_inverse=True)[1].ravel()
    masked_keys = np.unique(keys - (m[:, 3] - low[3]) * place[3], return_inverse=True)[1]
    assert (masked_ids == masked_keys).all()  # the same rows are equal without column 3
    assert packed_rows(rng.integers(0, 6, (10, 30))) is None  # 30 × log2(6) bits


def _missing_item_county(
    rng: np.random.Generator, tilt: float, cells: int = 120, n: int = 40
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.intp]]:
    """Rows drawn from the all-top test's own model: θ ~ N(μ_c − β·σ_c²·d, σ_c²), d of
    the 14 items unanswered (0 for two thirds of the rows), t ~ Binomial(14 − d,
    expit θ); the cells' spreads σ_c differ (0.7–1.6)."""
    level = rng.normal(1.0, 0.8, cells)
    spread = rng.uniform(0.7, 1.6, cells)
    row_cell = np.repeat(np.arange(cells), n)
    missing = np.where(rng.random(row_cell.size) < 2 / 3, 0, rng.integers(1, 4, row_cell.size))
    sd = spread[row_cell]
    theta = level[row_cell] - tilt * sd**2 * missing + sd * rng.normal(0.0, 1.0, row_cell.size)
    answered = 14 - missing
    top = rng.binomial(answered, 1 / (1 + np.exp(-theta)))
    return answered.astype(np.int64), top.astype(np.int64), row_cell.astype(np.intp)


def _one_group_all_top(
    answered: NDArray[np.int64], top: NDArray[np.int64], row_cell: NDArray[np.intp]
) -> TopExcessResult:
    """The all-top test of one county group, each cell a school of its own."""
    cells = int(row_cell.max()) + 1
    return top_excess_test(
        answered,
        top,
        row_cell,
        cell_county=np.zeros(cells, dtype=np.intp),
        cell_school=np.arange(cells, dtype=np.intp),
        examined=np.ones(cells, dtype=bool),
        min_items=5,
    )


@pytest.mark.parametrize("tilt", [-0.3, 0.0, 0.4])
def test_the_level_tilt_per_missing_item_is_recovered(tilt: float) -> None:
    """β is estimated from the county group's cells: data drawn with a known β give it
    back to within 0.06 in cells of 150 (in cells of 40 it comes out about a fifth
    nearer 0: each cell's own spread absorbs part of it)."""
    answered, top, row_cell = _missing_item_county(np.random.default_rng(11), tilt, cells=80, n=150)
    result = _one_group_all_top(answered, top, row_cell)
    assert result.missing_item_tilt.shape == (1,)
    assert result.missing_item_tilt[0] == pytest.approx(tilt, abs=0.06)
    if tilt:
        assert np.sign(result.missing_item_tilt[0]) == np.sign(tilt)


def test_only_complete_answers_count_as_all_top() -> None:
    """An honest respondent who says 不了解 to one item and 满意 to the rest is not an
    all-top answer: a posted "standard answer" answers every item.  The count and its
    denominator are the complete answers."""
    answered, top, row_cell = _missing_item_county(np.random.default_rng(3), 0.0, cells=30)
    top[answered < 14] = answered[answered < 14]  # every incomplete answer all 满意
    result = _one_group_all_top(answered, top, row_cell)
    complete = answered == 14
    want_top = np.bincount(row_cell[complete & (top == 14)], minlength=30)
    assert result.all_top.tolist() == want_top.tolist()
    assert result.eligible.tolist() == np.bincount(row_cell[complete], minlength=30).tolist()
