"""Stratified multistage survey designs and their Taylor-linearisation variance.

The formulas reproduce R's ``survey`` package (``svydesign``, ``svyrecvar``,
``multistage``, ``onestage``, ``onestrat``, ``degf``) for designs with strata and up
to two stages of clustering, including the finite population correction at each
stage and every ``options(survey.lonely.psu=...)`` choice.

Domains are estimated on the whole design (R's ``svyby`` / ``subset``): rows outside
a domain keep their place with a zero score; the ``present`` mask of
:meth:`SurveyDesign.variance_of_totals` tells which rows belong to the (sub)design,
which only matters for lonely-PSU strata (R drops absent strata from the count).

PPS without replacement at the first stage (``pps="brewer"``) is R's
``svydesign(ids=~school, strata=~stratum, weights=~w, fpc=~pi, pps="brewer")`` with
``fpc`` the schools' inclusion probabilities π: Brewer's approximation replaces the
stratum's (1 − n_h/N_h) by each school's own (1 − π_i),
Σ_h n_h/(n_h−1) Σ_i (1 − π_i)(z_hi − z̄_h)², z̄_h the plain mean of all n_h school
totals (certainty schools, π = 1, included: they add no term of their own but move
the mean). With a second stage (``cluster2``, ``fpc2`` the sampling fraction of each
second-stage unit within its school) R adds π_i × the school's own stage variance,
again with each unit's (1 − f). Leaving out ``fpc`` (and ``pps``) is the
with-replacement approximation, Σ_h n_h/(n_h−1) Σ_i (z_hi − z̄_h)², which overstates
the variance of a without-replacement draw the more the larger π is.
Which the platform uses: Brewer (``pps="brewer"``), with the respondents as the
second stage (``cluster2``/``fpc2``) whenever the within-school fractions are known:
the first stage alone leaves out π_i of each school's within-school variance (all of
it for a certainty school), the same understatement as a first-stage-only fpc
(:mod:`analysis.design_caveats` warns about both); the with-replacement form is the
fallback when π is not recorded. On tests/reference/pps_county.csv (pps_reference.R)
the SE of the recognition rate is 0.0084 (Brewer, first stage only), 0.0099 (Brewer
with the second stage) and 0.0137 (with replacement).
As in R, a PPS design's domains keep every row (R's ``subset`` sets the weight to 0),
so a lonely-PSU stratum counts whether or not the domain reaches it. R pairs the
scales with the PSUs by row order (``onestrat`` takes them in order of first
appearance but sums PSUs in sorted order), so R's answer is only right when the rows
are sorted by stratum and PSU; here every school keeps its own π whatever the order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp

from analysis.design_caveats import (
    DesignCaveat,
    first_stage_fpc_caveat,
    first_stage_pps_caveat,
)
from analysis.levels import Factor, factorize
from analysis.strata_variance import (
    LonelyPSUError,
    Stage,
    stage_scale,
    stage_variance,
    stage_variance_cells,
    stage_variance_diagonal,
    unit_scale,
)

__all__ = [
    "LONELY_PSU_OPTIONS",
    "PPS_OPTIONS",
    "PPS",
    "Calibration",
    "LonelyPSU",
    "LonelyPSUError",
    "SurveyDesign",
]

LonelyPSU = Literal["fail", "remove", "adjust", "certainty", "average"]
LONELY_PSU_OPTIONS: tuple[str, ...] = ("fail", "remove", "adjust", "certainty", "average")
PPS = Literal["brewer"]
PPS_OPTIONS: tuple[str, ...] = ("brewer",)


class Calibration(Protocol):
    """What ``analysis.weighting`` attaches to a calibrated design."""

    def residualise(self, scores: np.ndarray) -> np.ndarray:
        """Return the scores minus their projection on the calibration variables."""
        ...


def _codes(labels: np.ndarray | Factor, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes 0..K-1 (sorted label order, as R's factor) and the labels."""
    if isinstance(labels, Factor):
        uniques, codes = factorize(labels)
        return codes, uniques
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        raise ValueError(f"missing values in {name}")
    if labels.dtype.kind == "O" and any(v is None for v in labels):
        raise ValueError(f"missing values in {name}")
    uniques, codes = factorize(labels)
    return codes, uniques


