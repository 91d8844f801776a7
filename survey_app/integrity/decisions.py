"""A person's decision about one school's group after the integrity checks.

The checks only flag; what leaves the figures is decided by a person, with a reason:
an evaluator keeps a flagged group's answers or sets aside those submitted so far; a
supervisor, while the fieldwork is open, has the group surveyed again (the answers so
far set aside, its unused codes revoked and its planned codes issued anew on the codes
page) — or replaces the school (``plan/changes.py``).
The latest decision per school and group is kept in ``integrity_decision`` (what the
loader reads) and every decision is appended to the audit log with its reason.
"""

from __future__ import annotations

from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Campaign, IntegrityDecision, OneTimeCode, School
from survey_app.plan import audit
from survey_app.plan.issuing import void_unused
from survey_app.refusals import Refusal
from survey_app.vocabulary import INTEGRITY_DECISIONS, SCHOOL_GROUPS

AUDIT_ACTION = "integrity_decision"
# Who may decide what: evaluators judge the data; supervisors act in the field.
EVALUATOR_DECISIONS = ("keep", "set_aside")
SUPERVISOR_DECISIONS = ("keep", "resurvey")

# Why a decision is refused: code → English (the command line's; pages translate it,
# ``integrity/messages.py``).
REASONS = {
    "decision": "the decision must be one of: %(allowed)s",
    **audit.REASON_TEXTS,
    "unknown_school": "no school %(school)s in campaign %(key)s",
    "group": "%(group)s is not a group surveyed through schools",
    "not_open": "campaign %(key)s is not in the field: a group can be surveyed again only "
    "while the fieldwork is open",
}


class DecisionRefused(Refusal):
    """The decision cannot be recorded: ``code`` (:data:`REASONS`) and ``params``."""

    REASONS = REASONS
    CONFLICTS = frozenset(("not_open",))


def decide(
    campaign: Campaign,
    school_code: str,
    group: str,
    decision: str,
    reason: str,
    *,
    allowed: tuple[str, ...] = INTEGRITY_DECISIONS,
) -> IntegrityDecision:
    """Record ``decision`` on the school's group (replacing an earlier one) and append it
    to the audit log; ``allowed``: the decisions the caller's role may make."""
    if decision not in allowed:
        raise DecisionRefused("decision", allowed=", ".join(allowed))
    cleaned = audit.checked_reason(reason, DecisionRefused)
    if group not in SCHOOL_GROUPS:
        raise DecisionRefused("group", group=group)
    code = (school_code or "").strip()
    school = db.session.scalar(
        select(School).where(School.campaign_id == campaign.id, School.code == code)
    )
    if school is None:
        raise DecisionRefused("unknown_school", school=code, key=campaign.key)
    if decision == "resurvey" and campaign.status != "open":
        raise DecisionRefused("not_open", key=campaign.key)
    details: dict[str, object] = {"school": code, "group": group, "decision": decision}
    answered_before = None
    if decision == "resurvey":
        answered_before, details["codes_revoked"] = _start_again(campaign, school, group)
    event = audit.record(campaign, AUDIT_ACTION, details, cleaned)
    row = db.session.scalar(
        select(IntegrityDecision).where(
            IntegrityDecision.campaign_id == campaign.id,
            IntegrityDecision.school_id == school.id,
            IntegrityDecision.respondent_group == group,
        )
    )
    if row is None:
        row = IntegrityDecision(
            campaign_id=campaign.id, school_id=school.id, respondent_group=group
        )
    row.decision = decision
    row.reason = cleaned
    row.decided_by = event.actor
    row.decided_at = event.at
    row.codes_answered_before = answered_before
    db.session.add(row)
    db.session.flush()
    return row


def _start_again(campaign: Campaign, school: School, group: str) -> tuple[int, int]:
    """A group surveyed again: its unused codes revoked (the coached school may hold
    them), and its answered codes counted, so that the plan's codes are issued anew
    (``code_batches.quota_progress``). Returns (answered, revoked)."""
    answered = db.session.scalar(
        select(func.count()).where(
            OneTimeCode.campaign_id == campaign.id,
            OneTimeCode.school_id == school.id,
            OneTimeCode.respondent_group == group,
            OneTimeCode.status == "used",
        )
    )
    return int(answered or 0), void_unused(school, group)


def resurveyed(campaign_id: int) -> dict[tuple[int, str], int]:
    """(school id, group) → codes answered before the group was surveyed again."""
    rows = db.session.execute(
        select(
            IntegrityDecision.school_id,
            IntegrityDecision.respondent_group,
            IntegrityDecision.codes_answered_before,
        ).where(
            IntegrityDecision.campaign_id == campaign_id,
            IntegrityDecision.decision == "resurvey",
        )
    )
    return {(school, group): int(n or 0) for school, group, n in rows}


def decisions(campaign: Campaign) -> dict[tuple[str, str], IntegrityDecision]:
    """The latest decision per (school code, group)."""
    rows = db.session.execute(
        select(School.code, IntegrityDecision)
        .join(School, School.id == IntegrityDecision.school_id)
        .where(IntegrityDecision.campaign_id == campaign.id)
    ).all()
    return {(code, row.respondent_group): row for code, row in rows}
