"""Speeding and proxy filling: completion times and bursts of submissions.

Both tests count *speeding* responses (duration below ``speeding_fraction`` of the
reading time).  Under the null every response of a school speeds independently with
the school's own rate π, and schools' rates vary as Beta with mean p0 and intraclass
correlation ρ (``speeding_icc``): p0 is the speeding share of the other schools of the
stratum and group (with 100 pseudo-responses at the county group's share, and at
least ``speeding_floor``).

* ``many_flagged_responses``: the cell's number F of speeding responses against the
  beta-binomial(n, p0, ρ) upper tail.
* ``proxy_filling``: B, the most speeding responses submitted within one window of
  ``burst_minutes``.  Submission times are taken as given (an honest wave after a
  link is posted is allowed); only their speeding is random.  A window with B
  speeding responses can be slid to start at one of them, so
  P(B ≥ b) ≤ Σ_i P(i speeds and ≥ b − 1 others in [t_i, t_i + w) speed)
          = Σ_i p0 · P(BetaBinomial(n_i − 1, α + 1, β) ≥ b − 1),
  with n_i the responses in i's window (the beta posterior after one speeding
  response is Beta(α + 1, β)).  Responses with unknown time or duration are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaln, gammaln

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
PSEUDO_RESPONSES = 100.0
EXPECTED_LEVEL = 0.01
TAIL_TOLERANCE = 1e-17  # a tail term below this share of the sum so far ends the sum


@dataclass(frozen=True, eq=False)
class TimingResult:
    """Per cell: p-values of both tests and the numbers their sentences use."""

    speeding_p: FloatArray
    burst_p: FloatArray
    speeding: NDArray[np.int64]
    timed: NDArray[np.int64]
    speeding_expected_max: NDArray[np.int64]
    stratum_speeding_share: FloatArray
    burst: NDArray[np.int64]
    burst_expected_max: NDArray[np.int64]


def timing_tests(
    speeding: NDArray[np.bool_],
    duration: FloatArray,
    minute: FloatArray,
    row_cell: IntArray,
    cell_pool: IntArray,
    cell_county: IntArray,
    examined: NDArray[np.bool_],
    burst_minutes: float,
    floor: float,
    icc: float,
) -> TimingResult:
    n_cells = cell_pool.shape[0]
    n_pools = int(cell_pool.max()) + 1 if n_cells else 0
    n_counties = int(cell_county.max()) + 1 if n_cells else 0
    timed_row = ~np.isnan(duration)
    timed = np.bincount(row_cell[timed_row], minlength=n_cells).astype(np.int64)
    fast = np.bincount(row_cell[speeding], minlength=n_cells).astype(np.int64)
    pool_fast = np.bincount(cell_pool, weights=fast, minlength=n_pools)[cell_pool] - fast
    pool_timed = np.bincount(cell_pool, weights=timed, minlength=n_pools)[cell_pool] - timed
    county_fast = np.bincount(cell_county, weights=fast, minlength=n_counties)[cell_county] - fast
    county_timed = (
        np.bincount(cell_county, weights=timed, minlength=n_counties)[cell_county] - timed
    )
    county_share = np.where(county_timed > 0, county_fast / np.maximum(county_timed, 1), floor)
    with np.errstate(invalid="ignore"):
        stratum_share = pool_fast / pool_timed
    p0 = (pool_fast + PSEUDO_RESPONSES * county_share) / (pool_timed + PSEUDO_RESPONSES)
    p0 = np.clip(p0, floor, 1 - floor)
    alpha = p0 * (1 - icc) / icc
    beta = (1 - p0) * (1 - icc) / icc

    speeding_p = np.ones(n_cells)
    test = examined & (fast > 0)
    speeding_p[test] = betabinom_at_least(fast[test], timed[test], alpha[test], beta[test])
    speeding_expected = np.zeros(n_cells, dtype=np.int64)
    speeding_expected[examined] = _betabinom_quantile(
        1 - EXPECTED_LEVEL, timed[examined], alpha[examined], beta[examined]
    )

    burst, window = _bursts(speeding, timed_row, minute, row_cell, n_cells, burst_minutes)
    burst_p = np.ones(n_cells)
    burst_expected = np.ones(n_cells, dtype=np.int64)
    rows = np.flatnonzero(window > 0)
    rows = rows[examined[row_cell[rows]]]
    cells = row_cell[rows]

    # rows of one cell with the same window size contribute the same term
    pair = np.unique(cells.astype(np.int64) * (int(window.max(initial=0)) + 1) + window[rows])
    pair_cell = (pair // (int(window.max(initial=0)) + 1)).astype(np.intp)
    pair_window = pair % (int(window.max(initial=0)) + 1)
    pair_count = np.bincount(
        np.searchsorted(
            pair, cells.astype(np.int64) * (int(window.max(initial=0)) + 1) + window[rows]
        ),
        minlength=pair.size,
    )

    def bound(b: NDArray[np.int64], cells: NDArray[np.bool_]) -> FloatArray:
        """The union bound on P(B ≥ b) per cell (b ≥ 2) of ``cells`` (others 0)."""
        bb = b[pair_cell]
        live = (pair_window >= bb) & cells[pair_cell]  # a smaller window's term is 0
        terms = np.zeros(pair.size)
        terms[live] = (
            pair_count[live]
            * p0[pair_cell[live]]
            * betabinom_at_least(
                bb[live] - 1,
                pair_window[live] - 1,
                alpha[pair_cell[live]] + 1,
                beta[pair_cell[live]],
            )
        )
        return np.bincount(pair_cell, weights=terms, minlength=n_cells).astype(np.float64)

    test = examined & (burst >= 2)
    burst_p[test] = np.minimum(1.0, bound(np.maximum(burst, 2), test)[test])
    # The largest b whose bound is above EXPECTED_LEVEL (1 if none): the bound falls as
    # b grows and is 0 past the cell's largest window, so bisect between the two.
    low = np.ones(n_cells, dtype=np.int64)
    high = np.zeros(n_cells, dtype=np.int64)
    np.maximum.at(high, row_cell, window)
    high += 1
    while np.any(searching := examined & (high - low > 1)):
        middle = (low + high) // 2
        above = bound(np.maximum(middle, 2), searching) > EXPECTED_LEVEL
        low = np.where(above & searching, middle, low)
        high = np.where(~above & searching, middle, high)
    burst_expected[examined] = low[examined]
    return TimingResult(
        speeding_p=speeding_p,
        burst_p=burst_p,
        speeding=fast,
        timed=timed,
        speeding_expected_max=speeding_expected,
        stratum_speeding_share=stratum_share,
        burst=burst,
        burst_expected_max=burst_expected,
    )


def betabinom_at_least(
    k: NDArray[np.int64], n: NDArray[np.int64], a: FloatArray, b: FloatArray
) -> FloatArray:
    """P(X ≥ k) for X ~ BetaBinomial(n, a, b) (scipy's generic ``betabinom.sf`` loops in
    Python, 100× slower here). The pmf is unimodal for these shapes (b > 1 or a > 1):
    above the mode the tail is summed upward from k until its terms no longer count
    (accurate for tiny tails, and short: a cell of thousands sums a few sd, not n);
    at or below the mode it is 1 − P(X < k), the lower sum taken downward from k − 1
    alike."""
    out = np.zeros(k.shape[0])
    if k.size == 0:
        return out
    k = np.maximum(k, 0)
    log_norm = betaln(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        mode = np.where(a <= 1, 0, np.where(b <= 1, n, np.floor((n - 0) * (a - 1) / (a + b - 2))))
    mode = np.clip(np.nan_to_num(mode), 0, n)

    def term(x: NDArray[np.int64], rows: NDArray[np.intp]) -> FloatArray:
        nn = n[rows]
        return np.exp(
            gammaln(nn + 1)
            - gammaln(x + 1)
            - gammaln(nn - x + 1)
            + betaln(x + a[rows], nn - x + b[rows])
            - log_norm[rows]
        )

    def summed(rows: NDArray[np.intp], x: NDArray[np.int64], step: int) -> FloatArray:
        """Σ of the pmf from x away from the mode (step +1 up, −1 down) until the terms
        no longer count: the first term exactly, each next one by the pmf's ratio
        P(x+1)/P(x) = (n−x)(x+a) / ((x+1)(n−x−1+b)), a few flops instead of four
        log-gammas (the rounding of a thousand steps stays near 1e-13)."""
        total = np.zeros(k.shape[0])
        t = term(x, rows)
        while rows.size:
            total[rows] += t
            nn, aa, bb = n[rows], a[rows], b[rows]
            if step > 0:
                t = t * (nn - x) * (x + aa) / ((x + 1) * (nn - x - 1 + bb))
            else:
                t = t * x * (nn - x + bb) / ((nn - x + 1) * (x - 1 + aa))
            x = x + step
            going = (x >= 0) & (x <= nn) & (t > TAIL_TOLERANCE * total[rows])
            rows, x, t = rows[going], x[going], t[going]
        return total

    upper = np.flatnonzero((k > mode) & (k <= n))
    out += summed(upper, k[upper], +1)
    # P(X < k) at or below the mode: summed downward from k − 1 the same way
    lower = np.flatnonzero((k <= mode) & (k > 0))
    below = summed(lower, k[lower] - 1, -1)
    lower_rows = (k <= mode) & (k <= n)
    out[lower_rows] = 1.0 - below[lower_rows]
    return np.clip(out, 0.0, 1.0)


def _betabinom_quantile(
    level: float, n: NDArray[np.int64], a: FloatArray, b: FloatArray
) -> NDArray[np.int64]:
    """The smallest x with P(X ≤ x) ≥ level, X ~ BetaBinomial(n, a, b)."""
    cdf = np.zeros(n.shape[0])
    out = n.astype(np.int64).copy()
    found = np.zeros(n.shape[0], dtype=bool)
    log_norm = betaln(a, b)
    for x in range(int(n.max(initial=0)) + 1):
        live = ~found & (x <= n)
        if not live.any():
            break
        nn = n[live]
        cdf[live] += np.exp(
            gammaln(nn + 1)
            - gammaln(x + 1)
            - gammaln(nn - x + 1)
            + betaln(x + a[live], nn - x + b[live])
            - log_norm[live]
        )
        done = live & (cdf >= level)
        out[done] = x
        found |= done
    return out


def _bursts(
    speeding: NDArray[np.bool_],
    timed: NDArray[np.bool_],
    minute: FloatArray,
    row_cell: IntArray,
    n_cells: int,
    width: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per cell the most speeding responses in one window [t, t + width); per row the
    number of timed responses of its cell in its own window (0 for untimed rows)."""
    usable = timed & ~np.isnan(minute)
    rows = np.flatnonzero(usable)
    # cells far apart on one axis: a window never spans two cells
    span = float(np.nanmax(minute[rows]) - np.nanmin(minute[rows])) + 2 * width if rows.size else 0
    origin = float(np.nanmin(minute[rows])) if rows.size else 0.0
    key = row_cell[rows] * span + (minute[rows] - origin)
    order = np.argsort(key, kind="stable")
    key, rows = key[order], rows[order]
    window = np.zeros(row_cell.shape[0], dtype=np.int64)
    window[rows] = np.searchsorted(key, key + width, side="left") - np.arange(rows.size)
    fast_key = key[speeding[rows]]
    fast_rows = rows[speeding[rows]]
    in_window = np.searchsorted(fast_key, fast_key + width, side="left") - np.arange(fast_key.size)
    burst = np.zeros(n_cells, dtype=np.int64)
    np.maximum.at(burst, row_cell[fast_rows], in_window)
    return burst, window
