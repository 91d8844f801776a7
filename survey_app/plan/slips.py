"""Printing a batch of codes: a CSV and PDF slips to cut (``code_batches`` issues them)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import TYPE_CHECKING

import segno
from flask import render_template
from flask_babel import force_locale

from survey_app.models import Campaign
from survey_app.plan.code_batches import IssuedCode

if TYPE_CHECKING:
    from weasyprint.document import Document

CSV_COLUMNS = ("school_code", "school_name", "stratum", "group", "reading_level", "code", "link")
SLIPS_PER_PAGE = 10  # 2 × 5 on A4, cut along the dashed lines


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
