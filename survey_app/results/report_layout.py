"""The certification report's pages: the evaluation laid out in zh_Hans by WeasyPrint
(``templates/results/report.html``), with the responses and coverage by stratum and the
methodology appendix's facts (the plan's seed, software versions)."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from flask import render_template
from flask_babel import force_locale
from markupsafe import Markup
from sqlalchemy import func, select

from analysis.recognition import RecognitionRule
from questionnaires.validation import area_label
from survey_app.extensions import db
from survey_app.models import (
    Campaign,
    ListFrame,
    OpenLink,
    PlanQuota,
    PlanSchool,
    PlanStratum,
    Response,
    SamplingPlan,
    Stratum,
)
from survey_app.plan import audit
from survey_app.plan.slips import no_cycle_collection, qr_data_uri
from survey_app.results.labels import SET_ASIDE_LABELS, VERDICT_LABELS, caveat_text, item_texts
from survey_app.results.page import ResultsPage
from survey_app.vocabulary import RESPONDENT_GROUPS

REPORT_LANGUAGE = "zh_Hans"
# What changed in the frozen plan (plan/changes.py): the report lists each with its reason.
PLAN_CHANGES = ("school_replaced", "population_corrected")


def report_html(
    campaign: Campaign,
    page: ResultsPage,
    *,
    public_id: str,
    issued_at: datetime,
    issued_by: str,
    verify_link: str,
    min_n: int,
    signer: str,
    fingerprint: str,
) -> str:
    """The report's page in zh_Hans (the QR code is a placeholder ``src="qr:verify"``)."""
    found = page.found
    strata = coverage(campaign)
    with force_locale(REPORT_LANGUAGE):
        return render_template(
            "results/report.html",
            campaign=campaign,
            page=page,
            found=found,
            min_n=min_n,
            public_id=public_id,
            issued_at=issued_at,
            issued_by=issued_by,
            verify_link=verify_link,
            signer=signer,
            fingerprint=fingerprint,
            verdict_labels=VERDICT_LABELS,
            set_aside_labels=SET_ASIDE_LABELS,
            caveat_text=caveat_text,
            area_names={
                row["area"]: area_label(row["area"], REPORT_LANGUAGE) for row in found["areas"]
            },
            item_texts=item_texts(page.items, page.item_versions, REPORT_LANGUAGE),
            coverage=strata,
            answered_groups={group for row in strata for group, n in row.by_group.items() if n},
            plan=_plan(campaign),
            plan_changes=audit.events_of(campaign, PLAN_CHANGES),
            interval_level=1 - 2 * RecognitionRule().alpha,
            rule=RecognitionRule(),
            software=software_versions(),
            questionnaires=sorted(set(page.item_versions)),
            groups=RESPONDENT_GROUPS,
            css_string=css_string,
        )


def preload() -> None:
    """Import WeasyPrint now (about a second), not in the first report's time."""
    import weasyprint  # noqa: F401


def render_pdf(html: str, link: str) -> bytes:
    from weasyprint import HTML

    with no_cycle_collection():
        with_qr = html.replace('src="qr:verify"', f'src="{qr_data_uri(link)}"')
        body = HTML(string=with_qr).write_pdf()
    return body  # type: ignore[no-any-return]


def css_string(text: object) -> Markup:
    """``text`` as a quoted CSS string (for ``content:`` in the page margins)."""
    escaped = (
        str(text)
        .replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("<", "\\3c ")
        .replace(">", "\\3e ")
        .replace("\n", " ")
    )
    return Markup(f'"{escaped}"')  # noqa: S704 - escaped for CSS: no quote, no tag ends


@dataclass(frozen=True)
class StratumRow:
    code: str
    kind: str
    location: str | None
    school_level: str | None
    label: str | None  # an open link's area, or a list's group
    by_group: dict[str, int]
    schools_in_field: int | None
    schools_answering: int | None
    planned: int | None

    @property
    def responses(self) -> int:
        return sum(self.by_group.values())


