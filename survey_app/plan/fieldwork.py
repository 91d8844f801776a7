"""What a supervisor watches in the field: the frame and the codes, as counts only.

No answer, comment or single response is read here: supervisors see how many codes
were issued and used per stratum and group, never what anyone said.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from survey_app.extensions import db
from survey_app.models import Campaign, OneTimeCode, School, Stratum


@dataclass(frozen=True)
class StratumFrame:
    """One stratum of the school frame."""

    code: str
    location: str
    school_level: str
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
        .where(Stratum.campaign_id == campaign.id)
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
        .join_from(OneTimeCode, School, OneTimeCode.school_id == School.id)
        .join(Stratum, School.stratum_id == Stratum.id)
        .where(OneTimeCode.campaign_id == campaign.id)
        .group_by(Stratum.code, OneTimeCode.respondent_group)
        .order_by(Stratum.code, OneTimeCode.respondent_group)
    )
    return [
        CodeCounts(stratum, group, int(n), int(used or 0), int(void or 0))
        for stratum, group, n, used, void in rows
    ]
