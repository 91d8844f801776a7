"""Per-(unit, group) tables behind :mod:`analysis.recognition`.

One pass over the rows fills, for every (school or second-stage unit, group) cell,
Σ w·recognised and Σ w·answered per item (only each row's span of asked items, the
NaN inside it and the 0 answers are visited: another questionnaire's columns cost
nothing), widened to content areas and to all items.  Variances use each domain's
own units (:meth:`SurveyDesign.variance_diagonal`), not a (units x columns) table.
Ratio estimates, their linearised scores (R ``svyratio``: (Σ w·y − p·Σ w·d)/Σ w·d
per unit) and R's domain df all come from these tables.  Calibrated designs take a
row-level path, since calibration cells cut across schools.  When every second-stage
unit is one row (``cluster2=np.arange(n)``, e.g. Brewer with respondents within
schools) the cells are (PSU, group) and the second stage comes from per-cell sums of
s·w·y, s·w²·y, ... (:class:`RowMoments`) instead of one cell per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from analysis.cells import compact_cells, domain_df
from analysis.design import SurveyDesign
from analysis.levels import Factor, factorize

FloatArray = NDArray[np.float64]


_BLOCK_CELLS = 1 << 19  # cells of the answer matrix handled at a time (~4 MB, in cache)
_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1)  # byte -> its 8 bits
_FIRST_BIT = np.array([8] + [int(np.argmax(b)) for b in _BITS[1:]])  # leading zero bits
_LAST_BIT = np.array([-1] + [7 - int(np.argmax(b[::-1])) for b in _BITS[1:]])
_FROM = (0xFF >> np.arange(9)).astype(np.uint8)  # bits s.. of a byte (big-endian order)
_BEFORE = ((0xFF << (8 - np.arange(9))) & 0xFF).astype(np.uint8)  # bits ..e-1


@dataclass(frozen=True)
class AnswerBlock:
    """The answers of some rows to their own item columns (one questionnaire version):
    ``meaning[i, j]`` is row ``rows[i]``'s answer to column ``columns[j]``, 1
    recognised, 0 not, -1 不了解, unanswered or not asked."""

    rows: NDArray[np.intp]
    columns: NDArray[np.intp]
    meaning: NDArray[np.int8]


@dataclass(frozen=True)
class AnswerPositions:
    """Where each row's answers lie, found once: the span from its first to its last
    answered item, the NaN inside that span and the 0 answers.

    A row is NaN everywhere outside its span, so questionnaires with their own item
    columns (the other questionnaires' columns "not asked") cost nothing: sums over a
    span follow from per-(key, span) row totals minus the few NaN inside it, and a
    million rows x 60 items never need a full float copy or a list of every NaN.
    """

    nan_row: NDArray[np.intp]  # NaN inside a row's span (不了解, unanswered)
    nan_item: NDArray[np.intp]
    zero_row: NDArray[np.intp]
    zero_item: NDArray[np.intp]
    n_items: int
    span: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, np.intp))  # per row
    span_items: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))  # (spans, items)

    @classmethod
    def find(cls, x: FloatArray) -> AnswerPositions:
        """Scan the answers once, a block of rows at a time (they must be 1, 0 or NaN)."""
        n, n_items = x.shape
        step = max(1, _BLOCK_CELLS // max(n_items, 1))
        parts = [_scan(x[start : start + step], start) for start in range(0, n, step)]
        lo = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.intp)
        hi = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.intp)
        spans, span = compact_cells(lo * (n_items + 1) + hi, (n_items + 1) ** 2)
        first, end = np.divmod(spans, n_items + 1)
        items = np.arange(n_items)
        span_items = ((items >= first[:, None]) & (items < end[:, None])).astype(np.float64)

        def joined(i: int) -> NDArray[np.intp]:
            return np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, np.intp)

        return cls(joined(2), joined(3), joined(4), joined(5), n_items, span, span_items)

    @classmethod
    def from_blocks(
        cls, n_rows: int, n_items: int, blocks: Sequence[AnswerBlock]
    ) -> AnswerPositions:
        """The positions straight from answers kept per questionnaire, never a (rows x
        items) float matrix: a loader that reads each questionnaire's rows with its own
        columns hands them over as they are (three quarters of a campaign's full matrix
        would be "not asked"). A block's columns are its rows' span; rows in no block
        have no answer."""
        span = np.zeros(n_rows, dtype=np.intp)
        span_items = np.zeros((len(blocks) + 1, n_items))
        found: list[tuple[NDArray[np.intp], ...]] = []
        for number, block in enumerate(blocks, start=1):
            meaning = block.meaning
            if meaning.shape != (block.rows.size, block.columns.size):
                raise ValueError("a block's meaning must be (its rows, its columns)")
            if meaning.size and not (meaning.min() >= -1 and meaning.max() <= 1):
                raise ValueError("a block's meaning must hold 1, 0 or -1 (NaN)")
            span[block.rows] = number
            span_items[number, block.columns] = 1.0
            nan_at = np.nonzero(meaning < 0)
            zero_at = np.nonzero(meaning == 0)
            found.append(
                (
                    block.rows[nan_at[0]],
                    block.columns[nan_at[1]],
                    block.rows[zero_at[0]],
                    block.columns[zero_at[1]],
                )
            )

        def joined(i: int) -> NDArray[np.intp]:
            parts = [f[i] for f in found]
            return np.concatenate(parts).astype(np.intp) if parts else np.zeros(0, np.intp)

        return cls(joined(0), joined(1), joined(2), joined(3), n_items, span, span_items)

    def dense(self) -> FloatArray:
        """The (rows x items) matrix these positions were found on: 1 recognised, 0 not,
        NaN for 不了解, unanswered or not asked (for the paths that need rows)."""
        x = np.where(self.span_items[self.span] > 0, 1.0, np.nan)
        x[self.zero_row, self.zero_item] = 0.0
        x[self.nan_row, self.nan_item] = np.nan
        return x

    def sums(
        self, key: NDArray[np.intp], n_keys: int, weights: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per key x item: Σ weight·recognised, Σ weight·answered, answered rows."""
        (num, den), count = self.weighted_sums(key, n_keys, (weights,))
        return num[0], den[0], count

    def weighted_sums(
        self, key: NDArray[np.intp], n_keys: int, weights: tuple[FloatArray, ...]
    ) -> tuple[tuple[list[FloatArray], list[FloatArray]], FloatArray]:
        """:meth:`sums` for several weights at once: ([Σ w·recognised per weight],
        [Σ w·answered per weight]), answered rows; the cells are found once."""
        k = self.n_items
        size = n_keys * k
        n_spans = self.span_items.shape[0]
        pair, cell = compact_cells(key.astype(np.int64) * n_spans + self.span, n_keys * n_spans)
        to_span = (pair // n_spans, pair % n_spans)

        def spanned(by_cell: NDArray[Any]) -> FloatArray:
            table = sp.csr_matrix((by_cell, to_span), shape=(n_keys, n_spans))
            return np.asarray(table @ self.span_items).reshape(n_keys, k)

        nan_key = key[self.nan_row] * k + self.nan_item
        zero_key = key[self.zero_row] * k + self.zero_item
        rows = spanned(np.bincount(cell, minlength=pair.size).astype(np.float64))
        count = rows - np.bincount(nan_key, minlength=size).astype(np.float64).reshape(n_keys, k)
        nums, dens = [], []
        for w in weights:
            nan_weight = np.bincount(nan_key, weights=w[self.nan_row], minlength=size)
            zero_weight = np.bincount(zero_key, weights=w[self.zero_row], minlength=size)
            weight = spanned(np.bincount(cell, weights=w, minlength=pair.size))
            den = np.where(count > 0, weight - nan_weight.reshape(n_keys, k), 0.0)
            nums.append(np.where(count > 0, den - zero_weight.reshape(n_keys, k), 0.0))
            dens.append(den)
        return (nums, dens), count


def _scan(block: FloatArray, start: int) -> tuple[NDArray[np.intp], ...]:
    """One block of rows: span ends, (row, item) of the NaN inside spans and of the 0s."""
    rows, n_items = block.shape
    answered = block == block
    zero = block == 0
    n_answered = int(np.count_nonzero(answered))
    if int(np.count_nonzero(block == 1)) + int(np.count_nonzero(zero)) != n_answered:
        raise ValueError("recognised must hold 1, 0 or NaN")
    if n_items == 0:
        none = np.zeros(rows, dtype=np.intp)
        return none, none, none[:0], none[:0], none[:0], none[:0]
    packed = np.packbits(answered, axis=1)
    width = packed.shape[1]
    byte = np.arange(width)
    used = packed != 0
    first = np.argmax(used, axis=1)
    last = np.max(used * (byte + 1), axis=1) - 1  # -1: no answer in the row
    at = np.arange(rows)
    lo = np.where(last >= 0, first * 8 + _FIRST_BIT[packed[at, first]], 0)
    hi = np.where(last >= 0, last * 8 + _LAST_BIT[packed[at, last]] + 1, 0)
    inside = np.where(
        (byte >= first[:, None]) & (byte <= last[:, None]), np.uint8(0xFF), np.uint8(0)
    )
    inside[at, first] &= _FROM[lo - first * 8]
    inside[at, last] &= _BEFORE[np.maximum(hi - last * 8, 0)]
    nan_row, nan_item = _bit_positions(~packed & inside, start)
    zero_row, zero_item = np.divmod(np.flatnonzero(zero), n_items)
    zero_row += start
    return lo, hi, nan_row, nan_item, zero_row, zero_item


def _bit_positions(packed: NDArray[np.uint8], start: int) -> tuple[NDArray[np.intp], ...]:
    """(row, item) of the set bits of rows packed by ``np.packbits(..., axis=1)``."""
    width = packed.shape[1]
    flat = packed.ravel()
    at = np.flatnonzero(flat)
    byte, bit = np.nonzero(_BITS[flat[at]])
    row, column = np.divmod(at[byte], width)
    return (row + start).astype(np.intp), (column * 8 + bit).astype(np.intp)


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
    rows: RowMoments | None = None  # cells are (PSU, group), SSUs single rows

    @classmethod
    def build(
        cls,
        design: SurveyDesign,
        g: NDArray[np.intp],
        n_groups: int,
        positions: AnswerPositions,
        to_area: FloatArray,
    ) -> DomainTables:
        """Cells of (finest unit, group); of (PSU, group) with :class:`RowMoments`
        when every second-stage unit is one row and no calibration or
        ``lonely_psu="average"`` needs unit-level scores."""
        by_psu = design.ssu_is_row and design.calibration is None and design.lonely_psu != "average"
        unit, n_units = (design.psu, design.n_psu) if by_psu else (design.unit, design.n_units)
        key = unit.astype(np.int64) * n_groups + g
        cell_keys, cell = compact_cells(key, n_units * n_groups)
        n_cells = cell_keys.shape[0]
        w = np.asarray(design.weights, dtype=np.float64)
        num, den, count = positions.sums(cell, n_cells, w)
        rows = np.bincount(cell, minlength=n_cells).astype(np.float64)
        n_wide = to_area.shape[1] + 1
        moments = RowMoments.build(design, cell, n_cells, g, positions, to_area) if by_psu else None
        return cls(
            cell_unit=(cell_keys // n_groups).astype(np.intp),
            cell_group=(cell_keys % n_groups).astype(np.intp),
            num=widen(num, to_area),
            den=widen(den, to_area),
            answered_rows=np.column_stack([count, np.repeat(rows[:, None], n_wide, axis=1)]),
            weight=np.bincount(cell, weights=w, minlength=n_cells).astype(np.float64),
            n_items=positions.n_items,
            m=positions.n_items + n_wide,
            rows=moments,
        )

    def cell_psu(self, design: SurveyDesign) -> NDArray[np.intp]:
        """The PSU of each cell."""
        return self.cell_unit if self.rows is not None else design.unit_psu[self.cell_unit]

    def totals(self) -> tuple[FloatArray, FloatArray]:
        """(groups + 1, m) Σ w·recognised and Σ w·answered; the last row is all groups."""
        n_groups = int(self.cell_group.max()) + 1
        to_group = self._to_group(n_groups)
        num = np.vstack([np.asarray(to_group @ self.num), np.zeros((1, self.m))])
        den = np.vstack([np.asarray(to_group @ self.den), np.zeros((1, self.m))])
        num[-1], den[-1] = num[:-1].sum(axis=0), den[:-1].sum(axis=0)
        return num, den

    def _to_group(self, n_groups: int) -> sp.csr_matrix:
        cells = self.cell_group.size
        return sp.csr_matrix(
            (np.ones(cells), (self.cell_group, np.arange(cells))), shape=(n_groups, cells)
        )

    def estimates_and_variances(
        self, design: SurveyDesign, adjust: CalibrationAdjustment | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Ratio estimates and variances, (groups + 1, m), and the unit-level scores of
        the group rates (units, groups) for the county score's joint covariance.

        Scores per unit: (Σ w·y − p·Σ w·d)/Σ_domain w·d (R ``svyratio``), minus the
        calibration's projection when the design is calibrated (then, as in R, the
        domain keeps every row and every stratum counts as present).  Without a
        calibration the variances come from each domain's own units only
        (:meth:`SurveyDesign.variance_diagonal`).
        """
        num, den = self.totals()
        with np.errstate(invalid="ignore", divide="ignore"):
            p = num / den
        if self.rows is not None and adjust is None:
            return self._row_variances(design, self.rows, p, den)
        if adjust is not None or design.lonely_psu == "average":
            return self._dense_variances(design, adjust, p, den)
        n_groups = p.shape[0] - 1
        var = np.empty_like(p)
        rate_scores = np.zeros((design.n_units, n_groups))
        for j in range(n_groups + 1):
            units, z = self.domain_scores(j, p[j], den[j])
            present = np.zeros(design.n_units, dtype=bool)
            present[units] = True
            var[j] = design.variance_diagonal(z, units, present)
            if j < n_groups:
                rate_scores[units, j] = z[:, -1]
        return p, var, rate_scores

    def domain_scores(
        self, j: int, p: FloatArray, den: FloatArray
    ) -> tuple[NDArray[np.intp], FloatArray]:
        """The distinct units of group j (j = groups: all) and their score totals."""
        n_groups = int(self.cell_group.max()) + 1
        cells = np.flatnonzero(self.cell_group == j) if j < n_groups else slice(None)
        answered = den > 0  # elsewhere every cell is 0 and so is the score
        z = self.num[cells] - np.where(answered, p, 0.0) * self.den[cells]
        np.divide(z, den, out=z, where=answered)
        units = self.cell_unit[cells]
        if j < n_groups or units.size == 0:
            return units, z
        new_unit = np.concatenate([[True], units[1:] != units[:-1]])  # cells sorted by unit
        of_unit = np.cumsum(new_unit) - 1
        to_unit = sp.csr_matrix(
            (np.ones(units.size), (of_unit, np.arange(units.size))),
            shape=(int(of_unit[-1]) + 1, units.size),
        )
        return units[new_unit], np.asarray(to_unit @ z)

    def _row_variances(
        self, design: SurveyDesign, rows: RowMoments, p: FloatArray, den: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:meth:`estimates_and_variances` from (PSU, group) cells and
        :class:`RowMoments` (every second-stage unit one row)."""
        n_groups = p.shape[0] - 1
        k = self.n_items
        var = np.empty_like(p)
        dd = np.where(den > 0, den, 1.0)  # no answers: every score is 0
        pp = np.where(den > 0, p, 0.0)
        wide_groups = rows.wide_squares(pp[:-1, k:], pp[-1, k:])
        for j in range(n_groups + 1):
            cells = np.flatnonzero(self.cell_group == j) if j < n_groups else slice(None)
            pj, dj = pp[j], dd[j]
            z = (self.num[cells] - pj * self.den[cells]) / dj
            t = (rows.lin_num[cells] - pj * rows.lin_den[cells]) / dj
            sq_num = rows.sq_num[cells]
            q_items = (1.0 - pj[:k]) ** 2 * sq_num + pj[:k] ** 2 * (rows.sq_den[cells] - sq_num)
            wide = wide_groups[0 if j < n_groups else 1][cells]
            q = np.column_stack([q_items, wide]) / (dj * dj)
            psus = self.cell_unit[cells]
            unit_present: NDArray[np.bool_] | None = None
            if j < n_groups:
                unit_present = np.zeros(design.n_units, dtype=bool)
                unit_present[design.unit[rows.group == j]] = True
            else:  # cells are sorted by PSU: sum each PSU's groups
                _, z = _sum_sorted(psus, z)
                _, t = _sum_sorted(psus, t)
                psus, q = _sum_sorted(psus, q)
            var[j] = design.variance_diagonal_of_rows(z, psus, q, t, unit_present)
        rate_scores = np.zeros((design.n_units, n_groups))
        g = rows.group
        rate_scores[design.unit, g] = (
            rows.weight * (rows.a[:, -1] - pp[g, -1] * rows.b[:, -1].astype(np.float64)) / dd[g, -1]
        )
        return p, var, rate_scores

    def _dense_variances(
        self,
        design: SurveyDesign,
        adjust: CalibrationAdjustment | None,
        p: FloatArray,
        den: FloatArray,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:meth:`estimates_and_variances` on full (units, m) score tables: calibrated
        designs and ``lonely_psu="average"`` (whose answer depends on each item's
        present strata)."""
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
        psu = self.cell_psu(design)
        weighted_rows = np.column_stack(
            [self.den[:, : self.n_items], np.repeat(self.weight[:, None], self.m - self.n_items, 1)]
        )
        present = (weighted_rows != 0).astype(np.float64)
        n = np.vstack(
            [np.asarray(self._to_group(n_groups) @ self.answered_rows), np.zeros((1, self.m))]
        )
        n[-1] = n[:-1].sum(axis=0)
        everyone = np.zeros_like(self.cell_group)
        df = np.vstack(
            [
                domain_df(design, self.cell_unit, self.cell_group, n_groups, present, psu),
                domain_df(design, self.cell_unit, everyone, 1, present, psu),
            ]
        )
        return n, df


def _sum_sorted(keys: NDArray[np.intp], values: FloatArray) -> tuple[NDArray[np.intp], FloatArray]:
    """Sums of ``values`` rows over runs of equal sorted ``keys``, and the keys."""
    new = np.concatenate([[True], keys[1:] != keys[:-1]])
    of_key = np.cumsum(new) - 1
    to_key = sp.csr_matrix(
        (np.ones(keys.size), (of_key, np.arange(keys.size))),
        shape=(int(of_key[-1]) + 1 if keys.size else 0, keys.size),
    )
    return keys[new], np.asarray(to_key @ values)


@dataclass(frozen=True)
class RowMoments:
    """Second-stage sums per (PSU, group) cell when every SSU is one row.

    With s_r the row's stage-2 factor (``SurveyDesign.row_stage2``), per cell and item:
    Σ s w² y, Σ s w² d (y recognised, d answered: 0/1, so y² = y, y·d = y), Σ s w y,
    Σ s w d; and per row the recognised and answered counts of the content areas and
    of all items, whose squares are not linear in the items.
    """

    sq_num: FloatArray  # (cells, items) Σ s w² y
    sq_den: FloatArray  # (cells, items) Σ s w² d
    lin_num: FloatArray  # (cells, m) Σ s w y, widened
    lin_den: FloatArray  # (cells, m) Σ s w d, widened
    a: NDArray[Any]  # (rows, areas + 1) recognised per content area and in all (counts)
    b: NDArray[Any]  # (rows, areas + 1) answered
    cell: NDArray[np.intp]  # each row's cell
    group: NDArray[np.intp]  # each row's group
    weight: FloatArray  # w per row
    square_weight: FloatArray  # s w² per row
    n_cells: int

    @classmethod
    def build(
        cls,
        design: SurveyDesign,
        cell: NDArray[np.intp],
        n_cells: int,
        g: NDArray[np.intp],
        positions: AnswerPositions,
        to_area: FloatArray,
    ) -> RowMoments:
        w = np.asarray(design.weights, dtype=np.float64)
        own = design.row_stage2[0]
        (nums, dens), _ = positions.weighted_sums(cell, n_cells, (own * w * w, own * w))
        (sq_num, lin_num), (sq_den, lin_den) = nums, dens
        n_areas = to_area.shape[1]
        width = n_areas + 1
        area_of_item = np.argmax(to_area, axis=1) if n_areas else np.zeros(0, np.intp)
        span_items = positions.span_items
        per_span = np.column_stack([span_items @ to_area, span_items.sum(axis=1)])
        count_type = np.min_scalar_type(positions.n_items)  # uint8 up to 255 items
        b = per_span.astype(count_type)[positions.span]
        a = b.copy()
        for row, item, into in (
            (positions.nan_row, positions.nan_item, (a, b)),
            (positions.zero_row, positions.zero_item, (a,)),
        ):
            # Each (row, area) and (row, all items) loses one per such answer; counted
            # with one sort rather than ufunc.at (several times slower on a million rows).
            cells, times = np.unique(
                np.concatenate([row * width + area_of_item[item], row * width + n_areas]),
                return_counts=True,
            )
            for table in into:
                flat = table.reshape(-1)
                flat[cells] -= times.astype(flat.dtype)
        return cls(
            sq_num=sq_num,
            sq_den=sq_den,
            lin_num=widen(lin_num, to_area),
            lin_den=widen(lin_den, to_area),
            a=a,
            b=b,
            cell=cell,
            group=g,
            weight=w,
            square_weight=own * w * w,
            n_cells=n_cells,
        )

    def wide_squares(self, p_rows: FloatArray, p_all: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Σ s w² (a − p b)² per cell of the area and all-item columns, with each row's
        own group's p (``p_rows``, (groups, areas + 1), by the row's group) and with
        the overall p; a block of rows at a time."""
        width = self.a.shape[1]
        by_group = np.zeros((self.n_cells, width))
        overall = np.zeros((self.n_cells, width))
        step = max(1, _BLOCK_CELLS // max(width, 1))
        for lo in range(0, self.cell.size, step):
            hi = min(lo + step, self.cell.size)
            a = self.a[lo:hi].astype(np.float64)
            b = self.b[lo:hi].astype(np.float64)
            to_cell = sp.csr_matrix(
                (self.square_weight[lo:hi], (self.cell[lo:hi], np.arange(hi - lo))),
                shape=(self.n_cells, hi - lo),
            )
            by_group += to_cell @ (a - p_rows[self.group[lo:hi]] * b) ** 2
            overall += to_cell @ (a - p_all * b) ** 2
        return by_group, overall


def codes(values: NDArray[np.generic] | Factor) -> tuple[NDArray[np.generic], NDArray[np.intp]]:
    """Sorted levels and codes 0..L-1 (:func:`analysis.levels.factorize`)."""
    return factorize(values)


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
