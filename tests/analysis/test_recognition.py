"""The 85% rule against R's survey package on a simulated county survey.

Reference: tests/reference/weighting_reference.R (county_survey.csv, the "county" part
of weighting_reference.json): svyciprop(beta) per group x item, svyratio per group
and content area, svyby(covmat=TRUE) + svycontrast for the county score.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import intervals
from analysis.design import SurveyDesign
from analysis.recognition import (
    RateEstimate,
    RecognitionRule,
    _judge,
    default_policy_weights,
    evaluate_recognition,
)
from analysis.weighting import post_stratify, rake

HERE = Path(__file__).parents[1] / "reference"
REF = json.loads((HERE / "weighting_reference.json").read_text("utf-8"))["county"]
DATA = pd.read_csv(HERE / "county_survey.csv")
ITEMS = list(REF["items"])
AREAS = [REF["areas"][k] for k in ITEMS]
AREA_LEVELS = sorted(set(AREAS))
GROUPS = list(REF["groups"])
DEPUTY = 6
POLICY = dict(zip(GROUPS, REF["theta_rate"]["weights"], strict=True))
RTOL, CI_RTOL = 1e-9, 1e-7
R_RULE = RecognitionRule(nchs=False)  # R's svyciprop(beta) does not cap n_eff at n


def _design() -> SurveyDesign:
    return SurveyDesign.from_arrays(
        weights=DATA["w"].to_numpy(),
        strata=DATA["stratum"].to_numpy(),
        cluster=DATA["school"].to_numpy(),
        fpc=DATA["fpc"].to_numpy(),
    )


@pytest.fixture(scope="module")
def report():
    return _evaluate(R_RULE)


def _close(ours: RateEstimate, ref: dict, interval: str = "beta90") -> None:
    assert ours.estimate == pytest.approx(ref["estimate"], rel=RTOL)
    assert ours.se == pytest.approx(ref["se"], rel=RTOL, abs=1e-15)
    assert ours.n == ref["n"]
    assert ours.df == ref["df"]
    low, high = ref[interval]
    if ours.se > 0:  # R gives NaN intervals at p = 1 (we give a defined one)
        assert ours.ci_low == pytest.approx(low, rel=CI_RTOL)
        assert ours.ci_high == pytest.approx(high, rel=CI_RTOL)


@pytest.mark.parametrize("j", range(len(GROUPS)))
def test_group_items_match_svyciprop_beta(report, j) -> None:
    group = report.groups[GROUPS[j]]
    for k, item in enumerate(ITEMS):
        _close(group.items[item], REF["item_by_group"][j][k])


@pytest.mark.parametrize("j", range(len(GROUPS)))
def test_group_rate_and_areas_match_svyratio(report, j) -> None:
    group = report.groups[GROUPS[j]]
    _close(group.rate, REF["rate_by_group"][j])
    for a, area in enumerate(AREA_LEVELS):
        _close(group.areas[area], REF["area_by_group"][j][a])


def test_overall_items_areas_and_rate_match_r(report) -> None:
    for k, item in enumerate(ITEMS):
        _close(report.items[item], REF["item_overall"][k])
    for a, area in enumerate(AREA_LEVELS):
        _close(report.areas[area], REF["area_overall"][a])
    _close(report.rate, REF["rate_overall"])


def test_county_score_uses_joint_covariance_as_svycontrast(report) -> None:
    ref = REF["theta_rate"]
    county = report.county
    np.testing.assert_allclose(county.covariance, np.array(ref["covariance"]), rtol=RTOL)
    assert county.score.estimate == pytest.approx(ref["estimate"], rel=RTOL)
    assert county.score.se == pytest.approx(ref["se"], rel=RTOL)
    assert county.score.df == pytest.approx(ref["df_satterthwaite"], rel=RTOL)
    assert county.se_if_independent == pytest.approx(ref["se_if_independent"], rel=RTOL)
    # Independence would understate the SE by about a third in this county.
    assert county.se_if_independent < 0.75 * county.score.se
    assert county.separately_drawn == (DEPUTY,)


def test_county_score_of_one_item_matches_svyby_svymean_contrast() -> None:
    ref = REF["theta_y1"]
    one = evaluate_recognition(
        _design(),
        DATA["group"].to_numpy(),
        DATA[["y1"]].to_numpy(),
        ["A"],
        policy_weights=POLICY,
    )
    np.testing.assert_allclose(one.county.covariance, np.array(ref["covariance"]), rtol=RTOL)
    assert one.county.score.estimate == pytest.approx(ref["estimate"], rel=RTOL)
    assert one.county.score.se == pytest.approx(ref["se"], rel=RTOL)


def test_without_separate_groups_df_is_the_joint_domain_df() -> None:
    joint = evaluate_recognition(
        _design(), DATA["group"].to_numpy(), DATA[ITEMS].to_numpy(), AREAS, policy_weights=POLICY
    )
    # all groups through one design: df of the rows of every group = 61 (R degf).
    assert joint.county.score.df == REF["rate_overall"]["df"]
    assert joint.county.score.se == pytest.approx(REF["theta_rate"]["se"], rel=RTOL)


@pytest.mark.parametrize(
    ("shift", "verdict"),
    [(-1e-6, "met"), (+1e-6, "inconclusive")],
)
def test_confidence_verdict_turns_on_the_lower_bound(shift, verdict) -> None:
    low = REF["rate_by_group"][0]["beta90"][0]
    rule = RecognitionRule(threshold=low + shift, nchs=False)
    result = _evaluate(rule).groups[GROUPS[0]].rate
    assert result.verdict == verdict
    assert (result.p_value <= 0.05) == (verdict == "met")


@pytest.mark.parametrize(
    ("shift", "verdict"),
    [(+1e-6, "not_met"), (-1e-6, "inconclusive")],
)
def test_confidence_verdict_turns_on_the_upper_bound(shift, verdict) -> None:
    high = REF["rate_by_group"][0]["beta90"][1]
    rule = RecognitionRule(threshold=high + shift, nchs=False)
    result = _evaluate(rule).groups[GROUPS[0]].rate
    assert result.verdict == verdict


def test_point_verdict_uses_the_estimate_only() -> None:
    p = REF["rate_by_group"][0]["estimate"]
    assert _evaluate(RecognitionRule(threshold=p, verdict="point")).groups[1].rate.verdict == "met"
    below = _evaluate(RecognitionRule(threshold=p + 1e-9, verdict="point"))
    assert below.groups[1].rate.verdict == "not_met"


def test_small_domains_are_flagged() -> None:
    report = _evaluate(RecognitionRule(min_df=30))
    assert report.groups[DEPUTY].rate.suppress  # df 24
    assert not report.groups[1].rate.suppress  # df 37
    strict_n = _evaluate(RecognitionRule(min_effective_n=10_000))
    assert all(g.rate.too_small for g in strict_n.groups.values())


def test_an_item_nobody_answered_is_no_data_not_an_error() -> None:
    x = DATA[ITEMS].to_numpy().copy()
    x[DATA["group"].to_numpy() == 4, 0] = np.nan
    report = evaluate_recognition(_design(), DATA["group"].to_numpy(), x, AREAS, items=ITEMS)
    empty = report.groups[4].items["y1"]
    assert empty.verdict == "no_data"
    assert empty.n == 0
    assert empty.suppress
    assert np.isnan(empty.estimate)


def test_answers_other_than_one_zero_nan_are_refused() -> None:
    x = DATA[ITEMS].to_numpy().copy()
    x[0, 0] = 2.0
    with pytest.raises(ValueError, match="1, 0 or NaN"):
        evaluate_recognition(_design(), DATA["group"].to_numpy(), x, AREAS)


def test_default_policy_weights_give_parents_half() -> None:
    assert default_policy_weights(["parent", "student", "teacher"]) == {
        "parent": 0.5,
        "student": 0.25,
        "teacher": 0.25,
    }
    assert default_policy_weights(["student", "teacher"]) == {"student": 0.5, "teacher": 0.5}


def _evaluate(rule: RecognitionRule):
    return evaluate_recognition(
        _design(),
        DATA["group"].to_numpy(),
        DATA[ITEMS].to_numpy(),
        AREAS,
        items=ITEMS,
        rule=rule,
        policy_weights=POLICY,
        separately_drawn=[DEPUTY],
    )


def test_other_interval_methods_come_from_intervals_module() -> None:
    report = _evaluate(RecognitionRule(method="xlogit"))
    for j, group in enumerate(GROUPS):
        for k, item in enumerate(ITEMS):
            ours, ref = report.groups[group].items[item], REF["item_by_group"][j][k]
            if ours.se > 0:
                assert ours.ci_low == pytest.approx(ref["xlogit90"][0], rel=CI_RTOL)
                assert ours.ci_high == pytest.approx(ref["xlogit90"][1], rel=CI_RTOL)


@pytest.mark.parametrize("nchs", [True, False])
def test_judge_uses_the_intervals_module(nchs) -> None:
    rng = np.random.default_rng(5)
    p = np.r_[rng.uniform(0.6, 0.99, 60), 1.0, 0.0, 0.85]
    se = np.r_[rng.uniform(0.003, 0.05, 60), 0.0, 0.0, 0.01]
    n = np.r_[rng.integers(20, 3000, 60), 50, 50, 100].astype(float)
    df = np.r_[rng.integers(3, 300, 60), 10, 10, 5].astype(float)
    rule = RecognitionRule(nchs=nchs)
    ours = _judge(p, se**2, n, df, rule)[0]
    for i, result in enumerate(ours):
        ref = intervals.proportion_interval(
            p[i], se[i], int(n[i]), df[i], method="beta", level=0.9, threshold=0.85, nchs=nchs
        )
        assert result.ci_low == pytest.approx(ref.ci_low, rel=1e-12)
        assert result.ci_high == pytest.approx(ref.ci_high, rel=1e-12)
        assert result.n_eff == pytest.approx(ref.n_eff, rel=1e-12)
        assert result.p_value == pytest.approx(ref.p_value, rel=1e-12, abs=1e-15)


def test_nchs_caps_effective_n_at_n(report) -> None:
    capped = _evaluate(RecognitionRule())
    for group in GROUPS:
        assert capped.groups[group].rate.n_eff <= capped.groups[group].rate.n
        # capping widens the interval (more conservative than R)
        assert capped.groups[group].rate.ci_low <= report.groups[group].rate.ci_low + 1e-15


def test_post_stratified_design_matches_r() -> None:
    ref = REF["poststratified"]
    stratum = DATA["stratum"].to_numpy()
    location = np.select([stratum <= 4, stratum <= 7, stratum <= 10], ["U", "T", "R"], "D")
    population = {row["location"]: float(row["Freq"]) for row in ref["population"]}
    design = post_stratify(_design(), location, population)
    report = evaluate_recognition(
        design,
        DATA["group"].to_numpy(),
        DATA[ITEMS].to_numpy(),
        AREAS,
        items=ITEMS,
        policy_weights=POLICY,
        rule=R_RULE,
    )
    for j, group in enumerate(GROUPS):
        rate, y1 = report.groups[group].rate, report.groups[group].items["y1"]
        assert rate.estimate == pytest.approx(ref["rate_by_group"][j]["estimate"], rel=RTOL)
        assert rate.se == pytest.approx(ref["rate_by_group"][j]["se"], rel=RTOL)
        assert y1.estimate == pytest.approx(ref["y1_by_group"][j]["estimate"], rel=RTOL)
        assert y1.se == pytest.approx(ref["y1_by_group"][j]["se"], rel=RTOL)
    assert report.rate.se == pytest.approx(ref["rate_overall"]["se"], rel=RTOL)
    theta = ref["theta"]
    np.testing.assert_allclose(report.county.covariance, np.array(theta["covariance"]), rtol=RTOL)
    assert report.county.score.estimate == pytest.approx(theta["estimate"], rel=RTOL)
    assert report.county.score.se == pytest.approx(theta["se"], rel=RTOL)


def test_two_stage_design_matches_r() -> None:
    """Core's reference (survey_reference.R): svydesign(id=~school+resp,
    fpc=~N_schools+N_resp), svyby(svymean) and svyby(svyratio) by group."""
    sim = pd.read_csv(HERE / "simulated_survey.csv")
    core = json.loads((HERE / "survey_reference.json").read_text("utf-8"))
    design = SurveyDesign.from_arrays(
        strata=sim["stratum"].to_numpy(),
        cluster=sim["school"].to_numpy(),
        cluster2=sim["resp"].to_numpy(),
        fpc=sim["N_schools"].to_numpy(),
        fpc2=sim["N_resp"].to_numpy(),
    )
    items = [f"rec{j}" for j in range(1, 6)]
    report = evaluate_recognition(
        design,
        sim["group"].to_numpy(),
        sim[items].to_numpy(),
        ["A"] * 5,
        items=items,
        rule=R_RULE,
    )
    checked = 0
    for ref in core["means"]:
        if ref["design"] == "sim2" and ref["variable"] in items and ref["by"] == "group":
            ours = report.groups[ref["domain"]].items[ref["variable"]]
            assert ours.estimate == pytest.approx(ref["estimate"], rel=RTOL)
            assert ours.se == pytest.approx(ref["se"], rel=RTOL)
            assert ours.df == ref["df"]
            assert ours.n == ref["n"]
            checked += 1
    for ref in core["ratios"]:
        if ref["design"] == "sim2" and ref["by"] == "group":
            ours = report.groups[ref["domain"]].rate
            assert ours.estimate == pytest.approx(ref["estimate"], rel=RTOL)
            assert ours.se == pytest.approx(ref["se"], rel=RTOL)
            checked += 1
    assert checked == 9  # rec1 and rec2 for 3 groups, the rate for 3 groups


class _OpaqueCalibration:
    """A calibration recognition cannot see into: forces the row-level path."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def residualise(self, scores):
        return self.inner.residualise(scores)


