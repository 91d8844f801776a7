"""The 85% rule (社会认可度): recognition per group, item and content area, and the county score.

Every group is a domain of the whole design (R ``svyby`` / ``subset``).  An item's
recognition in a group is the share of recognised answers among the group's answers
to that item (不了解 and unanswered are NaN and leave the denominator); a group's rate
over several items is the ratio estimator Σ w·recognised answers / Σ w·answered items
(R ``svyratio``).  The county score is θ = Σ_g a_g p_g over the groups' rates, with
Var θ = aᵀVa from the joint covariance V of the group rates (R ``svyby(covmat=TRUE)``
+ ``svycontrast``): groups reached through the same schools are correlated.  Groups
drawn separately (deputies from their own list) add with zero covariance and the df
becomes Satterthwaite's.

Speed: rows are summed once into per-(unit, group) tables of weighted recognised and
answered counts (:mod:`analysis.recognition_tables`); everything after that works on
those tables (a few thousand rows), so a million responses take well under a
second.  Questionnaires with their own item columns (NaN in the others') and
open-link respondents who are each a PSU cost no more than a dense layout: the
scan skips each row's unasked columns and a variance visits the domain's units.
Post-stratified or raked designs (``analysis.weighting``) are residualised
on the tables as R's ``svyrecvar`` does on rows.

Known differences from R: ``RecognitionRule(nchs=True)`` (the default) caps the
Korn–Graubard effective n at n, R does not; on calibrated designs R's
``svyciprop(beta)`` uses the whole sample's row count (``subset`` keeps every row),
we use the domain's.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis import intervals
from analysis.design import SurveyDesign
from analysis.design_caveats import DesignCaveat
from analysis.levels import Factor
from analysis.recognition_tables import (
    AnswerPositions,
    CalibrationAdjustment,
    DomainTables,
    calibrated_estimates,
    codes,
)

FloatArray = NDArray[np.float64]
Verdict = Literal["met", "not_met", "inconclusive", "no_data"]


@dataclass(frozen=True)
class RecognitionRule:
    """How a rate is judged against the threshold (provincial practice: configuration).

    ``verdict="confidence"``: "met" when the one-sided (1−α) lower bound is at least
    the threshold, "not_met" when the one-sided upper bound is below it, otherwise
    "inconclusive".  ``verdict="point"``: "met" iff the estimate reaches the
    threshold.  Intervals are two-sided at level 1−2α, so their ends are the
    one-sided bounds.  Results with df < ``min_df`` or effective n <
    ``min_effective_n`` are flagged ``suppress`` (NCHS presentation standards).
    ``nchs=True`` caps the Korn–Graubard effective n at n (NCHS; R does not cap, so
    pass ``nchs=False`` to reproduce ``svyciprop(method="beta")`` exactly).
    """

    threshold: float = 0.85
    alpha: float = 0.05
    method: str = "beta"
    verdict: Literal["confidence", "point"] = "confidence"
    min_df: int = 8
    min_effective_n: float = 30.0
    nchs: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ValueError("threshold must be strictly between 0 and 1")
        if not 0 < self.alpha < 0.5:
            raise ValueError("alpha (one-sided) must be between 0 and 0.5")
        if self.method not in intervals.CI_METHODS:
            raise ValueError(f"unknown interval method {self.method!r}")


@dataclass(frozen=True)
class RateEstimate:
    """A recognition rate with its uncertainty and verdict (rates are 0..1)."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: Verdict
    n: int
    n_eff: float
    df: float
    suppress: bool

    @property
    def too_small(self) -> bool:
        return self.suppress


@dataclass(frozen=True)
class GroupRecognition:
    """One respondent group: its rate over answered items, per item, per content area."""

    group: Hashable
    rate: RateEstimate
    items: Mapping[Hashable, RateEstimate]
    areas: Mapping[Hashable, RateEstimate]


@dataclass(frozen=True)
class CountyScore:
    """θ = Σ_g a_g p_g over the group rates, with the joint covariance it used."""

    score: RateEstimate
    policy_weights: Mapping[Hashable, float]
    separately_drawn: tuple[Hashable, ...]
    groups: tuple[Hashable, ...]
    covariance: FloatArray = field(repr=False)
    se_if_independent: float


@dataclass(frozen=True)
class RecognitionReport:
    """Everything the 85% rule needs for one county survey.

    ``design_caveats`` holds warnings that leave every number unchanged but say the
    variance may be understated (e.g. :attr:`SurveyDesign.fpc_caveat`).
    """

    groups: Mapping[Hashable, GroupRecognition]
    items: Mapping[Hashable, RateEstimate]
    areas: Mapping[Hashable, RateEstimate]
    rate: RateEstimate
    county: CountyScore
    rule: RecognitionRule
    design_caveats: tuple[DesignCaveat, ...] = ()  # warnings about the design, for evaluators


