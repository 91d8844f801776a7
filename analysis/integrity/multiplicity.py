"""Combining a cell's tests and controlling the false-discovery rate across cells."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def bonferroni_min(p_values: FloatArray) -> FloatArray:
    """Per row of (cells, tests): the smallest p times the number of tests, at most 1.

    Valid whatever the dependence between a cell's tests (they share the answers)."""
    if p_values.shape[1] == 0:
        return np.ones(p_values.shape[0])
    return np.minimum(1.0, p_values.min(axis=1) * p_values.shape[1])


def benjamini_hochberg(p_values: FloatArray, fdr: float) -> tuple[NDArray[np.bool_], FloatArray]:
    """Rejections at false-discovery rate ``fdr`` and the adjusted p-values (R's
    ``p.adjust(p, method = "BH")``): q_(i) = min_{j ≥ i} m p_(j) / j, capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.shape[0]
    if m == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted_sorted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted <= fdr, adjusted
