"""One stage of R's stratified Taylor variance (``survey:::onestage``/``onestrat``).

Shared by :class:`analysis.design.SurveyDesign` for both stages: at stage 1 the
groups are strata and the units PSUs; at stage 2 the groups are PSUs and the units
second-stage units. Every ``survey.lonely.psu`` option is handled as R does.

A stage may carry one factor f per unit (``Stage.unit_f``) instead of one per group:
R's ``pps="brewer"``, where each PSU has its own (1 − π_i). The unit's term is then
f_u·n_g/(n_g − 1)·(z_u − z̄_g)², z̄_g the plain mean of the group's units.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

_CENSUS_TOLERANCE = 1e-7  # R's onestrat: a stage with all f < 1e-7 adds no variance


class LonelyPSUError(ValueError):
    """A stratum (or a first-stage unit, at stage 2) holds a single sampled unit."""


class Stage(NamedTuple):
    """One stage of the design: the units' groups and what R's ``onestrat`` needs.

    Stage 1: groups are strata, units PSUs; stage 2: groups are PSUs, units SSUs.
    """

    unit_group: np.ndarray  # group of each unit
    n_g: np.ndarray  # units sampled per group
    f_g: np.ndarray  # (N - n)/N per group
    extra: np.ndarray  # a further factor per group (stage 2: n_h/N_h of the PSU)
    present: np.ndarray  # groups reached by the (sub)design
    lonely: str  # survey.lonely.psu
    label: Callable[[int], object]  # a group's name, for the lonely-PSU error
    number: int  # 1 or 2
    unit_f: np.ndarray | None = None  # (N - n)/N per unit (Brewer: 1 - pi); f_g = group max


def stage_scale(stage: Stage) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-group variance factor, whether to centre, and R's ``nokstrat``."""
    n_g, f_g, present, lonely = stage.n_g, stage.f_g, stage.present, stage.lonely
    census = f_g < _CENSUS_TOLERANCE
    single = (n_g == 1) & ~census & present
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(n_g > 1, f_g * n_g / (n_g - 1), f_g)
    scale = np.where(census | ~present, 0.0, scale) * stage.extra
    centre = np.ones(n_g.size, dtype=bool)
    n_ok = int(present.sum())
    if single.any():
        first = int(np.flatnonzero(single)[0])
        if lonely == "fail":
            raise LonelyPSUError(
                f"Stratum ({stage.label(first)}) has only one PSU at stage {stage.number}"
            )
        if lonely in ("remove", "certainty"):
            scale = np.where(single, 0.0, scale)
        elif lonely == "adjust":
            centre = ~single  # R does not centre a lonely unit: its deviation is from 0
        elif lonely == "average":
            scale = np.where(single, 0.0, scale)
            n_ok -= int(single.sum())
    return scale, centre, n_ok


def unit_scale(stage: Stage, scale: np.ndarray) -> np.ndarray:
    """Per-unit factor: the group's ``scale`` (:func:`stage_scale`), or with
    ``unit_f`` each unit's own f·n/(n − 1)·extra where the group's scale is not 0."""
    group = stage.unit_group
    if stage.unit_f is None:
        return scale[group]
    n_g = stage.n_g[group]
    with np.errstate(invalid="ignore", divide="ignore"):
        own = np.where(n_g > 1, stage.unit_f * n_g / (n_g - 1), stage.unit_f)
    return np.where(scale[group] != 0, own * stage.extra[group], 0.0)


