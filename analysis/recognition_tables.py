"""Per-(unit, group) tables behind :mod:`analysis.recognition`.

One pass over the rows fills, for every (school or second-stage unit, group) cell,
Σ w·recognised and Σ w·answered per item (only the NaN and the 0 answers are
visited), widened to content areas and to all items.  Ratio estimates, their
linearised scores (R ``svyratio``: (Σ w·y − p·Σ w·d)/Σ w·d per unit) and R's domain
df all come from these tables.  Calibrated designs take a row-level path, since
calibration cells cut across schools.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from analysis.cells import compact_cells, domain_df
from analysis.design import SurveyDesign

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class AnswerPositions:
    """Where the NaN and the 0 answers are, found once (a few % of the cells each).

    Sums over all answers follow from the row totals minus these, so a million rows
    x 30 items never need a full float copy of the answer matrix.
    """

    nan_row: NDArray[np.intp]
    nan_item: NDArray[np.intp]
    zero_row: NDArray[np.intp]
    zero_item: NDArray[np.intp]
    n_items: int

    @classmethod
    def find(cls, x: FloatArray) -> AnswerPositions:
        n, n_items = x.shape
        flat = x.ravel(order="A")  # no copy for C- or Fortran-ordered input
        fortran = x.flags.f_contiguous and not x.flags.c_contiguous
        nan = np.isnan(flat)
        zero = flat == 0
        n_one = int(np.count_nonzero(flat == 1))
        if n_one + int(np.count_nonzero(nan)) + int(np.count_nonzero(zero)) != flat.shape[0]:
            raise ValueError("recognised must hold 1, 0 or NaN")

        def where(mask: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
            idx = np.flatnonzero(mask)
            if fortran:
                item, row = np.divmod(idx, n)
            else:
                row, item = np.divmod(idx, n_items)
            return row, item

        nan_row, nan_item = where(nan)
        zero_row, zero_item = where(zero)
        return cls(nan_row, nan_item, zero_row, zero_item, n_items)

    def sums(
        self, key: NDArray[np.intp], n_keys: int, weights: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per key x item: Σ weight·recognised, Σ weight·answered, answered rows."""
        k = self.n_items
        size = n_keys * k
        total = np.bincount(key, weights=weights, minlength=n_keys).astype(np.float64)
        rows = np.bincount(key, minlength=n_keys).astype(np.float64)
        nan_key = key[self.nan_row] * k + self.nan_item
        nan_weight = np.bincount(nan_key, weights=weights[self.nan_row], minlength=size)
        nan_count = np.bincount(nan_key, minlength=size).astype(np.float64)
        zero_key = key[self.zero_row] * k + self.zero_item
        zero_weight = np.bincount(zero_key, weights=weights[self.zero_row], minlength=size)
        count = rows[:, None] - nan_count.reshape(n_keys, k)
        den = np.where(count > 0, total[:, None] - nan_weight.reshape(n_keys, k), 0.0)
        num = np.where(count > 0, den - zero_weight.reshape(n_keys, k), 0.0)
        return num, den, count


def widen(t: FloatArray, to_area: FloatArray) -> FloatArray:
    """Item columns -> items, content areas, all items (the m estimate columns)."""
    return np.column_stack([t, t @ to_area, t.sum(axis=1)])