def coverage(campaign: Campaign) -> list[StratumRow]:
    """Responses received per stratum and group (weighted or set aside), against what
    the plan asked for: schools in the field and answering, responses planned."""
    counts: dict[int, dict[str, int]] = {}
    for stratum_id, group, n in db.session.execute(
        select(Response.stratum_id, Response.respondent_group, func.count())
        .where(Response.campaign_id == campaign.id)
        .group_by(Response.stratum_id, Response.respondent_group)
    ):
        counts.setdefault(stratum_id, {})[group] = int(n)
    answering: dict[int, int] = {
        stratum_id: int(n)
        for stratum_id, n in db.session.execute(
            select(Response.stratum_id, func.count(func.distinct(Response.school_id)))
            .where(Response.campaign_id == campaign.id, Response.school_id.is_not(None))
            .group_by(Response.stratum_id)
        )
    }
    plan_id = db.session.scalar(
        select(SamplingPlan.id).where(SamplingPlan.campaign_id == campaign.id)
    )
    in_field: dict[int, int] = {}
    planned: dict[int, int] = {}
    if plan_id is not None:
        for row in db.session.execute(
            select(
                PlanSchool.stratum_id,
                PlanSchool.school_id,
                PlanSchool.selected,
                PlanSchool.refused,
                PlanSchool.substitute_for_id,
            ).where(PlanSchool.plan_id == plan_id)
        ):
            if (row.selected and not row.refused) or row.substitute_for_id is not None:
                in_field[row.stratum_id] = in_field.get(row.stratum_id, 0) + 1
        stratum_of_school = {
            school_id: stratum_id
            for school_id, stratum_id in db.session.execute(
                select(PlanSchool.school_id, PlanSchool.stratum_id).where(
                    PlanSchool.plan_id == plan_id
                )
            )
        }
        for school_id, n in db.session.execute(
            select(PlanQuota.school_id, func.sum(PlanQuota.planned))
            .where(PlanQuota.plan_id == plan_id)
            .group_by(PlanQuota.school_id)
        ):
            found = stratum_of_school.get(school_id)
            if found is not None:
                planned[found] = planned.get(found, 0) + int(n or 0)
    lists = {
        row.stratum_id: row
        for row in db.session.execute(
            select(ListFrame.stratum_id, ListFrame.respondent_group, ListFrame.planned).where(
                ListFrame.campaign_id == campaign.id
            )
        )
    }
    links = {
        row.stratum_id: row
        for row in db.session.execute(
            select(OpenLink.stratum_id, OpenLink.label, OpenLink.quota).where(
                OpenLink.campaign_id == campaign.id
            )
        )
    }
    rows = []
    for stratum in db.session.scalars(
        select(Stratum).where(Stratum.campaign_id == campaign.id).order_by(Stratum.code)
    ):
        by_group = counts.get(stratum.id, {})
        label: str | None = None
        wanted: int | None = planned.get(stratum.id)
        if stratum.kind == "list" and stratum.id in lists:
            label = lists[stratum.id].respondent_group
            wanted = int(lists[stratum.id].planned)
        elif stratum.kind == "area" and stratum.id in links:
            label = links[stratum.id].label
            wanted = int(links[stratum.id].quota)
        if not by_group and not wanted and not in_field.get(stratum.id):
            continue  # a stratum the plan did not use and nobody answered in
        school = stratum.kind == "school"
        rows.append(
            StratumRow(
                code=stratum.code,
                kind=stratum.kind,
                location=stratum.location,
                school_level=stratum.school_level,
                label=label,
                by_group=by_group,
                schools_in_field=in_field.get(stratum.id, 0) if school else None,
                schools_answering=answering.get(stratum.id, 0) if school else None,
                planned=wanted,
            )
        )
    order = {"school": 0, "list": 1, "area": 2}
    return sorted(rows, key=lambda row: (order.get(row.kind, 3), row.code))


def _plan(campaign: Campaign) -> dict[str, Any] | None:
    """What the appendix says about the draw: seed, when, how many schools per stratum."""
    plan = db.session.scalar(select(SamplingPlan).where(SamplingPlan.campaign_id == campaign.id))
    if plan is None:
        return None
    strata = db.session.execute(
        select(
            func.count(PlanStratum.id), func.coalesce(func.sum(PlanStratum.schools_drawn), 0)
        ).where(PlanStratum.plan_id == plan.id)
    ).one()
    frame = db.session.scalar(
        select(func.count(PlanSchool.id)).where(PlanSchool.plan_id == plan.id)
    )
    lists = db.session.execute(
        select(ListFrame.respondent_group, ListFrame.list_size, ListFrame.planned).where(
            ListFrame.campaign_id == campaign.id
        )
    ).all()
    return {
        "seed": plan.seed,
        "drawn_at": plan.drawn_at,
        "size_measure": plan.size_measure,
        "frame_order": plan.frame_order,
        "strata": int(strata[0]),
        "schools_drawn": int(strata[1]),
        "frame_schools": int(frame or 0),
        "lists": [
            {"group": group, "size": int(size), "planned": int(n)} for group, size, n in lists
        ],
    }


def software_versions() -> list[tuple[str, str]]:
    versions = [("Python", platform.python_version())]
    for name in ("numpy", "scipy", "statsmodels", "weasyprint", "pyHanko"):
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "–"))
    versions.append(("survey-app", app_commit() or "–"))
    return versions


@lru_cache(maxsize=1)
def app_commit() -> str | None:
    """The checked-out commit of the app (read from ``.git``, no git process), if any."""
    git = Path(__file__).resolve().parents[2] / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12] or None
        ref = head.removeprefix("ref: ")
        loose = git / ref
        if loose.exists():
            return loose.read_text().strip()[:12] or None
        packed = git / "packed-refs"
        for line in packed.read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0][:12]
    except OSError:
        return None
    return None
