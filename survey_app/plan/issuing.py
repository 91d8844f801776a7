"""Issuing one-time codes for sampled respondent slots."""

from __future__ import annotations

from datetime import datetime

from survey_app.codes import code_digest, new_code, normalise_code
from survey_app.extensions import db
from survey_app.models import OneTimeCode, School
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
    codes: list[str] = []
    for _index in range(n):
        display = new_code()
        canonical = normalise_code(display)
        assert canonical is not None  # noqa: S101 - new_code only makes valid codes
        db.session.add(
            OneTimeCode(
                digest=code_digest(canonical),
                campaign_id=school.campaign_id,
                school_id=school.id,
                stratum_id=school.stratum_id,
                respondent_group=respondent_group,
                reading_level=reading_level if respondent_group == STUDENT else None,
                expires_at=expires_at,
                status="issued",
            )
        )
        codes.append(display)
    db.session.flush()
    return codes
