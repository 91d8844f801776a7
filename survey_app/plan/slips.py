"""Issuing the codes a plan calls for, and printing them: a CSV and PDF slips to cut.

Plain codes exist only here, in what is returned and printed at issue time: the
database keeps their digests (``codes.py``). A batch whose printout is lost is revoked
and issued again.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import segno
from flask import render_template
from flask_babel import force_locale
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Campaign, OneTimeCode, PlanQuota, SamplingPlan, School
from survey_app.plan import second_stage
from survey_app.plan.issuing import issue_codes
from survey_app.vocabulary import STUDENT

if TYPE_CHECKING:
    from weasyprint.document import Document

CSV_COLUMNS = ("school_code", "school_name", "stratum", "group", "reading_level", "code", "link")
SLIPS_PER_PAGE = 10  # 2 × 5 on A4, cut along the dashed lines


class NothingToIssue(Exception):
    """The campaign has no drawn plan, or every planned code has been issued already."""


@dataclass(frozen=True)
class IssuedCode:
    school: School
    respondent_group: str
    reading_level: str | None
    code: str


def issue_planned_codes(campaign: Campaign, plan: SamplingPlan | None) -> list[IssuedCode]:
    """Codes for every selected school and group, up to what the plan calls for (codes
    issued before and not revoked count); they expire when the fieldwork closes."""
    if plan is None:
        raise NothingToIssue(f"campaign {campaign.key} has not drawn its schools yet")
    issued: list[IssuedCode] = []
    for quota in plan.quotas:
        missing = quota.planned - _valid_codes(quota)
        if missing <= 0:
            continue
        for level, count in _by_reading_level(quota, missing):
            for code in issue_codes(
                quota.school,
                quota.respondent_group,
                count,
                reading_level=level,
                expires_at=campaign.closes_at,
            ):
                issued.append(IssuedCode(quota.school, quota.respondent_group, level, code))
    if not issued:
        raise NothingToIssue(f"every code the plan of {campaign.key} calls for is issued")
    return issued


def _valid_codes(quota: PlanQuota) -> int:
    counted = select(func.count()).where(
        OneTimeCode.school_id == quota.school_id,
        OneTimeCode.respondent_group == quota.respondent_group,
        OneTimeCode.status != "void",
    )
    return int(db.session.scalar(counted) or 0)


def _by_reading_level(quota: PlanQuota, missing: int) -> list[tuple[str | None, int]]:
    """Students of a nine-year school split between the primary (grades 3-6) and junior
    (7-9) questionnaires in proportion to their pupils; other codes need no level."""
    if quota.respondent_group != STUDENT or quota.school.level != "nine_year":
        return [(None, missing)]
    junior = round(missing * second_stage.junior_share(quota.school))
    return [(level, n) for level, n in (("primary", missing - junior), ("junior", junior)) if n]


def link(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/r/{code}"


def codes_csv(issued: list[IssuedCode], base_url: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in issued:
        writer.writerow(
            [
                entry.school.code,
                entry.school.name,
                entry.school.stratum.code,
                entry.respondent_group,
                entry.reading_level or "",
                entry.code,
                link(base_url, entry.code),
            ]
        )
    return buffer.getvalue()


def slips_pdf(
    issued: list[IssuedCode], base_url: str, language: str, campaign: Campaign, now: datetime
) -> bytes:
    """PDF slips: a QR code of the link, the code, the link and two lines of instructions
    in ``language``, ten to an A4 page (WeasyPrint; Noto CJK for Chinese)."""
    return slips_document(issued, base_url, language, campaign, now).write_pdf()  # type: ignore[no-any-return]


def slips_document(
    issued: list[IssuedCode], base_url: str, language: str, campaign: Campaign, now: datetime
) -> Document:
    """The laid-out slips (pages to count or write)."""
    from weasyprint import HTML

    slips = [
        {
            "qr": _qr(link(base_url, entry.code)),
            "code": entry.code,
            "link": link(base_url, entry.code),
            "school": entry.school.name,
            "group": entry.respondent_group,
        }
        for entry in issued
    ]
    pages = [slips[i : i + SLIPS_PER_PAGE] for i in range(0, len(slips), SLIPS_PER_PAGE)]
    with force_locale(language):
        html = render_template(
            "plan/slips.html", pages=pages, campaign=campaign, language=language, now=now
        )
    return HTML(string=html).render()


def _qr(text: str) -> str:
    """The link as a QR code (a PNG data URI, one pixel a module, drawn sharp by CSS).

    The mask is fixed: segno otherwise scores all eight, which is a third of the time
    of a thousand slips; any mask gives a valid code that phones read.
    """
    code = segno.make(text, error="m", mask=2, micro=False, boost_error=False)
    return code.png_data_uri(scale=1, border=0)  # type: ignore[no-any-return]
