"""What a supervisor watches in the field: the frame and the codes, as counts only.

No answer, comment or single response is read here: supervisors see how many codes
were issued and used per stratum and group, never what anyone said.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from survey_app.downloads import spreadsheet_text
from survey_app.extensions import db
from survey_app.models import (
    Campaign,
    ListFrame,
    OneTimeCode,
    OpenLink,
    SamplingPlan,
    School,
    Stratum,
)
from survey_app.models.base import as_utc
from survey_app.plan.code_batches import QuotaProgress
from survey_app.vocabulary import RESPONDENT_GROUPS


@dataclass(frozen=True)
class StratumFrame:
    """One stratum of the school frame."""

    code: str
    location: str | None  # None only for strata that are not of schools (never listed here)
    school_level: str | None
    schools: int
    enrolment: int
    teachers: int


@dataclass(frozen=True)
class CodeCounts:
    """Codes of one group in one stratum: issued (all), used (submitted), void."""

    stratum: str
    respondent_group: str
    issued: int
    used: int
    void: int

    @property
    def response_rate(self) -> float | None:
        """Share of the valid codes that came back (None when none were issued)."""
        valid = self.issued - self.void
        return self.used / valid if valid else None


def frame_by_stratum(campaign: Campaign) -> list[StratumFrame]:
    rows = db.session.execute(
        select(
            Stratum.code,
            Stratum.location,
            Stratum.school_level,
            func.count(School.id),
            func.coalesce(func.sum(School.enrolment), 0),
            func.coalesce(func.sum(School.teachers), 0),
        )
        .join_from(Stratum, School, School.stratum_id == Stratum.id, isouter=True)
        .where(Stratum.campaign_id == campaign.id, Stratum.kind == "school")
        .group_by(Stratum.id, Stratum.code, Stratum.location, Stratum.school_level)
        .order_by(Stratum.code)
    )
    return [StratumFrame(*row) for row in rows]


def code_counts(campaign: Campaign) -> list[CodeCounts]:
    """Per stratum and group, in stratum order then group order of the vocabulary."""
    rows = db.session.execute(
        select(
            Stratum.code,
            OneTimeCode.respondent_group,
            func.count(OneTimeCode.id),
            func.sum(case((OneTimeCode.status == "used", 1), else_=0)),
            func.sum(case((OneTimeCode.status == "void", 1), else_=0)),
        )
        .join_from(OneTimeCode, Stratum, OneTimeCode.stratum_id == Stratum.id)
        .where(OneTimeCode.campaign_id == campaign.id)
        .group_by(Stratum.code, OneTimeCode.respondent_group)
        .order_by(Stratum.code, OneTimeCode.respondent_group)
    )
    return [
        CodeCounts(stratum, group, int(n), int(used or 0), int(void or 0))
        for stratum, group, n, used, void in rows
    ]


@dataclass(frozen=True)
class CellProgress:
    """Responses against the target of one stratum and group."""

    stratum: str
    respondent_group: str
    target: int  # planned respondents (the plan's second stage)
    issued: int  # codes issued and not revoked
    answered: int

    @property
    def completion(self) -> float | None:
        """Answered over target (None without a target)."""
        return self.answered / self.target if self.target else None

    @property
    def response_rate(self) -> float | None:
        """Answered over the codes issued (None before any is issued)."""
        return self.answered / self.issued if self.issued else None


LAGGING_FACTOR = 0.8


@dataclass(frozen=True)
class FieldworkProgress:
    """The campaign's fieldwork at ``now``: cells, the time gone, and who lags."""

    cells: list[CellProgress]
    days_left: int
    elapsed: float  # share of the fieldwork window gone, 0..1

    @property
    def totals(self) -> list[CellProgress]:
        """Each group over every stratum (stratum ``*``), then everything (``*``, ``*``)."""
        groups = [g for g in RESPONDENT_GROUPS if any(c.respondent_group == g for c in self.cells)]
        rows = [_total([c for c in self.cells if c.respondent_group == g], g) for g in groups]
        return [*rows, _total(self.cells, ALL)] if self.cells else []

    def lagging(self, cell: CellProgress) -> bool:
        """Behind when the cell has completed less than 80% of the share of the window
        that has gone (on day 5 of 10, a cell below 40% of its target lags)."""
        completion = cell.completion
        return (
            completion is not None
            and self.elapsed > 0
            and (completion < LAGGING_FACTOR * self.elapsed)
        )


ALL = "*"  # the stratum (and group) of a total


def _total(cells: list[CellProgress], group: str) -> CellProgress:
    return CellProgress(
        stratum=ALL,
        respondent_group=group,
        target=sum(cell.target for cell in cells),
        issued=sum(cell.issued for cell in cells),
        answered=sum(cell.answered for cell in cells),
    )


