"""Drawing schools with probability proportional to size, as R's ``sampling`` package.

* :func:`inclusion_probabilities` is ``sampling::inclusionprobabilities(a, n)``:
  π_k = n·a_k/Σa; units reaching 1 are taken with certainty (π = 1) and the others are
  recomputed with n minus the certainties over their own total, until no new unit
  reaches 1. Negative sizes count as 0, as in R.
* :func:`systematic_sample` is ``sampling::UPsystematic(pik)`` with its random start
  ``u`` given instead of drawn (R calls ``runif(1)`` inside): over the units with
  ε < π < 1 − ε in frame order, a = (c(0, cumsum(π)) − u) mod 1 and unit k is selected
  when a_k > a_{k+1}; units with π ≥ 1 − ε are selected, units with π ≤ ε never.
* :func:`stratum_start` derives each stratum's u from the plan's recorded seed and the
  stratum's name, so the same seed draws the same schools on any machine, and adding
  a stratum does not change the others' starts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

EPSILON = 1e-6  # UPsystematic's eps


def inclusion_probabilities(
    sizes: Sequence[float] | NDArray[np.float64], n: int
) -> NDArray[np.float64]:
    """π for drawing ``n`` units with probability proportional to ``sizes``."""
    a = np.maximum(np.asarray(sizes, dtype=float), 0.0)
    if n < 0 or n > np.count_nonzero(a):
        raise ValueError(f"cannot draw {n} of {np.count_nonzero(a)} units of positive size")
    if not a.any():
        return a
    pik = n * a / a.sum()
    positive = pik > 0
    inner = pik[positive]
    certain = inner >= 1
    taken = int(certain.sum())
    if taken:
        before = -1
        while taken != before:
            rest = inner[~certain]
            inner[~certain] = (n - taken) * rest / rest.sum()
            inner[certain] = 1.0
            before = taken
            certain = inner >= 1
            taken = int(certain.sum())
        pik[positive] = inner
    return pik


def systematic_sample(pik: Sequence[float] | NDArray[np.float64], u: float) -> NDArray[np.bool_]:
    """Which units a systematic πps draw with random start ``u`` ∈ [0, 1) selects."""
    pi = np.asarray(pik, dtype=float)
    if not 0 <= u < 1:
        raise ValueError("the random start u is in [0, 1)")
    drawn = (pi > EPSILON) & (pi < 1 - EPSILON)
    inner = pi[drawn]
    a = (np.concatenate(([0.0], np.cumsum(inner))) - u) % 1
    selected = pi >= 1 - EPSILON
    selected[drawn] = a[:-1] > a[1:]
    return selected


def stratum_start(seed: int, stratum: str) -> float:
    """The stratum's random start u ∈ [0, 1): the first 53 bits of
    SHA-256("<seed>:<stratum>") as a binary fraction (exactly representable)."""
    digest = hashlib.sha256(f"{seed}:{stratum}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / float(1 << 53)