@dataclass(frozen=True)
class DomainTables:
    """Per-(unit, group) cell sums; columns = items, content areas, all items."""

    cell_unit: NDArray[np.intp]
    cell_group: NDArray[np.intp]
    num: FloatArray  # (cells, m) Σ w·recognised
    den: FloatArray  # (cells, m) Σ w·answered
    answered_rows: FloatArray  # (cells, m) count of rows with an answer (items), rows (rest)
    weight: FloatArray  # (cells,) Σ w
    n_items: int
    m: int

    @classmethod
    def build(
        cls,
        design: SurveyDesign,
        g: NDArray[np.intp],
        n_groups: int,
        positions: AnswerPositions,
        to_area: FloatArray,
    ) -> DomainTables:
        key = design.unit.astype(np.int64) * n_groups + g
        cell_keys, cell = compact_cells(key, design.n_units * n_groups)
        n_cells = cell_keys.shape[0]
        w = np.asarray(design.weights, dtype=np.float64)
        num, den, count = positions.sums(cell, n_cells, w)
        rows = np.bincount(cell, minlength=n_cells).astype(np.float64)
        n_wide = to_area.shape[1] + 1
        return cls(
            cell_unit=(cell_keys // n_groups).astype(np.intp),
            cell_group=(cell_keys % n_groups).astype(np.intp),
            num=widen(num, to_area),
            den=widen(den, to_area),
            answered_rows=np.column_stack([count, np.repeat(rows[:, None], n_wide, axis=1)]),
            weight=np.bincount(cell, weights=w, minlength=n_cells).astype(np.float64),
            n_items=positions.n_items,
            m=positions.n_items + n_wide,
        )

    def totals(self) -> tuple[FloatArray, FloatArray]:
        """(groups + 1, m) Σ w·recognised and Σ w·answered; the last row is all groups."""
        n_groups = int(self.cell_group.max()) + 1
        num = np.zeros((n_groups + 1, self.m))
        den = np.zeros((n_groups + 1, self.m))
        np.add.at(num, self.cell_group, self.num)
        np.add.at(den, self.cell_group, self.den)
        num[-1], den[-1] = num[:-1].sum(axis=0), den[:-1].sum(axis=0)
        return num, den

    def estimates_and_variances(
        self, design: SurveyDesign, adjust: CalibrationAdjustment | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Ratio estimates and variances, (groups + 1, m), and the unit-level scores of
        the group rates (units, groups) for the county score's joint covariance.

        Scores per unit: (Σ w·y − p·Σ w·d)/Σ_domain w·d (R ``svyratio``), minus the
        calibration's projection when the design is calibrated (then, as in R, the
        domain keeps every row and every stratum counts as present).
        """
        num, den = self.totals()
        with np.errstate(invalid="ignore", divide="ignore"):
            p = num / den
        n_groups = p.shape[0] - 1
        var = np.empty_like(p)
        rate_scores = np.zeros((design.n_units, n_groups))
        for j in range(n_groups + 1):
            cells = self.cell_group == j if j < n_groups else np.ones_like(self.cell_group, bool)
            with np.errstate(invalid="ignore", divide="ignore"):
                z = np.nan_to_num((self.num[cells] - p[j] * self.den[cells]) / den[j])
            scores = np.zeros((design.n_units, self.m))
            np.add.at(scores, self.cell_unit[cells], z)
            present: NDArray[np.bool_] | None = None
            if adjust is not None:
                scores -= adjust.unit_block(j)
            else:
                present = np.zeros(design.n_units, dtype=bool)
                present[self.cell_unit[cells]] = True
            var[j] = _diag_variance(design, scores, present, self, cells)
            if j < n_groups:
                rate_scores[:, j] = scores[:, -1]
        return p, var, rate_scores

    def counts_and_df(self, design: SurveyDesign) -> tuple[FloatArray, FloatArray]:
        """Rows (n) and R's domain df for every (group or overall) x column."""
        n_groups = int(self.cell_group.max()) + 1
        weighted_rows = np.column_stack(
            [self.den[:, : self.n_items], np.repeat(self.weight[:, None], self.m - self.n_items, 1)]
        )
        present = (weighted_rows != 0).astype(np.float64)
        n = np.zeros((n_groups + 1, self.m))
        np.add.at(n, self.cell_group, self.answered_rows)
        n[-1] = n[:-1].sum(axis=0)
        everyone = np.zeros_like(self.cell_group)
        df = np.vstack(
            [
                domain_df(design, self.cell_unit, self.cell_group, n_groups, present),
                domain_df(design, self.cell_unit, everyone, 1, present),
            ]
        )
        return n, df


def codes(values: NDArray[np.generic]) -> tuple[NDArray[np.generic], NDArray[np.intp]]:
    """Sorted levels and codes 0..L-1; small-range integers without a sort."""
    if values.dtype.kind in "iu" and values.size:
        low, high = int(values.min()), int(values.max())
        if high - low < 1_000_000:
            used = np.bincount(values - low, minlength=high - low + 1) > 0
            levels = np.flatnonzero(used) + low
            return levels.astype(values.dtype), (np.cumsum(used) - 1)[values - low]
    levels, codes = np.unique(values, return_inverse=True)
    return levels, codes.astype(np.intp)


def _diag_variance(
    design: SurveyDesign,
    scores: FloatArray,
    present: NDArray[np.bool_] | None,
    tables: DomainTables,
    cells: NDArray[np.bool_],
) -> FloatArray:
    """Variances of the columns of unit-level scores.

    With ``lonely_psu="average"`` R's answer depends on which strata the domain
    reaches, so each item is done with its own present units (answered rows).
    """
    var = np.diag(design.variance_of_unit_totals(scores, present)).copy()
    if design.lonely_psu == "average" and present is not None:
        for k in range(tables.n_items):
            item_present = np.zeros(design.n_units, dtype=bool)
            item_present[tables.cell_unit[cells][tables.den[cells, k] != 0]] = True
            var[k] = design.variance_of_unit_totals(scores[:, [k]], item_present)[0, 0]
    return var


@dataclass(frozen=True)
class _Term:
    """One calibration variable set: rows' cells and the weights v it projects on."""

    cells: NDArray[np.intp]
    n_cells: int
    v: FloatArray


@dataclass(frozen=True)
class _Sweep:
    """x ← x − v_t · (Σ_c a·x / b_c): one residualisation of term t."""

    term: int
    a: FloatArray
    b: FloatArray


@dataclass(frozen=True)
class CalibrationAdjustment:
    """R's calibration residualisation (``svyrecvar`` postStrata) done on tables.

    The residualised scores are x − Σ_t v_t·β_t[cell_t], linear in the scores; the
    β follow from per-(cell, group) sums of the answers weighted by a = w0/w (post-
    stratification) or 1/w (raking margins) and small cell x cell cross tables, so no
    row-level score matrix is ever built.  ``unit_block(j)`` is Σ_t (Σ_{i∈u} v_t 1[cell])
    β_t for group j (the last block: all groups), to subtract from the unit totals.
    """

    terms: tuple[_Term, ...]
    betas: tuple[FloatArray, ...]  # per term (n_cells, (groups + 1) * m)
    design_unit: NDArray[np.intp]
    n_units: int
    m: int

    @classmethod
    def build(
        cls,
        design: SurveyDesign,
        tables: DomainTables,
        positions: AnswerPositions,
        g: NDArray[np.intp],
        to_area: FloatArray,
    ) -> CalibrationAdjustment | None:
        """None when the design's calibration is not one of ``analysis.weighting``'s."""
        from analysis.weighting import Calibration, PostStratumStep, RakingStep

        calibration = design.calibration
        if not isinstance(calibration, Calibration):
            return None
        terms: list[_Term] = []
        sweeps: list[_Sweep] = []
        for step in calibration.steps:
            if isinstance(step, PostStratumStep):
                psw = step.new_weights.copy()
                psw[(psw == 0) & (step.old_weights == 0)] = 1.0
                terms.append(_Term(step.cells, step.n_cells, psw))
                old_total = np.bincount(
                    step.cells, weights=step.old_weights, minlength=step.n_cells
                )
                sweeps.append(
                    _Sweep(len(terms) - 1, step.old_weights / psw, old_total.astype(np.float64))
                )
            elif isinstance(step, RakingStep):
                first = len(terms)
                for margin in step.margins:
                    terms.append(_Term(margin.cells, margin.n_cells, margin.new_weights))
                margin_sweeps = [
                    _Sweep(
                        first + i,
                        1.0 / margin.new_weights,
                        np.bincount(margin.cells, minlength=margin.n_cells).astype(float),
                    )
                    for i, margin in enumerate(step.margins)
                ]
                sweeps.extend(margin_sweeps * step.sweeps)
            else:
                return None
        num_total, den_total = tables.totals()
        with np.errstate(invalid="ignore", divide="ignore"):
            p = num_total / den_total
        n_groups = p.shape[0] - 1
        w = np.asarray(design.weights, dtype=np.float64)
        betas = [np.zeros((t.n_cells, (n_groups + 1) * tables.m)) for t in terms]
        raw: dict[int, FloatArray] = {}
        cross: dict[tuple[int, int], FloatArray] = {}
        for sweep in sweeps:
            term = terms[sweep.term]
            if sweep.term not in raw:
                raw[sweep.term] = _cell_scores(
                    term, sweep.a * w, positions, g, n_groups, to_area, p, den_total
                )
            sums = raw[sweep.term].copy()
            for t, other in enumerate(terms):
                if (sweep.term, t) not in cross:
                    key = term.cells.astype(np.int64) * other.n_cells + other.cells
                    table = np.bincount(
                        key, weights=sweep.a * other.v, minlength=term.n_cells * other.n_cells
                    )
                    cross[sweep.term, t] = table.astype(np.float64).reshape(term.n_cells, -1)
                sums -= cross[sweep.term, t] @ betas[t]
            with np.errstate(invalid="ignore", divide="ignore"):
                betas[sweep.term] += np.nan_to_num(sums / sweep.b[:, None])
        return cls(tuple(terms), tuple(betas), design.unit, design.n_units, tables.m)

    def unit_block(self, j: int) -> FloatArray:
        out = np.zeros((self.n_units, self.m))
        cols = slice(j * self.m, (j + 1) * self.m)
        for term, beta in zip(self.terms, self.betas, strict=True):
            to_cells = sp.csr_matrix(
                (term.v, (self.design_unit, term.cells)), shape=(self.n_units, term.n_cells)
            )
            out += np.asarray(to_cells @ beta[:, cols])
        return out


def _cell_scores(
    term: _Term,
    weights: FloatArray,
    positions: AnswerPositions,
    g: NDArray[np.intp],
    n_groups: int,
    to_area: FloatArray,
    p: FloatArray,
    den_total: FloatArray,
) -> FloatArray:
    """Σ_{i∈cell} a_i·z_i for every group's (and the overall) score columns."""
    key = term.cells.astype(np.intp) * n_groups + g
    num, den, _ = positions.sums(key, term.n_cells * n_groups, weights)
    num = widen(num, to_area).reshape(term.n_cells, n_groups, -1)
    den = widen(den, to_area).reshape(term.n_cells, n_groups, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        by_group = np.nan_to_num((num - p[None, :-1] * den) / den_total[None, :-1])
        overall = np.nan_to_num((num.sum(axis=1) - p[-1] * den.sum(axis=1)) / den_total[-1])
    return np.concatenate([by_group.reshape(term.n_cells, -1), overall], axis=1)


def calibrated_estimates(
    design: SurveyDesign,
    tables: DomainTables,
    g: NDArray[np.intp],
    x: FloatArray,
    to_area: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Estimates and variances on a design with a calibration of another kind.

    Row-level scores, one group at a time, through ``SurveyDesign.variance_of_totals``
    (which residualises them): correct for any calibration object, but it builds
    (rows x columns) score matrices and is not tuned for a million rows.  The
    calibrations of ``analysis.weighting`` use :class:`CalibrationAdjustment`.
    """
    n_groups = int(g.max()) + 1
    w = np.asarray(design.weights, dtype=np.float64)
    answered = (~np.isnan(x)).astype(np.float64)
    recognised = np.nan_to_num(x, nan=0.0)
    num = widen(recognised, to_area) * w[:, None]
    den = widen(answered, to_area) * w[:, None]
    est = np.empty((n_groups, tables.m))
    var = np.empty((n_groups, tables.m))
    rate_scores = np.zeros((design.n, n_groups))

    def scores(rows: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
        total_num, total_den = num[rows].sum(axis=0), den[rows].sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = total_num / total_den
            z = np.where(rows[:, None], (num - p * den) / total_den, 0.0)
        return p, np.nan_to_num(z)

    for j in range(n_groups):
        rows = g == j
        est[j], z = scores(rows)
        var[j] = np.diag(design.variance_of_totals(z))
        rate_scores[:, j] = z[:, -1]
    every = np.ones(design.n, dtype=bool)
    overall_est, z = scores(every)
    overall_var = np.diag(design.variance_of_totals(z))
    return est, var, overall_est, overall_var, design.variance_of_totals(rate_scores)
