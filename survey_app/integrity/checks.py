"""The integrity checks (``analysis.integrity``) on a stored campaign.

Every response of a school in the plan is examined, whatever a person decided since (a
group set aside stays flagged, beside its decision): one block per questionnaire
version, each school's group against the other schools of its stratum. Lists and open
links have no school, so no school's group to judge, and are left out. The reading
time of a questionnaire is :data:`READING_SECONDS_PER_ITEM` per item (the command
line's default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from flask import current_app
from sqlalchemy import select

from analysis.integrity import (
    READING_SECONDS_PER_ITEM,
    CellFinding,
    IntegrityReport,
    IntegritySettings,
    ResponseBlock,
    examine,
)
from survey_app import answer_codes
from survey_app.campaign_cache import CampaignCache, Fetched
from survey_app.extensions import db
from survey_app.integrity.decisions import AUDIT_ACTION, decisions
from survey_app.models import Campaign, School
from survey_app.models.base import as_utc
from survey_app.results.loader import CampaignData, CellCut, load_campaign


@dataclass(frozen=True)
class CampaignIntegrity:
    """The checks' findings on a campaign, with the schools' names for the pages."""

    campaign: Campaign
    report: IntegrityReport
    school_names: dict[str, str]  # 学校标识码 → name
    school_ids: dict[str, int]  # 学校标识码 → id

    @property
    def flagged(self) -> list[CellFinding]:
        return [cell for cell in self.report.cells if cell.flagged]

    def cuts(self) -> tuple[CellCut, ...]:
        """The flagged cells, every response of them: the figures "without the flagged
        cells" leave these out."""
        return tuple(CellCut(self.school_ids[str(c.school)], str(c.group)) for c in self.flagged)


def settings() -> IntegritySettings:
    """The installation's settings (``INTEGRITY_FDR``; the cell minimum is the results'
    ``RESULTS_MIN_N``, so no figure of a smaller group is shown)."""
    config = current_app.config
    return IntegritySettings(fdr=config["INTEGRITY_FDR"], min_n=max(2, config["RESULTS_MIN_N"]))


def examine_campaign(campaign: Campaign, data: CampaignData | None = None) -> CampaignIntegrity:
    """``data``: the campaign's responses loaded already without any cut (saves reading
    a million responses twice)."""
    if data is None:
        data = load_campaign(campaign, cuts=())
    report = examine(blocks_of(data), settings())
    schools = db.session.execute(
        select(School.code, School.id, School.name).where(School.campaign_id == campaign.id)
    ).all()
    return CampaignIntegrity(
        campaign,
        report,
        school_names={code: name for code, _id, name in schools},
        school_ids={code: id_ for code, id_, _name in schools},
    )


def blocks_of(data: CampaignData) -> list[ResponseBlock]:
    """One block per questionnaire version answered at schools: the answers as the
    analysis' codes (-1 not asked), with each response's school (its code), group and
    stratum, time taken and minute submitted."""
    blocks = []
    for number, columns in enumerate(data.answers.columns):
        rows = np.flatnonzero((data.answers.layout == number) & (data.school_codes != ""))
        if not rows.size:
            continue
        packed = data.answers.packed[rows, : columns.size]
        codes = packed.astype(np.int16)
        codes[packed == answer_codes.NOT_ASKED] = -1
        blocks.append(
            ResponseBlock(
                items=tuple(data.items[c] for c in columns),
                answers=codes,
                school=data.school_codes[rows],
                group=data.groups[rows],
                stratum=data.strata[rows],
                duration_seconds=data.durations[rows],
                submitted_minute=data.submitted_minutes[rows],
                reading_seconds=READING_SECONDS_PER_ITEM * columns.size,
            )
        )
    return blocks


def integrity_json(found: CampaignIntegrity) -> dict[str, Any]:
    """What ``flask integrity --campaign KEY`` prints: the analysis command line's JSON
    (``cells``, ``responses``) for the stored campaign."""
    return {"campaign": found.campaign.key, **found.report.as_dict()}


def summary(found: CampaignIntegrity) -> dict[str, Any]:
    """What the pages and the report show: the examined and flagged schools' groups, each
    flagged (or decided) one with its school's name, its figures and the decision on it,
    and the per-response flags counted. Plain values: kept in the results page's cache."""
    decided = decisions(found.campaign)
    flagged_responses: dict[tuple[str, str], int] = {}  # per (school, group)
    per_flag: dict[str, int] = {}
    for flag in found.report.responses:
        key = (str(flag.school), str(flag.group))
        flagged_responses[key] = flagged_responses.get(key, 0) + 1
        for name in flag.flags:
            per_flag[name] = per_flag.get(name, 0) + 1
    rows = []
    as_json = found.report.as_dict()["cells"]  # the same order, JSON-plain
    for cell, plain in zip(found.report.cells, as_json, strict=True):
        key = (str(cell.school), str(cell.group))
        if not cell.flagged and key not in decided:
            continue
        decision = decided.get(key)
        rows.append(
            {
                "school": key[0],
                "school_name": found.school_names.get(key[0], ""),
                "group": key[1],
                "n": cell.n,
                "flagged": cell.flagged,
                "reasons": list(cell.reasons),
                "statistics": plain["statistics"],
                "explanation": cell.explanation,
                "flagged_responses": flagged_responses.get(key, 0),
                "decision": None
                if decision is None
                else {
                    "decision": decision.decision,
                    "reason": decision.reason,
                    "by": decision.decided_by,
                    "at": as_utc(decision.decided_at).isoformat(timespec="seconds"),
                },
            }
        )
    return {
        "examined": found.report.settings["examined_cells"],
        "flagged": found.report.settings["flagged_cells"],
        "cells": rows,
        "response_flags": per_flag,
        "fdr": found.report.settings.get("fdr"),
    }


_summaries: CampaignCache[dict[str, Any]] = CampaignCache(
    "integrity_summary", (AUDIT_ACTION,), lambda campaign: summary(examine_campaign(campaign))
)


def cached_summary(campaign: Campaign) -> dict[str, Any]:
    """:func:`summary` for the responses and decisions as they are now, built in this
    request if it is not kept (the decision pages: a decision is made on what is)."""
    return _summaries.get(campaign)


def fetched_summary(campaign: Campaign) -> Fetched[dict[str, Any]]:
    """:func:`summary` for the responses and decisions as they are now if it is kept or
    built within the wait, else the one built last while it is built again (the
    fieldwork page, viewed often while responses arrive)."""
    return _summaries.fetch(campaign)


def forget(campaign_id: int | None = None) -> None:
    """Drop cached summaries (tests)."""
    _summaries.forget(campaign_id)
