"""(unit, domain) cell tables shared by :mod:`analysis.estimators` and
:mod:`analysis.recognition_tables`: both sum the rows once into cells of one
finest unit (school or second-stage unit) × one domain, and work on those."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from analysis.design import SurveyDesign

FloatArray = NDArray[np.float64]


def compact_cells(
    key: NDArray[np.int64], n_keys: int
) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """The keys in use (sorted) and each row's cell 0..C-1; no sort when the key range
    is small."""
    if n_keys <= max(4 * key.shape[0], 1_000_000):
        used = np.bincount(key, minlength=n_keys) > 0
        return np.flatnonzero(used), (np.cumsum(used) - 1)[key]
    cell_keys, cell = np.unique(key, return_inverse=True)
    return cell_keys, cell.astype(np.intp)


def domain_df(
    design: SurveyDesign,
    cell_unit: NDArray[np.intp],
    cell_group: NDArray[np.intp],
    n_groups: int,
    present: FloatArray,
    cell_psu: NDArray[np.intp] | None = None,
) -> FloatArray:
    """R's ``degf`` per (domain, column), (n_groups, m): the PSUs with a present cell
    (``present`` (cells, m) non-zero) minus the strata of those PSUs.  ``cell_psu``: the
    cells' PSUs when known (cells of PSUs rather than finest units)."""
    psu = design.unit_psu[cell_unit] if cell_psu is None else cell_psu
    df = np.zeros((n_groups, present.shape[1]))
    for sign, codes, n_levels in (
        (1.0, psu, design.n_psu),
        (-1.0, design.psu_stratum[psu], design.n_strata),
    ):
        used, level = compact_cells(
            codes.astype(np.int64) * n_groups + cell_group, n_levels * n_groups
        )
        by_level = _any_by(level, present, used.size)
        to_group = sp.csr_matrix(
            (np.ones(used.size), (used % n_groups, np.arange(used.size))),
            shape=(n_groups, used.size),
        )
        df += sign * np.asarray(to_group @ by_level)
    return df


def _any_by(codes: NDArray[np.intp], present: FloatArray, n_levels: int) -> FloatArray:
    """(levels, m): 1 where any cell of the level is present."""
    to_level = sp.csr_matrix(
        (np.ones(codes.shape[0]), (codes, np.arange(codes.shape[0]))),
        shape=(n_levels, codes.shape[0]),
    )
    return (np.asarray(to_level @ present) > 0).astype(np.float64)
