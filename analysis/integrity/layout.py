"""Rows of a block grouped into (school, group) cells and the cells into reference pools.

A cell's reference ("pool") is the other schools of the same stratum and group in the
block; the county pool is the group's cells in every stratum (a fallback and a prior
for thin strata).  Everything is integer codes so the tests can use ``np.bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.integrity.blocks import ResponseBlock
from analysis.levels import factorize as levels_factorize

IntArray = NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class CellLayout:
    """``row_cell`` (n,) cell of each row; per cell: labels, size, school, pool and group
    codes."""

    row_cell: IntArray
    school: list[object]
    group: list[object]
    stratum: list[object]
    size: NDArray[np.int64]
    school_code: IntArray  # (cells,) the school, as a code
    pool: IntArray  # (cells,) stratum × group
    county: IntArray  # (cells,) group
    n_pools: int
    n_counties: int

    @property
    def n_cells(self) -> int:
        return len(self.school)


class InconsistentStratum(ValueError):
    """One school's rows name more than one stratum."""


def factorize(labels: NDArray[np.generic]) -> tuple[IntArray, list[object]]:
    """Codes 0..L-1 in order of first appearance, and the labels (any hashable type).

    Strings and integers go through :func:`analysis.levels.factorize` (hashed, not a
    Python loop: a million rows), whose sorted levels are then ranked by first row."""
    values = np.asarray(labels)
    if values.ndim != 1 or values.dtype.kind not in "iuUS" or values.size == 0:
        index: dict[object, int] = {}
        codes = np.empty(len(values), dtype=np.intp)
        for i, label in enumerate(values.tolist()):
            codes[i] = index.setdefault(label, len(index))
        return codes, list(index)
    levels, sorted_codes = levels_factorize(values)
    first = np.full(levels.size, values.size, dtype=np.intp)
    np.minimum.at(first, sorted_codes, np.arange(values.size, dtype=np.intp))
    order = np.argsort(first)
    rank = np.empty(order.size, dtype=np.intp)
    rank[order] = np.arange(order.size)
    return rank[sorted_codes], levels[order].tolist()


def layout_cells(block: ResponseBlock) -> CellLayout:
    school_code, schools = factorize(block.school)
    group_code, groups = factorize(block.group)
    stratum_code, strata = factorize(block.stratum)
    n_groups = max(len(groups), 1)
    row_cell, cell_keys = factorize(school_code * n_groups + group_code)
    keys = np.asarray(cell_keys, dtype=np.intp)
    n_cells = keys.shape[0]
    _, first = np.unique(row_cell, return_index=True)
    cell_stratum = stratum_code[first] if n_cells else np.empty(0, dtype=np.intp)
    mixed = np.flatnonzero(stratum_code != cell_stratum[row_cell])
    if mixed.size:
        row = int(mixed[0])
        raise InconsistentStratum(
            f"school {schools[school_code[row]]!r} is in stratum "
            f"{strata[cell_stratum[row_cell[row]]]!r} and {strata[stratum_code[row]]!r} "
            f"(row {row})"
        )
    cell_group = keys % n_groups
    pool, _ = factorize(cell_stratum * n_groups + cell_group)
    return CellLayout(
        row_cell=row_cell,
        school=[schools[k // n_groups] for k in keys.tolist()],
        group=[groups[k % n_groups] for k in keys.tolist()],
        stratum=[strata[s] for s in cell_stratum.tolist()],
        size=np.bincount(row_cell, minlength=n_cells).astype(np.int64),
        school_code=(keys // n_groups).astype(np.intp),
        pool=pool,
        county=cell_group.astype(np.intp),
        n_pools=int(pool.max()) + 1 if n_cells else 0,
        n_counties=n_groups,
    )


Packed = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


def packed_rows(matrix: NDArray[np.generic]) -> Packed | None:
    """Each row of a 2-D integer matrix as one int64 in mixed radix (column j's digit
    is its value − low[j], worth place[j]): (keys, low, place), or None when the
    columns' ranges need more than 62 bits. Equal rows, equal keys; a column's digit
    taken out (``keys − (m[:, j] − low[j]) × place[j]``) is the key of the row with that
    column masked."""
    m = np.asarray(matrix, dtype=np.int64)
    if m.shape[0] == 0 or m.shape[1] == 0:
        return None
    low = m.min(axis=0)
    span = m.max(axis=0) - low + 1
    if float(np.log2(span.astype(np.float64)).sum()) >= 62:
        return None
    place = np.ones(m.shape[1], dtype=np.int64)
    for j in range(m.shape[1] - 2, -1, -1):
        place[j] = place[j + 1] * span[j + 1]
    return (m - low) @ place, low, place


def row_ids(matrix: NDArray[np.generic]) -> IntArray:
    """Dense ids 0..U−1 of a 2-D integer matrix's rows: equal rows, equal ids.

    Rows are packed into one int64 (:func:`packed_rows`) when their ranges fit, which
    makes this a 1-D ``np.unique`` (``np.unique(axis=0)`` sorts structured rows, 10×
    slower)."""
    m = np.ascontiguousarray(matrix, dtype=np.int64)
    if m.shape[0] == 0 or m.shape[1] == 0:
        return np.zeros(m.shape[0], dtype=np.intp)
    packed = packed_rows(m)
    key: NDArray[np.generic] = (
        packed[0] if packed is not None else m.view(np.dtype((np.void, 8 * m.shape[1]))).ravel()
    )
    _, ids = np.unique(key, return_inverse=True)
    return ids.ravel().astype(np.intp)
