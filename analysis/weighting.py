"""Weight adjustment: post-stratification, raking and trimming (R ``survey``).

Each function takes a :class:`~analysis.design.SurveyDesign` and returns a new one
(``dataclasses.replace``) with adjusted weights.  Post-stratification and raking also
attach a calibration object whose ``residualise(scores)`` is what R's ``svyrecvar``
does with ``design$postStrata`` before the stratified-cluster variance, so that
``SurveyDesign.variance_of_totals`` gives R's standard errors after calibration.

Formulas (R ``survey`` 4.1, ``svyrecvar``):

* ``postStratify``: with cell c, old weights w0 and new weights w,
  x ← x − w · (Σ_c w0·x/w / Σ_c w0), i.e. the scores minus their old-weighted
  within-cell mean of x/w, times the new weight.
* ``rake``: R stores the post-stratification of every margin from the last raking
  sweep and, in ``svyrecvar``, runs ten sweeps of x ← x − w_m · ave_m(x/w_m) over the
  margins m (unweighted cell means, w_m the weights right after margin m's step).

Calibrations chain in the order they were applied, as R's list of ``postStrata``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from analysis.design import Calibration as CalibrationLike
    from analysis.design import SurveyDesign

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: R's ``svyrecvar`` runs a fixed ten sweeps of the raking residualisation.
RAKING_RESIDUAL_SWEEPS = 10


class WeightingError(ValueError):
    """A weight adjustment cannot be done with these cells or totals."""


class EmptyCellError(WeightingError):
    """A cell has a population total but no sampled weight (R: 'strata absent')."""


class RakingNotConvergedError(WeightingError):
    """Iterative proportional fitting did not reach the tolerance in max_iterations."""


@dataclass(frozen=True)
class PostStratumStep:
    """One post-stratification: cell codes 0..C-1 with old and new weights."""

    cells: IntArray
    n_cells: int
    old_weights: FloatArray
    new_weights: FloatArray

    def residualise(self, scores: FloatArray) -> FloatArray:
        psw = self.new_weights.copy()
        oldw = self.old_weights
        psw[(psw == 0) & (oldw == 0)] = 1.0
        x = scores.reshape(scores.shape[0], -1)
        old_total = np.bincount(self.cells, weights=oldw, minlength=self.n_cells)
        ratio = (oldw / psw)[:, None] * x
        means = _cell_sums(self.cells, ratio, self.n_cells) / old_total[:, None]
        return x - means[self.cells] * psw[:, None]


@dataclass(frozen=True)
class RakingStep:
    """Raking: the margins' post-stratifications from the last sweep (R class 'raking')."""

    margins: tuple[PostStratumStep, ...]
    sweeps: int = RAKING_RESIDUAL_SWEEPS

    def residualise(self, scores: FloatArray) -> FloatArray:
        x = scores.reshape(scores.shape[0], -1).astype(np.float64, copy=True)
        for _ in range(self.sweeps):
            for margin in self.margins:
                psw = margin.new_weights
                counts = np.bincount(margin.cells, minlength=margin.n_cells).astype(float)
                means = _cell_sums(margin.cells, x / psw[:, None], margin.n_cells)
                means /= np.where(counts > 0, counts, 1.0)[:, None]
                x -= psw[:, None] * means[margin.cells]
        return x


@dataclass(frozen=True)
class Calibration:
    """Chain of calibration steps, applied in order (R ``design$postStrata``)."""

    steps: tuple[PostStratumStep | RakingStep, ...]

    def residualise(self, scores: ArrayLike) -> FloatArray:
        """Return the calibrated scores, shape (n, k) (a 1-d input becomes (n, 1))."""
        x = np.asarray(scores, dtype=np.float64)
        x = x.reshape(x.shape[0], -1)
        for step in self.steps:
            x = step.residualise(x)
        return x


def post_stratify(
    design: SurveyDesign,
    cells: ArrayLike,
    population: Mapping[Hashable, float],
    *,
    partial: bool = False,
) -> SurveyDesign:
    """Post-stratify to known population counts (R ``postStratify``).

    ``cells`` holds one label per row; ``population`` maps each label to its
    population total (cells with total 0 and no sample are ignored).  A cell with a
    population total but no sample raises :class:`EmptyCellError` unless
    ``partial=True`` (then it is ignored, as R does); a sampled cell with no
    population total raises :class:`WeightingError`.
    """
    codes, n_cells, targets = _cell_targets(cells, population, partial=partial)
    old = np.asarray(design.weights, dtype=np.float64)
    new, step = _post_stratify_weights(old, codes, n_cells, targets)
    return _with_weights(design, new, _append(design, step))


