"""Issuing one-time codes for sampled respondent slots: at a school, of a list, or when
someone opens an open link (``respond/open_links.py``); and voiding a school's unused
ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from survey_app.codes import code_digest, new_code, normalise_code
from survey_app.extensions import db
from survey_app.models import ListFrame, OneTimeCode, School
from survey_app.vocabulary import STUDENT


class ReadingLevelRequired(Exception):
    """Student codes at a nine-year school (grades 3-9 in one school) need the pupils'
    reading level: their grade decides which questionnaire they answer."""


def issue_codes(
    school: School,
    respondent_group: str,
    n: int,
    *,
    reading_level: str | None = None,
    expires_at: datetime | None = None,
) -> list[str]:
    """Create ``n`` unused codes for one school and group; returns their display forms.

    The plain codes exist only in the return value (for printing on slips); the
    database keeps their digests.
    """
    if respondent_group == STUDENT and reading_level is None:
        if school.level == "nine_year":
            raise ReadingLevelRequired(school.code)
        reading_level = "junior" if school.level == "junior" else "primary"
    return [
        display
        for display, _row in new_codes(
            school.campaign_id,
            school.stratum_id,
            respondent_group,
            n,
            school_id=school.id,
            reading_level=reading_level if respondent_group == STUDENT else None,
            expires_at=expires_at,
        )
    ]


def issue_list_codes(frame: ListFrame, n: int, *, expires_at: datetime | None) -> list[str]:
    """``n`` codes for people of a list (deputies, members): no school, the list's stratum."""
    return [
        display
        for display, _row in new_codes(
            frame.campaign_id, frame.stratum_id, frame.respondent_group, n, expires_at=expires_at
        )
    ]


def new_codes(
    campaign_id: int,
    stratum_id: int,
    respondent_group: str,
    n: int,
    *,
    school_id: int | None = None,
    reading_level: str | None = None,
    expires_at: datetime | None = None,
    open_link_id: int | None = None,
    held_until: datetime | None = None,
) -> list[tuple[str, OneTimeCode]]:
    """The one place codes are made: ``n`` rows (digests only) and their display forms."""
    made: list[tuple[str, OneTimeCode]] = []
    for _index in range(n):
        display = new_code()
        canonical = normalise_code(display)
        assert canonical is not None  # noqa: S101 - new_code only makes valid codes
        row = OneTimeCode(
            digest=code_digest(canonical),
            campaign_id=campaign_id,
            school_id=school_id,
            stratum_id=stratum_id,
            respondent_group=respondent_group,
            reading_level=reading_level,
            expires_at=expires_at,
            open_link_id=open_link_id,
            held_until=held_until,
            status="issued",
        )
        db.session.add(row)
        made.append((display, row))
    db.session.flush()
    return made


def void_unused(school: School, group: str | None = None) -> int:
    """Void the school's unused codes (of ``group``, or of every group): nobody can
    answer with them any more; answered ones stay.  Returns how many."""
    query = select(OneTimeCode).where(
        OneTimeCode.campaign_id == school.campaign_id,
        OneTimeCode.school_id == school.id,
        OneTimeCode.status == "issued",
    )
    if group is not None:
        query = query.where(OneTimeCode.respondent_group == group)
    codes = db.session.scalars(query).all()
    for code in codes:
        code.status = "void"
    return len(codes)
