"""Drawing a campaign's schools: PPS by enrolment, systematic within each stratum, from a
recorded seed (``analysis.pps``, checked against R's ``sampling``).

The allocation of schools to strata is given per stratum or takes the default: as many
schools as ``max(2·H, H + 20)`` for H strata (so schools − strata ≥ 20, the degrees of
freedom the intervals need, shared/statistics.md), never more than the frame has,
shared in proportion to the strata's enrolment with at least two schools a stratum
(``analysis.allocation``). Drawing again replaces the draw until codes are issued.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from analysis.allocation import allocate
from analysis.pps import inclusion_probabilities, stratum_start, systematic_sample
from survey_app.extensions import db
from survey_app.models import (
    AuditEvent,
    Campaign,
    PlanQuota,
    PlanSchool,
    PlanStratum,
    SamplingPlan,
    School,
    Stratum,
)
from survey_app.models.plan import FRAME_ORDER
from survey_app.plan import audit, lists, second_stage
from survey_app.plan.code_batches import codes_issued

MAX_SEED = 2**63 - 1
EXPORT_COLUMNS = (
    "stratum",
    "school_code",
    "size",
    "frame_order",
    "n_stratum",
    "pi",
    "start",
    "selected",
    # After the freeze (plan/changes.py): a drawn school that refused, and the school a
    # substitute stands in for. The eight columns above are the draw as drawn, for R.
    "refused",
    "substitute_for",
)


class DrawRefused(Exception):
    """The draw cannot be made as asked: the message says why in one line; ``code``
    (seed, frozen, no_frame, unknown_stratum, too_many) and ``params`` for pages."""

    def __init__(self, message: str, code: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class FrameStratum:
    stratum: Stratum
    schools: list[School]  # in frame order

    @property
    def drawable(self) -> int:
        """Schools of positive size: a school with no pupils cannot be drawn by PPS."""
        return sum(1 for school in self.schools if school.enrolment > 0)


def frame_strata(campaign: Campaign) -> list[FrameStratum]:
    """The campaign's strata with their schools in frame order (by 学校标识码)."""
    strata = db.session.scalars(
        select(Stratum)
        .where(Stratum.campaign_id == campaign.id, Stratum.kind == "school")
        .order_by(Stratum.code)
    ).all()
    schools = db.session.scalars(
        select(School).where(School.campaign_id == campaign.id).order_by(School.code)
    ).all()
    by_stratum: dict[int, list[School]] = {stratum.id: [] for stratum in strata}
    for school in schools:
        by_stratum[school.stratum_id].append(school)
    return [FrameStratum(stratum, by_stratum[stratum.id]) for stratum in strata]


def default_allocation(strata: list[FrameStratum]) -> dict[str, int]:
    """Schools per stratum when none are given (see the module's docstring)."""
    count = len(strata)
    drawable = [frame.drawable for frame in strata]
    total = min(sum(drawable), max(2 * count, count + 20))
    enrolment = [sum(school.enrolment for school in frame.schools) for frame in strata]
    shares = allocate(total, drawable, to=enrolment)
    return {frame.stratum.code: n for frame, n in zip(strata, shares, strict=True)}


