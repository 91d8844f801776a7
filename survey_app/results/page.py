"""What the evaluators' results page shows, beyond the evaluation itself: breakdowns by
location and school level, small cells suppressed, the quality of the data, and a
per-process cache so a page view does not re-read the campaign.

Suppression: a cell of fewer than ``min_n`` responses (``RESULTS_MIN_N``, default 10)
shows no figure anywhere, and there are no per-school figures at all (a school's group
can be a handful of people; a principal's answers name a school), so principals are
reported county-wide only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select

from analysis.design_caveats import DesignCaveat
from analysis.recognition import RecognitionRule, evaluate_recognition
from survey_app.extensions import db
from survey_app.models import AuditEvent, Campaign, Response
from survey_app.results.evaluation import (
    Evaluation,
    NoResponses,
    evaluate_campaign,
    evaluation_json,
    rate_json,
)
from survey_app.results.loader import CampaignData
from survey_app.vocabulary import LOCATIONS, RESPONDENT_GROUPS, SCHOOL_LEVELS

OUTSIDE_SCHOOLS = "outside_schools"
# What the audit log records that changes weights (downloads and the like do not).
WEIGHT_CHANGES = (
    "schools_drawn",
    "school_replaced",
    "population_corrected",
    "list_set",
    "open_link_created",
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
    evaluation = evaluate_campaign(campaign)
    if progress is not None:
        progress("computing")
    return ResultsPage(
        found=evaluation_json(evaluation),
        by_location=_breakdown(evaluation, evaluation.data.locations, LOCATIONS),
        by_school_level=_breakdown(evaluation, evaluation.data.school_levels, SCHOOL_LEVELS),
        durations=_durations(evaluation.data),
        items=evaluation.data.items,
        item_versions=evaluation.data.item_versions,
        caveats=evaluation.report.design_caveats if evaluation.report else (),
    )


_cache: dict[int, tuple[tuple[int, int, int], ResultsPage]] = {}
_cache_lock = threading.Lock()


def cached_page(campaign: Campaign) -> ResultsPage:
    """The page for the campaign's responses as they are now: rebuilt when a response is
    added (the count and the newest id are the cache's key), else served from memory."""
    count, newest = db.session.execute(
        select(func.count(Response.id), func.coalesce(func.max(Response.id), 0)).where(
            Response.campaign_id == campaign.id
        )
    ).one()
    # A change to the plan (a replaced school, a corrected population) changes weights.
    changes = db.session.scalar(
        select(func.coalesce(func.max(AuditEvent.id), 0)).where(
            AuditEvent.campaign_id == campaign.id, AuditEvent.action.in_(WEIGHT_CHANGES)
        )
    )
    key = (int(count), int(newest), int(changes or 0))
    with _cache_lock:
        hit = _cache.get(campaign.id)
    if hit is not None and hit[0] == key:
        return hit[1]
    if not count:
        raise NoResponses(f"campaign {campaign.key} has no responses to evaluate")
    page = build_page(campaign)
    with _cache_lock:
        _cache[campaign.id] = (key, page)
    return page


def forget(campaign_id: int | None = None) -> None:
    """Drop cached pages (tests; a changed plan changes the weights)."""
    with _cache_lock:
        if campaign_id is None:
            _cache.clear()
        else:
            _cache.pop(campaign_id, None)
