"""Sorted levels and integer codes of a label array (R's ``factor``), without sorting a
million strings: ``np.unique`` on 1M fixed-width strings takes most of a second."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_SMALL_RANGE = 1_000_000
_HASH_STEP = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime


@dataclass(frozen=True)
class Factor:
    """Labels held as codes into a table of distinct levels (R's ``factor``), for columns
    a loader already has coded (a stratum's position among the campaign's strata): a
    million label strings are then never built, nor hashed again. Wherever the analysis
    takes a label column (strata, clusters, domains) it takes a Factor too."""

    codes: NDArray[np.integer]
    levels: NDArray[np.generic]

    def __post_init__(self) -> None:
        if self.codes.ndim != 1 or self.codes.dtype.kind not in "iu":
            raise ValueError("a factor's codes must be one-dimensional integers")
        if self.levels.ndim != 1 or np.unique(self.levels).size != self.levels.size:
            raise ValueError("a factor's levels must be distinct")
        if self.codes.size and not (self.codes.min() >= 0 and self.codes.max() < self.levels.size):
            raise ValueError("a factor's codes must index its levels")

    @property
    def shape(self) -> tuple[int, ...]:
        return self.codes.shape

    def __len__(self) -> int:
        return int(self.codes.size)

    def labels(self) -> NDArray[np.generic]:
        return self.levels[self.codes]


def factorize(
    values: NDArray[np.generic] | Factor,
) -> tuple[NDArray[np.generic], NDArray[np.intp]]:
    """Sorted distinct values and each value's index among them, as
    ``np.unique(values, return_inverse=True)`` gives them.

    A :class:`Factor` is re-coded through its (small) table of levels. Integers in a
    small range are counted, fixed-width strings hashed (checked: a collision falls
    back to the sort); anything else is sorted.
    """
    if isinstance(values, Factor):
        present = np.flatnonzero(np.bincount(values.codes, minlength=values.levels.size))
        order = present[np.argsort(values.levels[present], kind="stable")]
        rank = np.zeros(values.levels.size, dtype=np.intp)
        rank[order] = np.arange(order.size)
        return values.levels[order], rank[values.codes]
    values = np.asarray(values)
    if values.ndim != 1 or values.size == 0:
        levels, inverse = np.unique(values, return_inverse=True)
        return levels, inverse.reshape(-1).astype(np.intp)
    if values.dtype.kind in "iu":
        low, high = int(values.min()), int(values.max())
        if high - low < _SMALL_RANGE:
            used = np.bincount(values - low, minlength=high - low + 1) > 0
            levels = (np.flatnonzero(used) + low).astype(values.dtype)
            return levels, (np.cumsum(used) - 1)[values - low].astype(np.intp)
    if values.dtype.kind in "US" and values.dtype.itemsize % 4 == 0:
        found = _factorize_strings(values)
        if found is not None:
            return found
    levels, inverse = np.unique(values, return_inverse=True)
    return levels, inverse.astype(np.intp)


def _factorize_strings(
    values: NDArray[np.generic],
) -> tuple[NDArray[np.generic], NDArray[np.intp]] | None:
    """Hash each string's 4-byte words, factorise the hashes, check every row against
    its level; None on a hash collision."""
    contiguous = np.ascontiguousarray(values)
    word = np.uint64 if values.dtype.itemsize % 8 == 0 else np.uint32
    words = contiguous.view(word).reshape(values.size, -1)
    hashed = np.full(values.size, 0xCBF29CE484222325, dtype=np.uint64)
    for column in words.T:
        hashed ^= column.astype(np.uint64, copy=False)
        hashed *= _HASH_STEP
    # labels come in runs (rows of a school together): factorise one hash per run
    heads = np.flatnonzero(np.concatenate([[True], hashed[1:] != hashed[:-1]]))
    _, first_run, run_code = np.unique(hashed[heads], return_index=True, return_inverse=True)
    code = np.repeat(run_code, np.diff(np.append(heads, values.size)))
    first = heads[first_run]
    if not np.array_equal(words, words[first][code]):
        return None
    candidates = values[first]
    order = np.argsort(candidates, kind="stable")
    rank = np.empty(order.size, dtype=np.intp)
    rank[order] = np.arange(order.size)
    return candidates[order], rank[code]