def draw_schools(
    campaign: Campaign,
    seed: int,
    now: datetime,
    schools_per_stratum: Mapping[str, int] | None = None,
    respondents: Mapping[str, int] | None = None,
) -> SamplingPlan:
    """Draw (or draw again) the campaign's schools and plan the respondents of each
    selected school (``second_stage``), and draw the members of its lists with the same
    seed (``lists``); returns the recorded plan."""
    if not 0 <= seed <= MAX_SEED:
        raise DrawRefused(f"the seed is a whole number from 0 to {MAX_SEED}", "seed")
    _check_drawable(campaign)
    strata = frame_strata(campaign)
    if not strata:
        raise DrawRefused(
            f"campaign {campaign.key} has no school frame: import it first", "no_frame"
        )
    allocation = _allocation(strata, schools_per_stratum or {})
    try:
        per_school = second_stage.respondents_per_school(respondents)
    except second_stage.RespondentsRefused as refused:
        raise DrawRefused(str(refused), "respondents") from refused
    drawn_before = plan_of(campaign)
    if drawn_before is not None:
        # through the session, not a bulk DELETE: the rows it has loaded (the page read
        # the plan) leave it too, so the new plan's rows may take their ids
        db.session.delete(drawn_before)
        db.session.flush()
    plan = SamplingPlan(
        campaign_id=campaign.id,
        seed=seed,
        frame_order=FRAME_ORDER,
        size_measure="enrolment",
        drawn_at=now,
    )
    for frame in strata:
        n = allocation[frame.stratum.code]
        start = stratum_start(seed, frame.stratum.code)
        sizes = [school.enrolment for school in frame.schools]
        pik = inclusion_probabilities(sizes, n)
        selected = systematic_sample(pik, start)
        plan.strata.append(
            PlanStratum(stratum_id=frame.stratum.id, schools_drawn=n, random_start=start)
        )
        for position, (school, pi, chosen) in enumerate(
            zip(frame.schools, pik, selected, strict=True), start=1
        ):
            plan.schools.append(
                PlanSchool(
                    school_id=school.id,
                    stratum_id=frame.stratum.id,
                    frame_order=position,
                    size=school.enrolment,
                    inclusion_probability=float(pi),
                    selected=bool(chosen),
                )
            )
            if chosen:
                for group, wanted in per_school.items():
                    size = second_stage.population(school, group)
                    plan.quotas.append(
                        PlanQuota(
                            school_id=school.id,
                            respondent_group=group,
                            planned=min(wanted, size),
                            population=size,
                        )
                    )
    db.session.add(plan)
    db.session.flush()
    drawn_lists = {
        frame.respondent_group: len(lists.draw_list(frame, seed, now))
        for frame in lists.lists_of(campaign)
    }
    audit.record(
        campaign,
        "schools_drawn",
        {
            "seed": seed,
            "schools_per_stratum": allocation,
            "selected": sum(1 for school in plan.schools if school.selected),
            "respondents_per_school": per_school,
            "list_members": drawn_lists,
        },
    )
    return plan


def respondents_drawn(campaign: Campaign) -> dict[str, int]:
    """Respondents per school of each group as the campaign's last draw asked for them
    (its audit record: a school's quota is fewer where it has fewer), else the defaults:
    what a new draw keeps unless told otherwise."""
    details = db.session.scalar(
        select(AuditEvent.details)
        .where(AuditEvent.campaign_id == campaign.id, AuditEvent.action == "schools_drawn")
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    asked = (details or {}).get("respondents_per_school") or {}
    return second_stage.respondents_per_school({group: int(n) for group, n in asked.items()})


def _check_drawable(campaign: Campaign) -> None:
    if campaign.status != "draft":
        raise DrawRefused(
            f"campaign {campaign.key} is {campaign.status}: its draw is frozen", "frozen"
        )
    issued = codes_issued(campaign)
    if issued:
        raise DrawRefused(
            f"campaign {campaign.key} has {issued} codes issued: its draw is frozen", "frozen"
        )


def _allocation(strata: list[FrameStratum], given: Mapping[str, int]) -> dict[str, int]:
    codes = {frame.stratum.code: frame for frame in strata}
    unknown = sorted(set(given) - set(codes))
    if unknown:
        raise DrawRefused(
            f"no stratum {unknown[0]!r} in this frame (strata: {', '.join(sorted(codes))})",
            "unknown_stratum",
        )
    allocation = default_allocation(strata)
    for code, n in given.items():
        frame = codes[code]
        if not 0 <= n <= frame.drawable:
            raise DrawRefused(
                f"stratum {code} has {frame.drawable} schools with pupils: cannot draw {n}",
                "too_many",
                stratum=code,
                n=frame.drawable,
                asked=n,
            )
        allocation[code] = n
    return allocation


def plan_of(campaign: Campaign) -> SamplingPlan | None:
    return db.session.scalar(select(SamplingPlan).where(SamplingPlan.campaign_id == campaign.id))


def export_rows(plan: SamplingPlan) -> Iterator[dict[str, str]]:
    """One row per frame school, so anyone can check the draw in R (π and the start to
    17 significant digits: the doubles exactly)."""
    strata = {entry.stratum_id: entry for entry in plan.strata}
    rows = sorted(plan.schools, key=lambda s: (strata[s.stratum_id].stratum.code, s.frame_order))
    codes = {row.id: row.school.code for row in rows}
    for row in rows:
        entry = strata[row.stratum_id]
        yield {
            "stratum": entry.stratum.code,
            "school_code": row.school.code,
            "size": str(row.size),
            "frame_order": str(row.frame_order),
            "n_stratum": str(entry.schools_drawn),
            "pi": format(row.inclusion_probability, ".17g"),
            "start": format(entry.random_start, ".17g"),
            "selected": "1" if row.selected else "0",
            "refused": "1" if row.refused else "0",
            "substitute_for": codes[row.substitute_for_id] if row.substitute_for_id else "",
        }


def export_csv(plan: SamplingPlan) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(export_rows(plan))
    return buffer.getvalue()