def progress(campaign: Campaign, plan: SamplingPlan | None, now: datetime) -> FieldworkProgress:
    """Counts only: targets from the plan, codes and answers from the codes' statuses."""
    targets: dict[tuple[str, str], int] = {}
    if plan is not None:
        strata = {school.id: school.stratum.code for school in (q.school for q in plan.quotas)}
        for quota in plan.quotas:
            key = (strata[quota.school_id], quota.respondent_group)
            targets[key] = targets.get(key, 0) + quota.planned
    targets.update(outreach_targets(campaign))
    codes = {(row.stratum, row.respondent_group): row for row in code_counts(campaign)}
    cells = [
        CellProgress(
            stratum=stratum,
            respondent_group=group,
            target=targets.get((stratum, group), 0),
            issued=codes[(stratum, group)].issued - codes[(stratum, group)].void
            if (stratum, group) in codes
            else 0,
            answered=codes[(stratum, group)].used if (stratum, group) in codes else 0,
        )
        for stratum, group in sorted(set(targets) | set(codes), key=_cell_order)
    ]
    opens, closes = as_utc(campaign.opens_at), as_utc(campaign.closes_at)
    window = (closes - opens).total_seconds()
    gone = min(max((now - opens).total_seconds() / window, 0.0), 1.0) if window > 0 else 1.0
    days_left = max(0, math.ceil((closes - now).total_seconds() / 86400))
    return FieldworkProgress(cells=cells, days_left=days_left, elapsed=gone)


def outreach_targets(campaign: Campaign) -> dict[tuple[str, str], int]:
    """Targets of the groups not reached through schools: a list's drawn members (once
    drawn) and an open link's quota, each under its own stratum."""
    rows = db.session.execute(
        select(Stratum.code, ListFrame.respondent_group, ListFrame.planned)
        .join(Stratum, ListFrame.stratum_id == Stratum.id)
        .where(ListFrame.campaign_id == campaign.id, ListFrame.drawn_positions.is_not(None))
        .union_all(
            select(Stratum.code, OpenLink.respondent_group, OpenLink.quota)
            .join(Stratum, OpenLink.stratum_id == Stratum.id)
            .where(OpenLink.campaign_id == campaign.id)
        )
    )
    return {(stratum, group): int(n) for stratum, group, n in rows}


def _cell_order(cell: tuple[str, str]) -> tuple[str, int]:
    stratum, group = cell
    return stratum, RESPONDENT_GROUPS.index(group)


PROGRESS_COLUMNS = (
    "stratum",
    "group",
    "target",
    "issued",
    "answered",
    "completion",
    "response_rate",
    "lagging",
)


def progress_json(report: FieldworkProgress) -> dict[str, object]:
    """The cells, and ``totals``: each group over the strata, then all (``*``)."""

    def row(cell: CellProgress) -> dict[str, object]:
        return {
            "stratum": cell.stratum,
            "group": cell.respondent_group,
            "target": cell.target,
            "issued": cell.issued,
            "answered": cell.answered,
            "completion": cell.completion,
            "response_rate": cell.response_rate,
            "lagging": report.lagging(cell),
        }

    return {
        "days_left": report.days_left,
        "elapsed": report.elapsed,
        "cells": [row(cell) for cell in report.cells],
        "totals": [row(cell) for cell in report.totals],
    }


def progress_csv(report: FieldworkProgress) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PROGRESS_COLUMNS)
    for cell in report.cells:
        writer.writerow(
            [
                cell.stratum,
                cell.respondent_group,
                cell.target,
                cell.issued,
                cell.answered,
                "" if cell.completion is None else f"{cell.completion:.4f}",
                "" if cell.response_rate is None else f"{cell.response_rate:.4f}",
                int(report.lagging(cell)),
            ]
        )
    return buffer.getvalue()


SCHOOL_COLUMNS = (
    "school_code",
    "school",
    "stratum",
    "group",
    "planned",
    "issued",
    "answered",
    "revoked",
    "response_rate",
)


def schools_csv(rows: list[QuotaProgress]) -> str:
    """Each school's group: what a supervisor needs to chase the schools that lag."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SCHOOL_COLUMNS)
    for row in rows:
        rate = row.response_rate
        writer.writerow(
            [
                row.school.code,
                spreadsheet_text(row.school.name),
                row.school.stratum.code,
                row.respondent_group,
                row.planned,
                row.issued,
                row.used,
                row.void,
                "" if rate is None else f"{rate:.4f}",
            ]
        )
    return buffer.getvalue()