def _location() -> np.ndarray:
    stratum = DATA["stratum"].to_numpy()
    return np.select([stratum <= 4, stratum <= 7, stratum <= 10], ["U", "T", "R"], "D")


@pytest.mark.parametrize("adjustment", ["poststratify", "rake", "poststratify_then_rake"])
def test_table_calibration_equals_row_level_residualisation(adjustment) -> None:
    """Tables path (CalibrationAdjustment) = R's svyrecvar residualisation on rows."""
    design, location = _design(), _location()
    by_location = {"U": 23000.0, "T": 9000.0, "R": 16000.0, "D": 200.0}
    by_group = {g: 1000.0 * (j + 1) for j, g in enumerate(GROUPS)}
    groups = DATA["group"].to_numpy()
    if adjustment in ("poststratify", "poststratify_then_rake"):
        design = post_stratify(design, location, by_location)
    if adjustment in ("rake", "poststratify_then_rake"):
        design = rake(design, [(location, by_location), (groups, by_group)], epsilon=1e-9)
    opaque = dataclasses.replace(design, calibration=_OpaqueCalibration(design.calibration))
    fast, slow = (
        evaluate_recognition(
            d, groups, DATA[ITEMS].to_numpy(), AREAS, items=ITEMS, policy_weights=POLICY
        )
        for d in (design, opaque)
    )
    for group in GROUPS:
        for ours, ref in [
            (fast.groups[group].rate, slow.groups[group].rate),
            *[(fast.groups[group].items[k], slow.groups[group].items[k]) for k in ITEMS],
            *[(fast.groups[group].areas[a], slow.groups[group].areas[a]) for a in AREA_LEVELS],
        ]:
            assert ours.estimate == pytest.approx(ref.estimate, rel=1e-12)
            assert ours.se == pytest.approx(ref.se, rel=1e-9, abs=1e-15)
    np.testing.assert_allclose(fast.county.covariance, slow.county.covariance, rtol=1e-9)
    assert fast.rate.se == pytest.approx(slow.rate.se, rel=1e-9)
    uncalibrated = evaluate_recognition(_design(), groups, DATA[ITEMS].to_numpy(), AREAS)
    assert fast.rate.se != pytest.approx(uncalibrated.rate.se, rel=1e-3)


def test_policy_weights_must_be_a_composition() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        _evaluate_with(policy_weights={1: 0.5, 2: 0.2})
    with pytest.raises(ValueError, match="not in the survey"):
        _evaluate_with(policy_weights={1: 0.5, 99: 0.5})
    with pytest.raises(ValueError, match="separately drawn groups not in the survey"):
        _evaluate_with(policy_weights=POLICY, separately_drawn=[99])


def _evaluate_with(**kwargs):
    return evaluate_recognition(
        _design(), DATA["group"].to_numpy(), DATA[ITEMS].to_numpy(), AREAS, **kwargs
    )