def _pair_codes(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Codes of the interaction outer × inner (R's ``interaction``), 0..K-1."""
    key = outer.astype(np.int64) * (int(inner.max()) + 1 if inner.size else 1) + inner
    return factorize(key)[1]


def _group_first(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """The value of ``values`` at the first row of each group (constant within group)."""
    out = np.empty(n_groups, dtype=values.dtype)
    out[group[::-1]] = values[::-1]
    return out


def _popsize(fpc: np.ndarray, group: np.ndarray, n_sampled: np.ndarray, name: str) -> np.ndarray:
    """Per-group population size from R-style per-row fpc (population size > 1 or
    sampling fraction <= 1, R's ``as.fpc``); ``n_sampled`` is per group."""
    fpc = np.asarray(fpc, dtype=float)
    if np.isnan(fpc).any():
        raise ValueError(f"missing values in {name}")
    bad = np.flatnonzero(fpc <= 0)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name} must be positive: {fpc[i]} at row {i}")
    n_groups = n_sampled.size
    lo = np.full(n_groups, np.inf)
    hi = np.full(n_groups, -np.inf)
    np.minimum.at(lo, group, fpc)
    np.maximum.at(hi, group, fpc)
    if np.any(lo != hi):
        raise ValueError(f"{name} varies within a stratum")
    if np.any(fpc > 1) and not np.all(fpc >= 1):
        raise ValueError(f"{name}: must have all fpc >= 1 or all fpc <= 1")
    popsize = lo if np.any(fpc > 1) else n_sampled / lo
    if np.any(popsize < n_sampled):
        raise ValueError(f"{name} implies more than 100% sampling in some strata")
    return popsize


def _probabilities(fpc: np.ndarray, group: np.ndarray, n_groups: int, name: str) -> np.ndarray:
    """Per-group inclusion probability (or sampling fraction) from per-row ``fpc``
    under ``pps="brewer"``: in (0, 1] (R: "fpc must be specified as sampling fraction
    for PPS sampling") and the same on every row of a group."""
    fpc = np.asarray(fpc, dtype=float)
    if np.isnan(fpc).any():
        raise ValueError(f"missing values in {name}")
    bad = np.flatnonzero(~((fpc > 0) & (fpc <= 1)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name} must be a probability in (0, 1] with pps='brewer' (the inclusion "
            f"probability, not a population size): {fpc[i]} at row {i}"
        )
    lo = np.full(n_groups, np.inf)
    hi = np.full(n_groups, -np.inf)
    np.minimum.at(lo, group, fpc)
    np.maximum.at(hi, group, fpc)
    varies = np.flatnonzero(lo != hi)
    if varies.size:
        i = int(np.flatnonzero(group == varies[0])[0])
        unit = "cluster" if name == "fpc" else "second-stage unit"
        raise ValueError(f"{name} varies within a {unit} (the {unit} at row {i})")
    return lo


def _check_weights(w: np.ndarray) -> None:
    """Sampling weights: no missing, infinite or negative values (zeros are allowed,
    as in R) and, for a non-empty design, a finite positive total."""
    if np.isnan(w).any():
        raise ValueError("missing values in weights")
    for bad, what in ((~np.isfinite(w), "non-finite"), (w < 0, "negative")):
        rows = np.flatnonzero(bad)
        if rows.size:
            i = int(rows[0])
            raise ValueError(f"{what} weight at row {i}: {w[i]}")
    if w.size:
        with np.errstate(over="ignore"):
            total = float(w.sum())
        if not (math.isfinite(total) and total > 0):
            raise ValueError(f"weights must have a finite, positive total (sum {total})")


@dataclass(frozen=True, eq=False)
class SurveyDesign:
    """A stratified (two-stage) cluster design, as R's ``svydesign``.

    ``strata`` (codes 0..H-1), ``psu`` (codes 0..P-1, unique across the design) and
    optional ``ssu`` (second-stage unit codes 0..S-1, unique across the design) are
    per row. ``stratum_popsize`` is N_h, the number of PSUs in the population of each
    stratum (inf: no fpc); ``psu_popsize`` is the number of second-stage units in the
    population of each PSU. Build it with :meth:`from_arrays`.

    ``pps="brewer"``: PPS without replacement at the first stage, Brewer's
    approximation (see the module docstring); ``psu_pi`` is each PSU's inclusion
    probability π_i and ``unit_fraction`` (two-stage only, None: 0) each second-stage
    unit's sampling fraction within its PSU; ``stratum_popsize`` and ``psu_popsize``
    are then None.
    """

    weights: np.ndarray
    strata: np.ndarray
    psu: np.ndarray
    ssu: np.ndarray | None = None
    stratum_popsize: np.ndarray | None = None
    psu_popsize: np.ndarray | None = None
    strata_labels: tuple[object, ...] = ()
    lonely_psu: LonelyPSU = "fail"
    calibration: Calibration | None = None
    pps: PPS | None = None
    psu_pi: np.ndarray | None = None
    unit_fraction: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.lonely_psu not in LONELY_PSU_OPTIONS:
            raise ValueError(f"lonely_psu must be one of {LONELY_PSU_OPTIONS}")
        if self.pps is not None and (self.pps not in PPS_OPTIONS or self.psu_pi is None):
            raise ValueError(f"pps must be one of {PPS_OPTIONS}, with psu_pi")
        n = self.weights.shape[0]
        for name in ("strata", "psu", "ssu"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != (n,):
                raise ValueError(f"{name} must have one entry per row")

    # ---- construction ---------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        *,
        weights: np.ndarray | None = None,
        strata: np.ndarray | Factor | None = None,
        cluster: np.ndarray | Factor | None = None,
        fpc: np.ndarray | None = None,
        cluster2: np.ndarray | None = None,
        fpc2: np.ndarray | None = None,
        lonely_psu: LonelyPSU = "fail",
        nest: bool = False,
        n: int | None = None,
        pps: PPS | None = None,
    ) -> SurveyDesign:
        """Build a design as ``svydesign(ids=~cluster+cluster2, strata=, fpc=~fpc+fpc2,
        weights=, nest=)``.

        Labels may be any sortable values, or a :class:`Factor`. ``weights`` must be
        finite and >= 0 with a finite, positive total. ``fpc`` per row is the population
        number of PSUs in the stratum (> 1) or the sampling fraction (<= 1); ``fpc2`` the
        same for second-stage units within the PSU (omitted: infinite, f2 = 1); both
        must be > 0. Errors in a row name its 0-based index. Without weights, the weight is the
        product over stages of N/n (R), or 1 without an fpc. As in R, the second stage
        only enters the variance when ``fpc`` is given.

        ``pps="brewer"`` is R's ``pps="brewer"``: the first stage is drawn with
        probability proportional to size without replacement, ``fpc`` (required) is
        each row's PSU inclusion probability π in (0, 1] (1: a certainty PSU) and
        ``fpc2`` each row's sampling fraction within its PSU (omitted: 0, i.e. a
        second stage drawn with replacement); both the same on all rows of their unit.
        Without weights, the weight is 1/π (times 1/fpc2). Without ``pps`` (the
        default) nothing changes; without ``fpc`` either, the first stage is treated as
        drawn with replacement (R's with-replacement approximation).
        """
        if pps is not None and pps not in PPS_OPTIONS:
            raise ValueError(f"pps must be one of {PPS_OPTIONS} or None, not {pps!r}")
        if pps is not None and fpc is None:
            raise ValueError("pps='brewer' needs fpc: each row's first-stage inclusion probability")
        arrays = [a for a in (weights, strata, cluster, fpc, cluster2, fpc2) if a is not None]
        if n is None:
            if not arrays:
                raise ValueError("give at least one array or n")
            n = len(arrays[0])
        if any(len(a) != n for a in arrays):
            raise ValueError("all design arrays must have the same length")
        if strata is None:
            strata_codes, strata_labels = np.zeros(n, dtype=np.intp), np.array([1])
        else:
            strata_codes, strata_labels = _codes(strata, "strata")
        psu_raw = np.arange(n, dtype=np.intp) if cluster is None else _codes(cluster, "cluster")[0]
        if nest:
            psu_codes = _pair_codes(strata_codes, psu_raw)
        else:
            psu_codes = psu_raw
            n_psu = int(psu_codes.max()) + 1 if n else 0
            first_stratum = _group_first(psu_codes, strata_codes, n_psu)
            if n and np.any(first_stratum[psu_codes] != strata_codes):
                raise ValueError(
                    "clusters are not nested in strata at top level; you may want nest=True"
                )
        n_psu = int(psu_codes.max()) + 1 if n else 0
        psu_stratum = _group_first(psu_codes, strata_codes, n_psu)
        n_strata = len(strata_labels)
        n_psu_h = np.bincount(psu_stratum, minlength=n_strata).astype(float)

        ssu_codes = None
        n_ssu_p = np.zeros(n_psu)
        if cluster2 is not None:
            ssu_codes = _pair_codes(psu_codes, _codes(cluster2, "cluster2")[0])
            n_ssu = int(ssu_codes.max()) + 1 if n else 0
            ssu_psu = _group_first(ssu_codes, psu_codes, n_ssu)
            n_ssu_p = np.bincount(ssu_psu, minlength=n_psu).astype(float)
        elif fpc2 is not None:
            raise ValueError("fpc2 needs cluster2")

        if pps is not None and fpc is not None:
            return cls._from_pps(
                n,
                weights,
                strata_codes,
                strata_labels,
                psu_codes,
                ssu_codes,
                fpc,
                fpc2,
                lonely_psu,
                pps,
            )

        stratum_popsize = psu_popsize = None
        if fpc is not None:
            stratum_popsize = _popsize(fpc, strata_codes, n_psu_h, "fpc")
            if ssu_codes is not None:
                psu_popsize = (
                    np.full(n_psu, np.inf)
                    if fpc2 is None
                    else _popsize(fpc2, psu_codes, n_ssu_p, "fpc2")
                )
        elif fpc2 is not None:
            raise ValueError("fpc2 needs fpc for the first stage")

        if weights is None:
            w = np.ones(n)
            if stratum_popsize is not None:
                w = (stratum_popsize / n_psu_h)[strata_codes]
                if psu_popsize is not None:
                    w = w * (psu_popsize / n_ssu_p)[psu_codes]
                if not np.all(np.isfinite(w)):
                    raise ValueError("weights not supplied and can't be computed from fpc")
        else:
            w = np.asarray(weights, dtype=float)
            _check_weights(w)
        return cls(
            weights=w,
            strata=strata_codes,
            psu=psu_codes,
            ssu=ssu_codes,
            stratum_popsize=stratum_popsize,
            psu_popsize=psu_popsize,
            strata_labels=tuple(strata_labels.tolist()),
            lonely_psu=lonely_psu,
        )

    @classmethod
    def _from_pps(
        cls,
        n: int,
        weights: np.ndarray | None,
        strata_codes: np.ndarray,
        strata_labels: np.ndarray,
        psu_codes: np.ndarray,
        ssu_codes: np.ndarray | None,
        fpc: np.ndarray,
        fpc2: np.ndarray | None,
        lonely_psu: LonelyPSU,
        pps: PPS,
    ) -> SurveyDesign:
        """The rest of :meth:`from_arrays` for ``pps="brewer"``."""
        n_psu = int(psu_codes.max()) + 1 if n else 0
        psu_pi = _probabilities(fpc, psu_codes, n_psu, "fpc")
        unit_fraction = None
        if ssu_codes is not None and fpc2 is not None:
            n_ssu = int(ssu_codes.max()) + 1 if n else 0
            unit_fraction = _probabilities(fpc2, ssu_codes, n_ssu, "fpc2")
        if weights is None:
            if ssu_codes is not None and fpc2 is None:
                raise ValueError("weights not supplied and can't be computed from fpc")
            w = 1.0 / psu_pi[psu_codes]
            if ssu_codes is not None and unit_fraction is not None:
                w = w / unit_fraction[ssu_codes]
        else:
            w = np.asarray(weights, dtype=float)
            _check_weights(w)
        return cls(
            weights=w,
            strata=strata_codes,
            psu=psu_codes,
            ssu=ssu_codes,
            strata_labels=tuple(strata_labels.tolist()),
            lonely_psu=lonely_psu,
            pps=pps,
            psu_pi=psu_pi,
            unit_fraction=unit_fraction,
        )

    # ---- structure (cached) ---------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.weights.shape[0])

    @cached_property
    def n_strata(self) -> int:
        return int(self.strata.max()) + 1 if self.n else 0

    @cached_property
    def n_psu(self) -> int:
        return int(self.psu.max()) + 1 if self.n else 0

    @cached_property
    def psu_stratum(self) -> np.ndarray:
        """Stratum code of each PSU."""
        return _group_first(self.psu, self.strata, self.n_psu)

    @cached_property
    def psu_per_stratum(self) -> np.ndarray:
        """n_h: sampled PSUs per stratum (R's ``fpc$sampsize`` at stage 1)."""
        return np.bincount(self.psu_stratum, minlength=self.n_strata).astype(float)

    @property
    def two_stage(self) -> bool:
        """True when the second stage enters the variance (R: ``fpc`` given)."""
        return self.ssu is not None and (self.stratum_popsize is not None or self.pps is not None)

    @property
    def fpc_caveat(self) -> DesignCaveat | None:
        """First-stage-only fpc warning (:func:`first_stage_fpc_caveat`), or None."""
        if self.psu_pi is not None:
            return first_stage_pps_caveat(self.n, self.psu_pi, self.two_stage)
        n_h, popsize = self.psu_per_stratum, self.stratum_popsize
        return first_stage_fpc_caveat(self.n, self.n_psu, n_h, popsize, self.two_stage)

    @cached_property
    def unit(self) -> np.ndarray:
        """Codes of the finest units the variance needs (SSUs if two-stage, else PSUs)."""
        return self.ssu if self.two_stage and self.ssu is not None else self.psu

    @cached_property
    def n_units(self) -> int:
        return int(self.unit.max()) + 1 if self.n else 0

    @cached_property
    def unit_psu(self) -> np.ndarray:
        """PSU code of each unit."""
        return _group_first(self.unit, self.psu, self.n_units)

    @cached_property
    def _row_to_unit(self) -> sp.csr_matrix:
        ones = np.ones(self.n)
        return sp.csr_matrix((ones, (self.unit, np.arange(self.n))), shape=(self.n_units, self.n))

    def stratum_label(self, h: int) -> object:
        return self.strata_labels[h] if h < len(self.strata_labels) else h

    # ---- variance ---------------------------------------------------------------------
    def unit_totals(self, scores: np.ndarray) -> np.ndarray:
        """Sum (n,k) row scores to (U,k) unit totals in one sparse product."""
        x = np.asarray(scores, dtype=float)
        return np.asarray(self._row_to_unit @ (x if x.ndim == 2 else x[:, None]))

    def variance_of_totals(
        self, scores: np.ndarray, present: np.ndarray | None = None
    ) -> np.ndarray:
        """Covariance of estimated totals with per-row scores (already times the weight).

        R's ``svyrecvar(x*w, ...)``: stratified multistage Taylor linearisation with
        fpc and lonely-PSU handling. ``present`` (bool per row) marks the rows of the
        (sub)design; absent rows must have zero scores. Returns (k,k), or a 0-d array
        for 1-D scores.
        """
        x = np.asarray(scores, dtype=float)
        one_d = x.ndim == 1
        if one_d:
            x = x[:, None]
        if self.calibration is not None:
            x = np.asarray(self.calibration.residualise(x), dtype=float).reshape(x.shape)
        unit_present = None
        if present is not None:
            unit_present = (
                np.bincount(self.unit[np.asarray(present, bool)], minlength=self.n_units) > 0
            )
        v = self.variance_of_unit_totals(self.unit_totals(x), unit_present)
        return v[0, 0] if one_d else v

    def variance_of_unit_totals(
        self, totals: np.ndarray, unit_present: np.ndarray | None = None
    ) -> np.ndarray:
        """(k,k) covariance from (U,k) unit totals (see :meth:`unit_totals`).

        For callers that aggregate rows themselves; ignores ``calibration`` (use
        :meth:`variance_of_totals` on calibrated designs).
        """
        z_unit = np.asarray(totals, dtype=float)
        if z_unit.ndim == 1:
            z_unit = z_unit[:, None]
        k = z_unit.shape[1]
        if self.n == 0:
            return np.zeros((k, k))
        first, second = self._stages(unit_present)
        if second is None:
            return _finish(stage_variance(z_unit, first), first.present)
        to_psu = sp.csr_matrix(
            (np.ones(self.n_units), (self.unit_psu, np.arange(self.n_units))),
            shape=(self.n_psu, self.n_units),
        )
        v = _finish(stage_variance(np.asarray(to_psu @ z_unit), first), first.present)
        return v + _finish(stage_variance(z_unit, second), second.present, per_group=True)

    def variance_diagonal(
        self, totals: np.ndarray, units: np.ndarray, unit_present: np.ndarray | None = None
    ) -> np.ndarray:
        """The diagonal of :meth:`variance_of_unit_totals` when only the distinct
        ``units`` have non-zero totals ``totals`` (C,k): e.g. one domain's units.

        Costs O(C·k) plus O(units), not O(units·k) nor a (k,k) product.
        """
        z = np.asarray(totals, dtype=float)
        if z.ndim == 1:
            z = z[:, None]
        if self.n == 0:
            return np.zeros(z.shape[1])
        units = np.asarray(units, dtype=np.intp)
        first, second = self._stages(unit_present)
        if second is None:
            return _finish(stage_variance_diagonal(z, units, first), first.present)
        psu, to_psu = factorize(self.unit_psu[units])
        psu_z = np.asarray(
            sp.csr_matrix(
                (np.ones(units.size), (to_psu, np.arange(units.size))),
                shape=(psu.size, units.size),
            )
            @ z
        )
        v = _finish(stage_variance_diagonal(psu_z, psu, first), first.present)
        v2 = stage_variance_diagonal(z, units, second)
        return v + _finish(v2, second.present, per_group=True)

    @property
    def ssu_is_row(self) -> bool:
        """Two-stage with every second-stage unit a single row (respondents in schools)."""
        return self.two_stage and self.n_units == self.n

    @cached_property
    def row_stage2(self) -> tuple[np.ndarray, np.ndarray]:
        """With :attr:`ssu_is_row`: each row's stage-2 factor (R's f·n/(n − 1)·extra of
        its unit, 0 where the stage adds nothing) and its sum per PSU over all rows.

        Taken with every PSU present: a PSU the domain does not reach has no score,
        so its factor never matters (:meth:`variance_diagonal_of_rows`).
        """
        _, second = self._stages(None)
        if second is None or not self.ssu_is_row:
            raise ValueError("row_stage2 needs a two-stage design with one row per SSU")
        scale, _, _ = stage_scale(second)
        own = unit_scale(second, scale)[self.unit]
        return own, np.bincount(self.psu, weights=own, minlength=self.n_psu)

    def variance_diagonal_of_rows(
        self,
        psu_totals: np.ndarray,
        psus: np.ndarray,
        own_squares: np.ndarray,
        own_totals: np.ndarray,
        unit_present: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`variance_diagonal` when every SSU is one row (:attr:`ssu_is_row`),
        from per-PSU sums instead of one total per row.

        ``psu_totals`` (C,k): the domain's score totals of the distinct PSUs ``psus``;
        ``own_squares``/``own_totals`` (C,k): Σ_r s_r z_r² and Σ_r s_r z_r over the
        PSU's rows, s_r = ``row_stage2[0]``.  Stage 2 within PSU i is then
        Σ_r s_r (z_r − m_i)² = Σ s z² − 2 m_i Σ s z + m_i² Σ_i s (m_i the mean over all
        n_i rows, 0 where R does not centre), without a (rows, k) table.
        """
        z = np.asarray(psu_totals, dtype=float)
        if self.n == 0:
            return np.zeros(z.shape[1])
        psus = np.asarray(psus, dtype=np.intp)
        first, second = self._stages(unit_present)
        if second is None or not self.ssu_is_row:
            raise ValueError("variance_diagonal_of_rows needs one row per second-stage unit")
        v = _finish(stage_variance_diagonal(z, psus, first), first.present)
        _, centre, n_ok = stage_scale(second)
        sigma = self.row_stage2[1][psus]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(centre[psus][:, None], z / second.n_g[psus][:, None], 0.0)
        v2 = own_squares - 2.0 * mean * own_totals + mean * mean * sigma[:, None]
        return v + _finish((v2.sum(axis=0), n_ok), second.present, per_group=True)

    def variance_of_cells(
        self,
        cell_totals: np.ndarray,
        cell_unit: np.ndarray,
        cell_block: np.ndarray,
        n_blocks: int,
        unit_present: np.ndarray | None = None,
        dense_limit: float = 2e7,
    ) -> np.ndarray:
        """Covariance of B blocks × k columns of totals from a sparse (unit, block) table.

        ``cell_totals[c]`` (C,k) is the total of the scores of unit ``cell_unit[c]`` for
        block ``cell_block[c]`` (e.g. a respondent group); units without a cell have
        zero totals. Returns (B·k, B·k), index block·k + column, equal to
        :meth:`variance_of_unit_totals` on the dense (U, B·k) table but without
        building it when U·B·k exceeds ``dense_limit`` (many small units).
        """
        z = np.asarray(cell_totals, dtype=float)
        if z.ndim == 1:
            z = z[:, None]
        k = z.shape[1]
        if self.n == 0 or n_blocks == 0:
            return np.zeros((n_blocks * k, n_blocks * k))
        cell_unit = np.asarray(cell_unit, dtype=np.intp)
        cell_block = np.asarray(cell_block, dtype=np.intp)
        if self.n_units * n_blocks * k <= dense_limit:
            dense = np.zeros((self.n_units, n_blocks, k))
            np.add.at(dense, (cell_unit, cell_block), z)
            return self.variance_of_unit_totals(
                dense.reshape(self.n_units, n_blocks * k), unit_present
            )
        first, second = self._stages(unit_present)
        if second is None:
            return _finish(
                stage_variance_cells(z, cell_unit, cell_block, n_blocks, first), first.present
            )
        key = self.unit_psu[cell_unit] * n_blocks + cell_block
        psu_keys, inverse = np.unique(key, return_inverse=True)
        psu_z = np.zeros((psu_keys.size, k))
        np.add.at(psu_z, inverse, z)
        v = _finish(
            stage_variance_cells(psu_z, psu_keys // n_blocks, psu_keys % n_blocks, n_blocks, first),
            first.present,
        )
        v2 = stage_variance_cells(z, cell_unit, cell_block, n_blocks, second)
        return v + _finish(v2, second.present, per_group=True)

    def _stages(self, unit_present: np.ndarray | None) -> tuple[Stage, Stage | None]:
        """Stage 1 and (two-stage) stage 2 of the (sub)design with these units."""
        if self.psu_pi is not None:
            return self._pps_stages(self.psu_pi)
        if unit_present is None:
            unit_present = np.ones(self.n_units, dtype=bool)
        psu_present = np.bincount(self.unit_psu[unit_present], minlength=self.n_psu) > 0
        stratum_present = np.bincount(self.psu_stratum[psu_present], minlength=self.n_strata) > 0
        n_h = self.psu_per_stratum
        first = Stage(
            self.psu_stratum,
            n_h,
            self._finite_factor(self.stratum_popsize, n_h),
            np.ones(self.n_strata),
            stratum_present,
            self.lonely_psu,
            self.stratum_label,
            1,
        )
        if not self.two_stage:
            return first, None
        n_p = np.bincount(self.unit_psu, minlength=self.n_psu).astype(float)
        second = Stage(
            self.unit_psu,
            n_p,
            self._finite_factor(self.psu_popsize, n_p),
            self._stage1_fraction,
            psu_present,
            self.lonely_psu,
            lambda p: f"PSU {p}",
            2,
        )
        return first, second

    def _pps_stages(self, psu_pi: np.ndarray) -> tuple[Stage, Stage | None]:
        """Brewer's stages: per-unit f = 1 − π (stage 1) and 1 − fpc2 (stage 2, × π_i).

        R's ``subset`` keeps every row of a PPS design, so every group is present.
        """
        n_h = self.psu_per_stratum
        first = Stage(
            self.psu_stratum,
            n_h,
            _group_max(1.0 - psu_pi, self.psu_stratum, self.n_strata),
            np.ones(self.n_strata),
            np.ones(self.n_strata, dtype=bool),
            self.lonely_psu,
            self.stratum_label,
            1,
            1.0 - psu_pi,
        )
        if not self.two_stage:
            return first, None
        n_p = np.bincount(self.unit_psu, minlength=self.n_psu).astype(float)
        unit_f = np.ones(self.n_units) if self.unit_fraction is None else 1.0 - self.unit_fraction
        second = Stage(
            self.unit_psu,
            n_p,
            _group_max(unit_f, self.unit_psu, self.n_psu),
            psu_pi,
            np.ones(self.n_psu, dtype=bool),
            self.lonely_psu,
            lambda p: f"PSU {p}",
            2,
            unit_f,
        )
        return first, second

    @property
    def _stage1_fraction(self) -> np.ndarray:
        """n_h/N_h per PSU: R's multiplier of the second-stage variance."""
        popsize = self.stratum_popsize
        if popsize is None:
            popsize = np.full(self.n_strata, np.inf)
        return (self.psu_per_stratum / popsize)[self.psu_stratum]

    @staticmethod
    def _finite_factor(popsize: np.ndarray | None, n_sampled: np.ndarray) -> np.ndarray:
        """f = (N - n)/N per group (R's onestrat), 1 without fpc or for N = inf."""
        if popsize is None:
            return np.ones_like(n_sampled)
        with np.errstate(invalid="ignore", divide="ignore"):
            f = (popsize - n_sampled) / popsize
        return np.where(np.isinf(popsize), 1.0, f)

    # ---- degrees of freedom -------------------------------------------------------------
    def degrees_of_freedom(self, domain: np.ndarray | None = None) -> int:
        """R's ``degf``: PSUs minus strata among rows with nonzero weight in the domain."""
        rows = self.weights != 0
        if domain is not None:
            rows = rows & np.asarray(domain, dtype=bool)
        if not rows.any():
            return 0
        n_psu = int(np.count_nonzero(np.bincount(self.psu[rows], minlength=self.n_psu)))
        n_str = int(np.count_nonzero(np.bincount(self.strata[rows], minlength=self.n_strata)))
        return n_psu - n_str


def _group_max(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """The largest value in each group (-inf for a group without units)."""
    out = np.full(n_groups, -np.inf)
    np.maximum.at(out, group, values)
    return out


def _finish(
    result: tuple[np.ndarray, int], present: np.ndarray, per_group: bool = False
) -> np.ndarray:
    """R's rescaling of a stage: × present/ok groups (``onestage``), or NaN when a
    group is undefined at stage 2 (each PSU is its own ``onestage`` call there)."""
    v, n_ok = result
    n_present = int(present.sum())
    if per_group:
        return v if n_ok == n_present else v * np.nan
    return v * (n_present / n_ok) if n_ok else v * np.nan