def default_policy_weights(
    groups: Sequence[Hashable], parent_group: Hashable = "parent"
) -> dict[Hashable, float]:
    """National composition: parents 0.5, the other groups present share 0.5 equally.

    Without parents (or with parents alone) the groups present share equally.
    """
    others = [g for g in groups if g != parent_group]
    if parent_group not in groups or not others:
        return {g: 1.0 / len(groups) for g in groups}
    return {g: (0.5 if g == parent_group else 0.5 / len(others)) for g in groups}


def evaluate_recognition(
    design: SurveyDesign,
    groups: ArrayLike | Factor,
    recognised: ArrayLike | None,
    item_areas: Sequence[Hashable],
    *,
    items: Sequence[Hashable] | None = None,
    rule: RecognitionRule | None = None,
    policy_weights: Mapping[Hashable, float] | None = None,
    parent_group: Hashable = "parent",
    separately_drawn: Sequence[Hashable] = (),
    answers: AnswerPositions | None = None,
) -> RecognitionReport:
    """Evaluate the 85% rule on the whole survey.

    ``groups``: one group code per row (all groups in one design), or a
    :class:`Factor`.  ``recognised``: (rows, items) with 1 recognised, 0 not, NaN for
    不了解 or unanswered.
    ``item_areas``: the content area of each item.  ``policy_weights``: a_g per
    group code (non-negative, summing to 1; default :func:`default_policy_weights`).
    ``separately_drawn``: groups sampled from their own list, not through the schools
    (zero covariance with the others, Satterthwaite df for θ).  ``answers``:
    ``AnswerPositions.find(recognised)``, for several calls on the same answers (by
    group, by location, ...): the scan of the answer matrix is then done once; with
    ``answers`` (e.g. :meth:`AnswerPositions.from_blocks`) ``recognised`` may be
    ``None``, and the matrix is rebuilt only for a calibrated design.
    """
    rule = rule or RecognitionRule()
    if recognised is None:
        if answers is None:
            raise ValueError("give the recognised answers or their positions")
        positions = answers
        n_items = answers.n_items
    else:
        x = np.asarray(recognised, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != design.n:
            raise ValueError("recognised must be (rows, items) with one row per design row")
        n_items = x.shape[1]
        positions = AnswerPositions.find(x) if answers is None else answers
    item_codes = list(items) if items is not None else list(range(n_items))
    if len(item_areas) != n_items or len(item_codes) != n_items:
        raise ValueError("need one content area and one code per item")
    group_values = groups if isinstance(groups, Factor) else np.asarray(groups)
    if group_values.shape != (design.n,):
        raise ValueError("groups must hold one group code per design row")
    group_levels, g = codes(group_values)
    area_levels, area_of_item = np.unique(np.asarray(item_areas), return_inverse=True)
    to_area = np.zeros((n_items, int(area_of_item.max()) + 1 if n_items else 0))
    to_area[np.arange(n_items), area_of_item] = 1.0
    if positions.n_items != n_items or positions.span.shape != (design.n,):
        raise ValueError("answers were found on another answer matrix")
    n_groups = len(group_levels)
    tables = DomainTables.build(design, g, n_groups, positions, to_area)
    labels = [lv.item() if isinstance(lv, np.generic) else lv for lv in group_levels]
    adjust = None
    if design.calibration is not None:
        adjust = CalibrationAdjustment.build(design, tables, positions, g, to_area)
    if design.calibration is None or adjust is not None:
        p, var, rate_scores = tables.estimates_and_variances(design, adjust)
        est, overall_est, overall_var = p[:-1], p[-1], var[-1]
        var = var[:-1]
        covariance = design.variance_of_unit_totals(rate_scores)
    else:
        dense = positions.dense() if recognised is None else x
        est, var, overall_est, overall_var, covariance = calibrated_estimates(
            design, tables, g, dense, to_area
        )
    n_cols, df_cols = tables.counts_and_df(design)

    judged = _judge(est, var, n_cols[:n_groups], df_cols[:n_groups], rule)
    judged_all = _judge(overall_est, overall_var, n_cols[n_groups], df_cols[n_groups], rule)[0]
    areas = [lv.item() if isinstance(lv, np.generic) else lv for lv in area_levels]
    per_group = {
        labels[j]: GroupRecognition(
            group=labels[j],
            rate=judged[j][-1],
            items=dict(zip(item_codes, judged[j][:n_items], strict=True)),
            areas=dict(zip(areas, judged[j][n_items:-1], strict=True)),
        )
        for j in range(n_groups)
    }
    county = _county_score(
        design,
        tables,
        labels,
        est[:, -1],
        covariance,
        rule,
        policy_weights or default_policy_weights(labels, parent_group),
        separately_drawn,
    )
    return RecognitionReport(
        groups=per_group,
        items=dict(zip(item_codes, judged_all[:n_items], strict=True)),
        areas=dict(zip(areas, judged_all[n_items:-1], strict=True)),
        rate=judged_all[-1],
        county=county,
        rule=rule,
        design_caveats=tuple(c for c in (design.fpc_caveat,) if c is not None),
    )


def _judge(
    est: FloatArray, var: FloatArray, n: FloatArray, df: FloatArray, rule: RecognitionRule
) -> list[list[RateEstimate]]:
    """Intervals, p-values, verdicts and flags for arrays of estimates."""
    shape = np.shape(est)
    p, v = np.ravel(est).astype(float), np.ravel(var).astype(float)
    nn, dd = np.ravel(n).astype(float), np.ravel(df).astype(float)
    lo, hi, pval, n_eff = intervals.interval_arrays(
        p,
        np.sqrt(v),
        nn,
        dd,
        method=rule.method,  # type: ignore[arg-type]
        level=1 - 2 * rule.alpha,
        threshold=rule.threshold,
        nchs=rule.nchs,
    )
    ok = np.isfinite(p) & (nn > 0)
    suppress = ~ok | (dd < rule.min_df) | ~(n_eff >= rule.min_effective_n)
    out = [
        RateEstimate(
            estimate=float(p[i]),
            se=float(np.sqrt(v[i])),
            ci_low=float(lo[i]),
            ci_high=float(hi[i]),
            p_value=float(pval[i]),
            verdict=_verdict(p[i], lo[i], hi[i], bool(ok[i]), rule),
            n=int(nn[i]),
            n_eff=float(n_eff[i]),
            df=float(dd[i]),
            suppress=bool(suppress[i]),
        )
        for i in range(p.shape[0])
    ]
    if len(shape) <= 1:
        return [out]
    cols = shape[1]
    return [out[r * cols : (r + 1) * cols] for r in range(shape[0])]


def _verdict(p: float, lo: float, hi: float, ok: bool, rule: RecognitionRule) -> Verdict:
    if not ok:
        return "no_data"
    if rule.verdict == "point":
        return "met" if p >= rule.threshold else "not_met"
    if lo >= rule.threshold:
        return "met"
    if hi < rule.threshold:
        return "not_met"
    return "inconclusive"


def _county_score(
    design: SurveyDesign,
    tables: DomainTables,
    labels: list[Hashable],
    rates: FloatArray,
    cov: FloatArray,
    rule: RecognitionRule,
    policy_weights: Mapping[Hashable, float],
    separately_drawn: Sequence[Hashable],
) -> CountyScore:
    """θ = Σ a_g p_g with Var = aᵀVa (joint V), separately drawn groups independent."""
    unknown = set(policy_weights) - set(labels)
    if unknown:
        raise ValueError(
            f"policy weights for groups not in the survey: {sorted(map(str, unknown))}"
        )
    unknown = set(separately_drawn) - set(labels)
    if unknown:
        raise ValueError(f"separately drawn groups not in the survey: {sorted(map(str, unknown))}")
    a = np.array([float(policy_weights.get(lab, 0.0)) for lab in labels])
    if np.any(a < 0) or abs(a.sum() - 1.0) > 1e-9:
        raise ValueError("policy weights must be non-negative and sum to 1")
    separate = np.array([lab in set(separately_drawn) for lab in labels])
    joint = ~separate & (a != 0)
    v_joint = float(a[joint] @ cov[np.ix_(joint, joint)] @ a[joint])
    v_separate = a[separate] ** 2 * np.diag(cov)[separate]
    theta = float(a[a != 0] @ rates[a != 0])  # NaN (no data) when a weighted group has none
    group_rows = np.bincount(tables.cell_group, weights=tables.answered_rows[:, -1])
    n = float(group_rows[a != 0].sum())
    df_joint = _df_of_groups(design, tables, joint)
    df_separate = np.array(
        [_df_of_groups(design, tables, labels_mask) for labels_mask in np.diag(separate)[separate]]
    )
    parts = np.concatenate([[v_joint] if joint.any() else [], v_separate[a[separate] != 0]])
    dfs = np.concatenate([[df_joint] if joint.any() else [], df_separate[a[separate] != 0]])
    variance = float(parts.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        df = float(variance**2 / np.sum(parts**2 / dfs)) if len(parts) > 1 else float(dfs[0])
    score = _judge(np.array([theta]), np.array([variance]), np.array([n]), np.array([df]), rule)
    return CountyScore(
        score=score[0][0],
        policy_weights={lab: float(w) for lab, w in zip(labels, a, strict=True)},
        separately_drawn=tuple(lab for lab, s in zip(labels, separate, strict=True) if s),
        groups=tuple(labels),
        covariance=cov,
        se_if_independent=float(np.sqrt(np.sum(a**2 * np.diag(cov)))),
    )


def _df_of_groups(design: SurveyDesign, tables: DomainTables, mask: NDArray[np.bool_]) -> float:
    """R's degf of the subset of rows (with non-zero weight) in the chosen groups."""
    cells = mask[tables.cell_group] & (tables.weight != 0)
    psu = np.unique(tables.cell_psu(design)[cells])
    return float(psu.shape[0] - np.unique(design.psu_stratum[psu]).shape[0])
