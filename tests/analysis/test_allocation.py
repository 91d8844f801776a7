"""Allocation to strata, against examples worked by hand (and shared/statistics.md)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.allocation import AllocationError, allocate


def test_proportional_example_of_the_statistics_notes():
    # 16 · [30, 20, 15, 10]/75 = [6.4, 4.27, 3.2, 2.13]: floors 15, the largest remainder +1
    assert allocate(16, [30, 20, 15, 10]) == [7, 4, 3, 2]


def test_a_higher_minimum_takes_from_the_others():
    # minimum 3: the last stratum (2.13) is held at 3; 13 over [30, 20, 15] = [6.5, 4.33,
    # 3.25]; floors 13 → [6, 4, 3, 3]
    assert allocate(16, [30, 20, 15, 10], minimum=3) == [6, 4, 3, 3]


def test_neyman_follows_the_spread():
    # weights N·S = [6, 4, 4.5, 2], 16/16.5 → [5.82, 3.88, 4.36, 1.94]: floors 13, the
    # remainders .94, .88, .82 get the three left → [6, 4, 4, 2]
    assert allocate(16, [30, 20, 15, 10], method="neyman", sd=[0.2, 0.2, 0.3, 0.2]) == [6, 4, 4, 2]
    # cost 4 in the third stratum halves its weight: [6, 4, 2.25, 2] → 16/14.25
    # → [6.74, 4.49, 2.53, 2.25] → [7, 4, 3, 2]
    costs = [1, 1, 4, 1]
    assert allocate(16, [30, 20, 15, 10], method="neyman", sd=[0.2, 0.2, 0.3, 0.2], cost=costs) == [
        7,
        4,
        3,
        2,
    ]


def test_a_stratum_never_gets_more_than_it_has():
    # a stratum of one school takes it; 8 left over [40, 30] = [4.57, 3.43] → [5, 3]
    assert allocate(10, [40, 1, 1, 30]) == [5, 1, 1, 3]
    # proportional [7.2, 0.6, 0.6, 3.6] would give the small strata nothing: held at 2,
    # and 8 shared again over [60, 30] → [5.33, 2.67] → [5, 3]
    assert allocate(12, [60, 5, 5, 30]) == [5, 2, 2, 3]
    assert allocate(7, [3, 4]) == [3, 4]  # every school


@pytest.mark.parametrize(
    ("total", "sizes", "message"),
    [
        (3, [10, 10], "fewer than the minimum"),
        (21, [10, 10], "more than the strata hold"),
        (5, [], "no strata"),
    ],
)
def test_impossible_totals(total, sizes, message):
    with pytest.raises(AllocationError, match=message):
        allocate(total, sizes)


def test_neyman_needs_a_spread_per_stratum():
    with pytest.raises(AllocationError, match="standard deviation"):
        allocate(10, [10, 10], method="neyman")


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=12),
    data=st.data(),
)
def test_any_allocation_adds_up_and_keeps_its_bounds(sizes, data):
    low = [min(2, size) for size in sizes]
    total = data.draw(st.integers(min_value=sum(low), max_value=sum(sizes)))
    counts = allocate(total, sizes)
    assert sum(counts) == total
    assert all(lo <= n <= size for lo, n, size in zip(low, counts, sizes, strict=True))


def test_proportional_to_another_measure_than_the_sizes():
    # 10 schools over strata of [20, 10, 5] schools in proportion to their pupils
    # [1000, 3000, 1000]: [2, 6, 2], within the strata's sizes
    assert allocate(10, [20, 10, 5], to=[1000, 3000, 1000]) == [2, 6, 2]
    # shares [0.91, 9.09]: the second is held at its 4 schools, the first takes the other 6
    assert allocate(10, [20, 4], to=[100, 1000]) == [6, 4]
