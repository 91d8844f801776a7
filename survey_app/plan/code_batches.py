"""Batches of codes for a drawn plan: issuing what it calls for, watching them come back,
revoking lost ones.

Plain codes exist only in what :func:`issue_planned_codes` returns (the database keeps
digests): print them at once (``slips.py``). A batch whose printout is lost is revoked
(:func:`revoke_unused`) and issued again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from survey_app.codes import code_digest, normalise_code
from survey_app.extensions import db
from survey_app.integrity.decisions import resurveyed
from survey_app.models import Campaign, OneTimeCode, PlanQuota, SamplingPlan, School, Stratum
from survey_app.plan import audit, lists, second_stage
from survey_app.plan.issuing import issue_codes, issue_list_codes, void_unused
from survey_app.vocabulary import STUDENT


class NothingToIssue(Exception):
    """The campaign has no drawn plan, or every planned code has been issued already."""


@dataclass(frozen=True)
class IssuedCode:
    """A code just issued, with where it goes: a school, or a person of a list (``member``:
    the drawn member's id or list position; None for a replacement of a revoked slip)."""

    school: School | None
    respondent_group: str
    reading_level: str | None
    code: str
    stratum: str = ""
    member: str | None = None

    @property
    def unit_code(self) -> str:
        """The school code, or the list member, the slip goes to (as slips and CSVs say)."""
        if self.school is not None:
            return self.school.code
        return self.member or ""


def issue_planned_codes(campaign: Campaign, plan: SamplingPlan | None) -> list[IssuedCode]:
    """Codes for every selected school and group, and every drawn list member, up to what
    the plan calls for (codes issued before and not revoked count); they expire when the
    fieldwork closes."""
    if plan is None:
        raise NothingToIssue(f"campaign {campaign.key} has not drawn its schools yet")
    issued: list[IssuedCode] = []
    for quota, progress in zip(plan.quotas, quota_progress(plan), strict=True):
        missing = quota.planned - progress.issued  # issued before and not revoked
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
                issued.append(
                    IssuedCode(
                        quota.school,
                        quota.respondent_group,
                        level,
                        code,
                        stratum=quota.school.stratum.code,
                    )
                )
    issued.extend(_list_codes(campaign))
    if not issued:
        raise NothingToIssue(f"every code the plan of {campaign.key} calls for is issued")
    audit.record(campaign, "codes_issued", {"codes": len(issued)})
    return issued


def _list_codes(campaign: Campaign) -> list[IssuedCode]:
    """Codes for the drawn members of each list not yet covered: the first batch in list
    order, one per drawn member; later ones replace revoked slips (no member named).
    What is out already comes from the lists' one grouped count (``list_progress``)."""
    issued: list[IssuedCode] = []
    for progress in lists.list_progress(campaign):
        missing = progress.planned - progress.issued  # issued: not revoked, answered or not
        if missing <= 0:
            continue
        frame = progress.frame
        first = progress.issued + progress.void == 0
        members = [m.label for m in lists.drawn_members(frame)] if first else []
        codes = issue_list_codes(frame, missing, expires_at=campaign.closes_at)
        for index, code in enumerate(codes):
            member = members[index] if index < len(members) else None
            issued.append(
                IssuedCode(
                    None, frame.respondent_group, None, code, frame.stratum.code, member=member
                )
            )
    return issued


def codes_issued(campaign: Campaign) -> int:
    """How many codes the campaign has issued, revoked ones included: once there is one,
    its frame and its draw are in the field and can no longer be replaced."""
    counted = select(func.count()).where(OneTimeCode.campaign_id == campaign.id)
    return int(db.session.scalar(counted) or 0)


def _by_reading_level(quota: PlanQuota, missing: int) -> list[tuple[str | None, int]]:
    """Students of a nine-year school split between the primary (grades 3-6) and junior
    (7-9) questionnaires in proportion to their pupils; other codes need no level."""
    if quota.respondent_group != STUDENT or quota.school.level != "nine_year":
        return [(None, missing)]
    junior = round(missing * second_stage.junior_share(quota.school))
    return [(level, n) for level, n in (("primary", missing - junior), ("junior", junior)) if n]


@dataclass(frozen=True)
class QuotaProgress:
    """One selected school and group: codes planned, issued (not revoked), answered."""

    school: School
    respondent_group: str
    planned: int
    issued: int
    used: int
    void: int

    @property
    def response_rate(self) -> float | None:
        """Answered over the codes issued and not revoked (None before any is issued)."""
        return self.used / self.issued if self.issued else None


def quota_progress(plan: SamplingPlan) -> list[QuotaProgress]:
    """Per selected school and group, in one query for the codes (counts only)."""
    rows = db.session.execute(
        select(
            OneTimeCode.school_id,
            OneTimeCode.respondent_group,
            OneTimeCode.status,
            func.count(),
        )
        .where(OneTimeCode.campaign_id == plan.campaign_id)
        .group_by(OneTimeCode.school_id, OneTimeCode.respondent_group, OneTimeCode.status)
    )
    counts: dict[tuple[int | None, str], dict[str, int]] = {}
    for school_id, group, status, n in rows:
        counts.setdefault((school_id, group), {})[status] = int(n)
    # A group surveyed again after the integrity checks counts its codes from then on.
    again = resurveyed(plan.campaign_id)
    progress = []
    for quota in plan.quotas:
        by_status = counts.get((quota.school_id, quota.respondent_group), {})
        void = by_status.get("void", 0)
        used = by_status.get("used", 0) - again.get((quota.school_id, quota.respondent_group), 0)
        progress.append(
            QuotaProgress(
                school=quota.school,
                respondent_group=quota.respondent_group,
                planned=quota.planned,
                issued=by_status.get("issued", 0) + used,
                used=used,
                void=void,
            )
        )
    return progress


class RevokeRefused(Exception):
    """The code is unknown (or of another campaign), or already answered (``answered``)."""

    def __init__(self, message: str, *, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


def revoke_code(campaign: Campaign, typed: str) -> OneTimeCode:
    """Revoke one issued code (a lost or misprinted slip); a used code stays used."""
    canonical = normalise_code(typed)
    code = (
        db.session.scalar(
            select(OneTimeCode).where(
                OneTimeCode.digest == code_digest(canonical),
                OneTimeCode.campaign_id == campaign.id,
            )
        )
        if canonical
        else None
    )
    if code is None:
        raise RevokeRefused(f"no code {typed.strip()[:40]!r} in campaign {campaign.key}")
    if code.status == "used":
        raise RevokeRefused("this code has been answered: it cannot be revoked", answered=True)
    code.status = "void"
    db.session.flush()
    school = db.session.get(School, code.school_id) if code.school_id is not None else None
    # The log names the slip's school (or list) and group, never the code itself.
    stratum = db.session.get(Stratum, code.stratum_id)
    where = {"school": school.code} if school else {"stratum": stratum.code if stratum else None}
    audit.record(campaign, "code_revoked", {**where, "group": code.respondent_group})
    return code


def revoke_unused(campaign: Campaign, school_code: str, group: str) -> int:
    """Revoke every unused code of one school and group (a lost batch); returns how many."""
    school = db.session.scalar(
        select(School).where(School.campaign_id == campaign.id, School.code == school_code)
    )
    if school is None:
        raise RevokeRefused(f"no school {school_code!r} in campaign {campaign.key}")
    revoked = void_unused(school, group)
    db.session.flush()
    audit.record(
        campaign, "codes_revoked", {"school": school_code, "group": group, "codes": revoked}
    )
    return revoked
