"""The full evaluation of a campaign: the loader's arrays through ``analysis`` into the
plain dictionaries the command line, the pages and the report show (the same numbers
everywhere).

The county score is Σ policy weight × group rate, with the groups' joint covariance
(schools' groups share PSUs); groups in strata of their own (lists, open links) add
with zero covariance. A group named by the campaign's policy weights without any
response leaves the county score without data: it is not re-weighted away.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis import SurveyDesign
from analysis.recognition import (
    RateEstimate,
    RecognitionReport,
    RecognitionRule,
    default_policy_weights,
    evaluate_recognition,
)
from analysis.recognition_tables import AnswerPositions
from survey_app.models import Campaign
from survey_app.results.loader import CampaignData, CellCut, StoredCampaign, load_campaign
from survey_app.vocabulary import RESPONDENT_GROUPS


class NoResponses(Exception):
    """The campaign has no response that can be weighted yet."""


@dataclass(frozen=True)
class Evaluation:
    campaign: Campaign
    data: CampaignData
    design: SurveyDesign  # built once: the breakdowns are domains of the same design
    answers: AnswerPositions  # the answers scanned once, for the breakdowns too
    report: RecognitionReport | None  # None: a policy-weighted group has no response
    missing_groups: tuple[str, ...]


def evaluate_campaign(
    campaign: Campaign,
    cuts: Sequence[CellCut] | None = None,
    stored_campaign: StoredCampaign | None = None,
) -> Evaluation:
    """The campaign's evaluation without the cells of ``cuts`` (default: those a person
    set aside after the integrity checks; ``()``: every response in the plan), of the
    responses ``stored_campaign`` read (default: read now)."""
    data = load_campaign(campaign, cuts, stored_campaign)
    if data.n == 0:
        raise NoResponses(f"campaign {campaign.key} has no responses to evaluate")
    counts = np.bincount(data.group_index, minlength=len(RESPONDENT_GROUPS))
    present = [group for group, count in zip(RESPONDENT_GROUPS, counts, strict=True) if count]
    configured = campaign.policy_weights
    weights: Mapping[Hashable, float]
    if configured:
        missing = tuple(g for g, a in configured.items() if a > 0 and g not in present)
        weights = {g: a for g, a in configured.items() if g in present}
    else:
        missing = ()
        weights = default_policy_weights(present)
    rule = RecognitionRule(threshold=campaign.threshold, verdict=campaign.verdict_rule)  # type: ignore[arg-type]
    design = design_of(data)
    answers = data.positions
    report = evaluate_recognition(
        design,
        data.group_factor,
        None,
        data.item_areas,
        items=data.items,
        answers=answers,
        rule=rule,
        policy_weights=weights if not missing else default_policy_weights(present),
        separately_drawn=data.separately_drawn,
    )
    return Evaluation(campaign, data, design, answers, report, missing)


def design_of(data: CampaignData) -> SurveyDesign:
    """πps without replacement (Brewer) at the first stage, the respondents as the
    second (``loader``'s docstring says why): R's ``svydesign(ids=~psu+resp,
    strata=~stratum, weights=~w, fpc=~pi+f2, pps="brewer")`` with
    ``options(survey.lonely.psu="adjust")`` (a list or area stratum may hold one
    person). Each row is a second-stage unit of its own."""
    return SurveyDesign.from_arrays(
        weights=data.weights,
        strata=data.stratum_factor,
        cluster=data.psu,
        cluster2=np.arange(data.n),
        fpc=data.pi,
        fpc2=data.f2,
        pps="brewer",
        lonely_psu="adjust",
    )


def _number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def rate_json(rate: RateEstimate) -> dict[str, Any]:
    return {
        "estimate": _number(rate.estimate),
        "se": _number(rate.se),
        "ci_low": _number(rate.ci_low),
        "ci_high": _number(rate.ci_high),
        "p_value": _number(rate.p_value),
        "n": int(rate.n),
        "n_eff": _number(rate.n_eff),
        "df": _number(rate.df),
        "suppress": bool(rate.suppress),
        "verdict": rate.verdict,
    }


def evaluation_json(evaluation: Evaluation) -> dict[str, Any]:
    """The evaluation as ``flask results --json`` prints it (the contract of the issue:
    ``county``, ``groups``, ``areas``, ``items``)."""
    report = evaluation.report
    assert report is not None  # noqa: S101 - evaluate_campaign always reports
    campaign = evaluation.campaign
    if evaluation.missing_groups:
        county: dict[str, Any] = {
            "estimate": None,
            "se": None,
            "ci_low": None,
            "ci_high": None,
            "p_value": None,
            "verdict": "no_data",
            "missing_groups": list(evaluation.missing_groups),
        }
        policy = dict(campaign.policy_weights or {})
    else:
        county = rate_json(report.county.score)
        policy = {str(g): float(a) for g, a in report.county.policy_weights.items()}
    groups = [
        {
            "group": str(group),
            "policy_weight": policy.get(str(group), 0.0),
            **rate_json(found.rate),
        }
        for group, found in sorted(
            report.groups.items(), key=lambda pair: RESPONDENT_GROUPS.index(str(pair[0]))
        )
    ]
    return {
        "campaign": campaign.key,
        "threshold": campaign.threshold,
        "verdict_rule": campaign.verdict_rule,
        "interval_method": report.rule.method,
        "county": county,
        "groups": groups,
        "areas": [{"area": str(a), **rate_json(r)} for a, r in sorted(report.areas.items())],
        "items": [{"item": str(i), **rate_json(r)} for i, r in report.items.items()],
        "overall_rate": rate_json(report.rate),
        "responses": evaluation.data.n,
        "set_aside": evaluation.data.set_aside,
        "separately_drawn": list(evaluation.data.separately_drawn),
        "design": {
            "strata": evaluation.design.n_strata,
            "psu": evaluation.design.n_psu,
            "first_stage": (
                "PPS without replacement (Brewer), two stages: schools with pi,"
                " respondents with m/M; lists with fpc m/N; open links without fpc"
            ),
        },
        "caveats": [caveat.message for caveat in report.design_caveats],
    }