def stage_variance_cells(
    z: np.ndarray,
    cell_unit: np.ndarray,
    cell_block: np.ndarray,
    n_blocks: int,
    stage: Stage,
) -> tuple[np.ndarray, int]:
    """:func:`stage_variance` on a sparse (unit, block) table of totals.

    Σ_u s (z_u − m)(z_u − m)ᵀ = Σ_u s z_u z_uᵀ − Σ_g s_g S_g S_gᵀ / n_g, with the
    first sum over pairs of cells of the same unit and S_g the group sums.
    """
    k = z.shape[1]
    width = n_blocks * k
    unit_group, n_g = stage.unit_group, stage.n_g
    scale, centre, n_ok = stage_scale(stage)
    order = np.lexsort((cell_block, cell_unit))
    z, cell_unit, cell_block = z[order], cell_unit[order], cell_block[order]
    n_units = unit_group.size
    per_unit = np.bincount(cell_unit, minlength=n_units)
    start = np.cumsum(per_unit) - per_unit
    reps = per_unit[cell_unit]
    a_idx = np.repeat(np.arange(z.shape[0]), reps)
    offset = np.arange(a_idx.size) - np.repeat(np.cumsum(reps) - reps, reps)
    b_idx = start[cell_unit[a_idx]] + offset
    own_scale = unit_scale(stage, scale) if stage.unit_f is not None else None
    if own_scale is None:
        pair_scale = scale[unit_group[cell_unit[a_idx]]]
    else:
        pair_scale = own_scale[cell_unit[a_idx]]
    pair_key = cell_block[a_idx] * n_blocks + cell_block[b_idx]
    v = np.zeros((width, width))
    sort = np.argsort(pair_key, kind="stable")
    keys, first = np.unique(pair_key[sort], return_index=True)
    bounds = np.append(first, sort.size)
    for key, lo, hi in zip(keys, bounds[:-1], bounds[1:], strict=True):
        sel = sort[lo:hi]
        ba, bb = divmod(int(key), n_blocks)
        v[ba * k : (ba + 1) * k, bb * k : (bb + 1) * k] += z[a_idx[sel]].T @ (
            z[b_idx[sel]] * pair_scale[sel][:, None]
        )
    by_block = np.zeros((n_g.size, n_blocks, k))
    np.add.at(by_block, (unit_group[cell_unit], cell_block), z)
    group_sums = by_block.reshape(n_g.size, width)
    if own_scale is not None:
        # Σ s_u (z_u − m)(z_u − m)ᵀ = Σ s_u z_u z_uᵀ − m Tᵀ − T mᵀ + σ m mᵀ with
        # m = S/n the group mean (0 where R does not centre), T = Σ s_u z_u, σ = Σ s_u
        scaled = np.zeros((n_g.size, n_blocks, k))
        np.add.at(scaled, (unit_group[cell_unit], cell_block), z * own_scale[cell_unit][:, None])
        t_sums = scaled.reshape(n_g.size, width)
        sigma = np.bincount(unit_group, weights=own_scale, minlength=n_g.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            m = np.where((centre & (n_g > 0))[:, None], group_sums / n_g[:, None], 0.0)
        v -= m.T @ t_sums + t_sums.T @ m - m.T @ (m * sigma[:, None])
        return v, n_ok
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(centre & (scale != 0), scale / n_g, 0.0)
    v -= group_sums.T @ (group_sums * factor[:, None])
    return v, n_ok


def stage_variance(z: np.ndarray, stage: Stage) -> tuple[np.ndarray, int]:
    """One stage of R's ``onestage``/``onestrat`` over all groups at once.

    z: (U,k) unit totals. Returns the summed covariance over present groups and how
    many present groups gave a finite answer (R's ``nokstrat``).
    """
    group, n_g = stage.unit_group, stage.n_g
    n_groups = n_g.size
    indicator = sp.csr_matrix(
        (np.ones(group.size), (group, np.arange(group.size))), shape=(n_groups, group.size)
    )
    means = np.asarray(indicator @ z) / np.maximum(n_g, 1)[:, None]
    deviations = z - means[group]
    scale, centre, n_ok = stage_scale(stage)
    if not centre.all():
        lonely_units = ~centre[group]
        deviations[lonely_units] = z[lonely_units]
    weighted = deviations * unit_scale(stage, scale)[:, None]
    return deviations.T @ weighted, n_ok


def stage_variance_diagonal(
    z: np.ndarray, unit: np.ndarray, stage: Stage
) -> tuple[np.ndarray, int]:
    """The diagonal of :func:`stage_variance` from the totals of some units only.

    z: (C,k) totals of the distinct units ``unit``; every other unit's total is 0 and
    adds only its (scaled) squared distance to the group mean, summed per group, so
    the cost follows the units with a total (a domain's), not all units.
    """
    groups = stage.n_g.size
    group = stage.unit_group[unit]
    scale, centre, n_ok = stage_scale(stage)
    own = unit_scale(stage, scale)
    to_group = sp.csr_matrix(
        (np.ones(unit.size), (group, np.arange(unit.size))), shape=(groups, unit.size)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(
            centre[:, None], np.asarray(to_group @ z) / np.maximum(stage.n_g, 1)[:, None], 0.0
        )
    deviations = z - mean[group]
    var = own[unit] @ (deviations * deviations)
    without = np.ones(stage.unit_group.size, dtype=bool)
    without[unit] = False
    rest = np.bincount(stage.unit_group[without], weights=own[without], minlength=groups)
    return var + rest @ (mean * mean), n_ok