def rake(
    design: SurveyDesign,
    margins: Sequence[tuple[ArrayLike, Mapping[Hashable, float]]],
    *,
    epsilon: float = 1.0,
    max_iterations: int = 10,
) -> SurveyDesign:
    """Rake to known margins by iterative proportional fitting (R ``rake``).

    ``margins`` is a sequence of (row labels, {label: population total}).  Each
    sweep post-stratifies on every margin in turn; it stops when the largest change
    in the weighted cross-table of all margins is below ``epsilon`` (R's
    ``control$epsilon``: an absolute count, or a fraction of the weight total when
    below 1).  Raises :class:`RakingNotConvergedError` after ``max_iterations``
    sweeps without convergence (R only warns) and :class:`EmptyCellError` for a
    margin cell with a population total but no sample.
    """
    if not margins:
        raise WeightingError("rake needs at least one margin")
    if max_iterations < 1:
        raise WeightingError("max_iterations must be at least 1")
    weights = np.asarray(design.weights, dtype=np.float64)
    prepared = [_cell_targets(labels, totals, partial=False) for labels, totals in margins]
    tol = epsilon * weights.sum() if epsilon < 1 else epsilon
    joint = np.zeros(weights.shape[0], dtype=np.intp)
    for codes, n_cells, _ in prepared:
        joint = joint * n_cells + codes
    joint_codes, joint = np.unique(joint, return_inverse=True)
    n_joint = joint_codes.shape[0]
    old_table = np.bincount(joint, weights=weights, minlength=n_joint)
    steps: list[PostStratumStep] = []
    change = np.inf
    for _ in range(max_iterations):
        steps = []
        for codes, n_cells, targets in prepared:
            weights, step = _post_stratify_weights(weights, codes, n_cells, targets)
            steps.append(step)
        new_table = np.bincount(joint, weights=weights, minlength=n_joint)
        change = float(np.max(np.abs(old_table - new_table)))
        if change < tol:
            return _with_weights(design, weights, _append(design, RakingStep(tuple(steps))))
        old_table = new_table
    raise RakingNotConvergedError(
        f"raking did not converge after {max_iterations} iterations "
        f"(largest change {change:.6g} >= epsilon {tol:.6g})"
    )


def trim_weights(
    design: SurveyDesign,
    *,
    lower: float = -np.inf,
    upper: float = np.inf,
    strict: bool = False,
) -> SurveyDesign:
    """Trim weights to [lower, upper] (R ``trimWeights``).

    The weight cut off is shared equally among the rows that were inside the bounds,
    so the total is kept.  That can push a row past a bound again; ``strict=True``
    repeats until no weight is outside (as R does).  Calibration is kept unchanged,
    as in R.
    """
    weights = np.asarray(design.weights, dtype=np.float64)
    trimmed_any = False
    while True:
        outside = (weights < lower) | (weights > upper)
        if not outside.any():
            break
        trimmed_any = True
        inside = ~outside
        if not inside.any():
            raise WeightingError("every weight is outside the trimming bounds")
        trimmed = np.clip(weights, lower, upper)
        cut = float((weights - trimmed).sum())
        trimmed[inside] += cut / inside.sum()
        weights = trimmed
        if not strict:
            break
    if not trimmed_any:
        return design
    return _with_weights(design, weights, design.calibration)


def _cell_sums(cells: IntArray, x: FloatArray, n_cells: int) -> FloatArray:
    out = np.empty((n_cells, x.shape[1]))
    for j in range(x.shape[1]):
        out[:, j] = np.bincount(cells, weights=x[:, j], minlength=n_cells)
    return out


def _cell_targets(
    labels: ArrayLike, population: Mapping[Hashable, float], *, partial: bool
) -> tuple[IntArray, int, FloatArray]:
    """Row codes 0..C-1, C, and the population total for each code."""
    values = np.asarray(labels)
    if values.ndim != 1:
        raise WeightingError("cell labels must be one label per row")
    levels, codes = np.unique(values, return_inverse=True)
    lookup = {_key(k): float(v) for k, v in population.items()}
    missing = [lev for lev in levels.tolist() if _key(lev) not in lookup]
    if missing:
        raise WeightingError(f"cells in the sample have no population total: {missing[:10]}")
    sampled = {_key(lev) for lev in levels.tolist()}
    empty = [k for k, v in lookup.items() if v > 0 and k not in sampled]
    if empty and not partial:
        raise EmptyCellError(
            f"cells with a population total have no sample: {empty[:10]} "
            "(pass partial=True to ignore them)"
        )
    targets = np.array([lookup[_key(lev)] for lev in levels.tolist()], dtype=np.float64)
    return codes.astype(np.intp), int(levels.shape[0]), targets


def _key(label: Any) -> Hashable:
    return label.item() if isinstance(label, np.generic) else label


def _post_stratify_weights(
    weights: FloatArray, codes: IntArray, n_cells: int, targets: FloatArray
) -> tuple[FloatArray, PostStratumStep]:
    sample = np.bincount(codes, weights=weights, minlength=n_cells)
    if np.any((sample <= 0) & (targets > 0)):
        raise EmptyCellError("a cell with a population total has zero sampled weight")
    factor = np.divide(targets, sample, out=np.zeros_like(targets), where=sample > 0)
    new = weights * factor[codes]
    return new, PostStratumStep(codes, n_cells, weights, new)


def _append(design: SurveyDesign, step: PostStratumStep | RakingStep) -> Calibration:
    current = getattr(design, "calibration", None)
    previous = current.steps if isinstance(current, Calibration) else ()
    if current is not None and not isinstance(current, Calibration):
        raise WeightingError("cannot chain onto a calibration of another kind")
    return Calibration((*previous, step))


def _with_weights(
    design: SurveyDesign, weights: FloatArray, calibration: CalibrationLike | None
) -> SurveyDesign:
    return dataclasses.replace(design, weights=weights, calibration=calibration)
