"""Allocating a sample (schools, or respondents) to strata (shared/statistics.md).

* proportional: n_h ∝ N_h, or to another measure of the strata (``to``: e.g. their
  enrolment, when schools are allocated);
* Neyman: n_h ∝ N_h·S_h/√c_h (S_h the stratum's standard deviation, c_h the cost of
  a unit there; equal costs by default);

each stratum gets at least ``minimum`` units (two schools by default: one school gives
no variance estimate, the lonely-PSU case) but never more than it has (n_h ≤ N_h, so a
stratum of one school takes its one school). Strata pushed to their minimum or their
size are fixed there and the rest of the total is shared again among the others, until
nothing changes; the shares are then rounded to whole units by largest remainder
(Hamilton's method; ties to the earlier stratum), staying within each stratum's bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

METHODS = ("proportional", "neyman")


class AllocationError(ValueError):
    """The total cannot be allocated as asked (the message says why)."""


def allocate(
    total: int,
    sizes: Sequence[int],
    *,
    method: str = "proportional",
    sd: Sequence[float] | None = None,
    cost: Sequence[float] | None = None,
    minimum: int = 2,
    to: Sequence[float] | None = None,
) -> list[int]:
    """``total`` units over strata of ``sizes`` units each; returns n_h per stratum."""
    if method not in METHODS:
        raise AllocationError(f"unknown allocation method {method!r}: {', '.join(METHODS)}")
    if not sizes:
        raise AllocationError("no strata to allocate to")
    if any(size < 0 for size in sizes):
        raise AllocationError("stratum sizes are 0 or more")
    if minimum < 0:
        raise AllocationError("the minimum per stratum is 0 or more")
    weights = _weights(sizes, method, sd, cost, to)
    low = [min(minimum, size) for size in sizes]
    high = list(sizes)
    if total < sum(low):
        raise AllocationError(f"{total} is fewer than the minimum of the strata ({sum(low)})")
    if total > sum(high):
        raise AllocationError(f"{total} is more than the strata hold ({sum(high)})")
    shares = _bounded_shares(total, weights, low, high)
    return _round(total, shares, low, high)


def _weights(
    sizes: Sequence[int],
    method: str,
    sd: Sequence[float] | None,
    cost: Sequence[float] | None,
    to: Sequence[float] | None,
) -> list[float]:
    if method == "proportional":
        if to is None:
            return [float(size) for size in sizes]
        if len(to) != len(sizes) or any(not math.isfinite(m) or m < 0 for m in to):
            raise AllocationError("the measure is 0 or more, one per stratum")
        return [float(m) for m in to]
    if sd is None or len(sd) != len(sizes):
        raise AllocationError("Neyman allocation needs a standard deviation per stratum")
    costs = cost if cost is not None else [1.0] * len(sizes)
    if len(costs) != len(sizes) or any(c <= 0 for c in costs):
        raise AllocationError("costs are positive, one per stratum")
    if any(s < 0 or not math.isfinite(s) for s in sd):
        raise AllocationError("standard deviations are 0 or more")
    return [n * s / math.sqrt(c) for n, s, c in zip(sizes, sd, costs, strict=True)]


def _bounded_shares(
    total: int, weights: list[float], low: list[int], high: list[int]
) -> list[float]:
    """Continuous shares ∝ weights within [low, high], re-sharing what bounds take."""
    fixed: dict[int, float] = {}
    while True:
        free = [h for h in range(len(weights)) if h not in fixed]
        left = total - sum(fixed.values())
        mass = sum(weights[h] for h in free)
        shares = dict(fixed)
        for h in free:
            shares[h] = left * weights[h] / mass if mass > 0 else left / len(free)
        changed = False
        for h in free:
            if shares[h] < low[h]:
                fixed[h], changed = float(low[h]), True
            elif shares[h] > high[h]:
                fixed[h], changed = float(high[h]), True
        if not changed:
            return [shares[h] for h in range(len(weights))]


def _round(total: int, shares: list[float], low: list[int], high: list[int]) -> list[int]:
    counts = [min(max(math.floor(share + 1e-9), low[h]), high[h]) for h, share in enumerate(shares)]
    order = sorted(range(len(shares)), key=lambda h: (-(shares[h] - counts[h]), h))
    while sum(counts) < total:
        for h in order:
            if counts[h] < high[h] and sum(counts) < total:
                counts[h] += 1
        order = [h for h in order if counts[h] < high[h]]
    return counts
