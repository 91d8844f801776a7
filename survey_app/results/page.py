"""What the evaluators' results page shows, beyond the evaluation itself: breakdowns by
location and school level, small cells suppressed, the quality of the data, and a
per-process cache so a page view does not re-read the campaign.

Suppression: a cell of fewer than ``min_n`` responses (``RESULTS_MIN_N``, default 10)
shows no figure anywhere, and there are no per-school figures at all (a school's group
can be a handful of people; a principal's answers name a school), so principals are
reported county-wide only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.design_caveats import DesignCaveat
from analysis.recognition import RecognitionRule, evaluate_recognition
from survey_app.campaign_cache import CampaignCache, Fetched, Key
from survey_app.models import Campaign
from survey_app.results.evaluation import (
    Evaluation,
    NoResponses,
    evaluate_campaign,
    evaluation_json,
    rate_json,
)
from survey_app.results.loader import (
    CampaignData,
    CellCut,
    StoredCampaign,
    load_campaign,
    read_campaign,
)
from survey_app.vocabulary import LOCATIONS, RESPONDENT_GROUPS, SCHOOL_LEVELS

if TYPE_CHECKING:
    from survey_app.integrity.checks import CampaignIntegrity

OUTSIDE_SCHOOLS = "outside_schools"
# What the audit log records that changes weights (downloads and the like do not).
WEIGHT_CHANGES = (
    "schools_drawn",
    "school_replaced",
    "population_corrected",
    "list_set",
    "open_link_created",
    "integrity_decision",  # a school's group set aside, or kept again
)


@dataclass(frozen=True)
class ResultsPage:
    """Everything the page shows; ``found`` is the JSON of ``flask results``."""

    found: dict[str, Any]
    by_location: list[dict[str, Any]]
    by_school_level: list[dict[str, Any]]
    durations: list[dict[str, Any]]  # per group: responses, median minutes
    items: tuple[str, ...]
    item_versions: tuple[tuple[str, int], ...]
    # The design's caveats as codes and figures (``found["caveats"]`` holds their
    # English), for the pages to say in the reader's language (``labels.caveat_text``).
    caveats: tuple[DesignCaveat, ...] = ()
    # The integrity checks (``integrity.checks.summary``) and, when a school's group is
    # flagged or decided, the county verdict three ways (:func:`verdicts_compared`).
    integrity: dict[str, Any] | None = None
    compared: dict[str, Any] | None = None


def _breakdown(
    evaluation: Evaluation, labels: np.ndarray, order: tuple[str, ...]
) -> list[dict[str, Any]]:
    """All groups pooled, by a label of the school (location or level): domains of the
    whole design, as R's ``svyby``; rows outside schools are their own domain, not shown."""
    data = evaluation.data
    rule = RecognitionRule(
        threshold=evaluation.campaign.threshold,
        verdict=evaluation.campaign.verdict_rule,  # type: ignore[arg-type]
    )
    domains = np.where(labels == "", OUTSIDE_SCHOOLS, labels)
    present = sorted(set(domains.tolist()))
    report = evaluate_recognition(
        evaluation.design,
        domains,
        None,
        data.item_areas,
        items=data.items,
        answers=evaluation.answers,
        rule=rule,
        policy_weights={label: 1.0 / len(present) for label in present},
    )
    return [
        {"label": label, **rate_json(report.groups[label].rate)}
        for label in order
        if label in report.groups
    ]


def _durations(data: CampaignData) -> list[dict[str, Any]]:
    """Completion time per group of the responses analysed: how long respondents took
    from opening their code to submitting (minutes, median)."""
    found = []
    for group in RESPONDENT_GROUPS:
        seconds = data.durations[data.groups == group]
        seconds = seconds[~np.isnan(seconds)]
        if seconds.size:
            found.append(
                {
                    "group": group,
                    "responses": int(seconds.size),
                    "median_minutes": float(np.median(seconds)) / 60,
                }
            )
    return found


def build_page(campaign: Campaign, progress: Callable[[str], None] | None = None) -> ResultsPage:
    """The page's figures; ``progress`` (the report's job) is told ``computing`` once
    the responses are loaded and evaluated, when the breakdowns begin."""
    stored = read_campaign(campaign)  # every figure below from the same responses
    evaluation = evaluate_campaign(campaign, stored_campaign=stored)
    if progress is not None:
        progress("computing")
    from survey_app.integrity import checks  # scipy.stats: imported when a page is built

    data = evaluation.data
    uncut = load_campaign(campaign, (), stored) if data.cut_by_decisions else data
    found = checks.examine_campaign(campaign, uncut)
    integrity = checks.summary(found)
    return ResultsPage(
        found=evaluation_json(evaluation),
        by_location=_breakdown(evaluation, evaluation.data.locations, LOCATIONS),
        by_school_level=_breakdown(evaluation, evaluation.data.school_levels, SCHOOL_LEVELS),
        durations=_durations(evaluation.data),
        items=evaluation.data.items,
        item_versions=evaluation.data.item_versions,
        caveats=evaluation.report.design_caveats if evaluation.report else (),
        integrity=integrity,
        compared=(
            verdicts_compared(campaign, evaluation, found, stored) if integrity["cells"] else None
        ),
    )


def verdicts_compared(
    campaign: Campaign,
    decided: Evaluation,
    found: CampaignIntegrity,
    stored: StoredCampaign | None = None,
) -> dict[str, Any]:
    """The county's verdict with every response, without the flagged schools' groups, and
    as people decided (the figures of the page): side by side, so the flags' weight on
    the verdict shows before anyone sets a group aside; all three of the responses
    ``stored`` read (the ones ``decided`` was computed from)."""

    def county(cuts: tuple[CellCut, ...] | None, given: Evaluation | None = None) -> dict[str, Any]:
        try:
            found_json = evaluation_json(given or evaluate_campaign(campaign, cuts, stored))
        except NoResponses:
            return {"verdict": "no_data", "responses": 0}
        return {**found_json["county"], "responses": found_json["responses"]}

    as_decided = county(None, decided)
    return {
        "all": county(()) if decided.data.cut_by_decisions else as_decided,  # else the same
        "without_flagged": county(found.cuts()),
        "as_decided": as_decided,
    }


_pages: CampaignCache[ResultsPage] = CampaignCache(
    "results_page", WEIGHT_CHANGES, lambda campaign: build_page(campaign), (NoResponses,)
)


def fetched_page(campaign: Campaign) -> Fetched[ResultsPage]:
    """The page for the campaign's responses as they are now, if it is kept or built
    within the wait (``campaign_cache``); else the page built last (or none yet) while it
    is built again. It is built again when a response is added, the plan changes the
    weights or a person decides on a flagged group (the cache's key)."""
    return _pages.fetch(campaign, key=_key_with_responses(campaign))


def cached_page(campaign: Campaign) -> ResultsPage:
    """The page for the campaign's responses as they are now, built in this request if
    it is not kept."""
    return _pages.get(campaign, _key_with_responses(campaign))


def _key_with_responses(campaign: Campaign) -> Key:
    """The page cache's key; "no responses" at once, before any build is started."""
    key = _pages.key(campaign)
    if not key[0]:
        raise NoResponses(f"campaign {campaign.key} has no responses to evaluate")
    return key


def forget(campaign_id: int | None = None) -> None:
    """Drop cached pages (tests; a changed plan changes the weights)."""
    _pages.forget(campaign_id)
