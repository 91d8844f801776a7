"""A person's decision on a school's group after the integrity checks: recorded with its
reason in the audit log, and read by the loader (a set-aside group's answers so far
leave every figure; kept again, they return)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from survey_app.codes import code_digest, normalise_code
from survey_app.extensions import db
from survey_app.integrity import decisions
from survey_app.integrity.decisions import DecisionRefused, decide
from survey_app.models import (
    AuditEvent,
    Campaign,
    IntegrityDecision,
    OneTimeCode,
    PlanSchool,
    School,
)
from survey_app.plan import code_batches, draw
from survey_app.plan.issuing import issue_codes
from survey_app.respond import services
from survey_app.results.evaluation import evaluate_campaign, evaluation_json
from survey_app.results.loader import CellCut, load_campaign
from tests.factories import PER_SCHOOL


def _drawn_school(campaign: Campaign) -> School:
    row = db.session.scalars(
        select(PlanSchool).where(PlanSchool.selected).order_by(PlanSchool.id)
    ).first()
    assert row is not None
    school = db.session.get(School, row.school_id)
    assert school is not None
    return school


def _survey_parents_again(campaign: Campaign, school: School) -> None:
    """A supervisor's decision: the school's parents surveyed again."""
    decide(
        campaign,
        school.code,
        "parent",
        "resurvey",
        "standard answers in the chat group",
        allowed=decisions.SUPERVISOR_DECISIONS,
    )


def test_set_aside_leaves_the_groups_answers_out_and_keep_brings_them_back(surveyed_county):
    school = _drawn_school(surveyed_county)
    before = load_campaign(surveyed_county)
    found_before = evaluation_json(evaluate_campaign(surveyed_county))
    decide(
        surveyed_county,
        school.code,
        "parent",
        "set_aside",
        " 42 of 60 the same ",
        allowed=decisions.EVALUATOR_DECISIONS,
    )
    after = load_campaign(surveyed_county)
    assert after.n == before.n - PER_SCHOOL["parent"]
    assert after.set_aside["integrity_decision"] == PER_SCHOOL["parent"]
    gone = (before.school_codes == school.code) & (before.groups == "parent")
    assert not np.any((after.school_codes == school.code) & (after.groups == "parent"))
    assert gone.sum() == PER_SCHOOL["parent"]
    found_after = evaluation_json(evaluate_campaign(surveyed_county))
    parents = {g["group"]: g for g in found_after["groups"]}["parent"]
    assert parents["n"] == {g["group"]: g for g in found_before["groups"]}["parent"]["n"] - 6
    assert found_after["set_aside"]["integrity_decision"] == PER_SCHOOL["parent"]
    # Every response in the plan, whatever was decided: what the checks examine.
    assert load_campaign(surveyed_county, cuts=()).n == before.n
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "integrity_decision")
    ).one()
    assert event.reason == "42 of 60 the same"
    assert event.details == {"school": school.code, "group": "parent", "decision": "set_aside"}
    decide(surveyed_county, school.code, "parent", "keep", "the school explained it")
    assert load_campaign(surveyed_county).n == before.n
    rows = db.session.scalars(select(IntegrityDecision)).all()
    assert [(r.decision, r.reason) for r in rows] == [("keep", "the school explained it")]
    assert (
        len(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "integrity_decision")
            ).all()
        )
        == 2
    )


def test_a_group_surveyed_again_keeps_only_the_answers_after_the_decision(surveyed_county):
    school = _drawn_school(surveyed_county)
    before = load_campaign(surveyed_county).n
    _survey_parents_again(surveyed_county, school)
    assert load_campaign(surveyed_county).n == before - PER_SCHOOL["parent"]
    later = datetime.now(UTC) + timedelta(minutes=3)
    (typed,) = issue_codes(school, "parent", 1)
    code = services.find_code(typed)
    services.claim_draft(code, later)
    questionnaire = services.questionnaire_of(code)
    services.save_draft(code, {item.id: 4 for item in questionnaire.items_for("parent")}, later)
    services.submit_response(code.id, later, "zh_Hans")
    assert load_campaign(surveyed_county).n == before - PER_SCHOOL["parent"] + 1


def test_explicit_cuts_leave_out_whole_cells(surveyed_county):
    school = _drawn_school(surveyed_county)
    everything = load_campaign(surveyed_county, cuts=())
    without = load_campaign(
        surveyed_county, cuts=(CellCut(school.id, "student"), CellCut(school.id, "teacher"))
    )
    assert without.n == everything.n - PER_SCHOOL["student"] - PER_SCHOOL["teacher"]
    early = load_campaign(surveyed_county, cuts=(CellCut(school.id, "student", until=0.0),))
    assert early.n == everything.n  # nothing was submitted before 1970


@pytest.mark.parametrize(
    ("school", "group", "decision", "reason", "code"),
    [
        (None, "parent", "set_aside", "   ", "reason"),
        (None, "parent", "set_aside", "x" * 501, "reason_length"),
        ("0000000000", "parent", "set_aside", "why", "unknown_school"),
        (None, "deputy", "set_aside", "why", "group"),
        (None, "parent", "resurvey", "why", "decision"),  # not an evaluator's
        (None, "parent", "delete", "why", "decision"),
    ],
)
def test_refused_decisions_change_nothing(surveyed_county, school, group, decision, reason, code):
    drawn = _drawn_school(surveyed_county)
    with pytest.raises(DecisionRefused) as refused:
        decide(
            surveyed_county,
            school or drawn.code,
            group,
            decision,
            reason,
            allowed=decisions.EVALUATOR_DECISIONS,
        )
    assert refused.value.code == code
    assert not refused.value.conflict
    assert db.session.scalars(select(IntegrityDecision)).all() == []
    assert (
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "integrity_decision")
        ).all()
        == []
    )


def test_a_group_is_surveyed_again_only_while_the_fieldwork_is_open(surveyed_county):
    surveyed_county.status = "closed"
    with pytest.raises(DecisionRefused) as refused:
        decide(
            surveyed_county,
            _drawn_school(surveyed_county).code,
            "parent",
            "resurvey",
            "why",
            allowed=decisions.SUPERVISOR_DECISIONS,
        )
    assert refused.value.code == "not_open"
    assert refused.value.conflict


def test_a_group_surveyed_again_gets_its_planned_codes_anew(surveyed_county):
    """Its unused codes revoked, its answered ones no longer counted as the plan's: the
    codes page issues the group's planned codes again, and no more."""
    plan = draw.plan_of(surveyed_county)
    school = _drawn_school(surveyed_county)
    code_batches.issue_planned_codes(surveyed_county, plan)  # whatever the plan still lacks
    with pytest.raises(code_batches.NothingToIssue):
        code_batches.issue_planned_codes(surveyed_county, plan)  # every planned code is out
    spare = issue_codes(school, "parent", 2)  # slips the school still holds
    unused = db.session.scalar(
        select(func.count()).where(
            OneTimeCode.school_id == school.id,
            OneTimeCode.respondent_group == "parent",
            OneTimeCode.status == "issued",
        )
    )
    assert unused >= 2
    _survey_parents_again(surveyed_county, school)
    for typed in spare:
        assert (
            db.session.scalar(
                select(OneTimeCode.status).where(
                    OneTimeCode.digest == code_digest(normalise_code(typed))
                )
            )
            == "void"
        )
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "integrity_decision")
    ).one()
    assert event.details["codes_revoked"] == unused
    quota = next(
        q for q in plan.quotas if q.school_id == school.id and q.respondent_group == "parent"
    )
    issued = code_batches.issue_planned_codes(surveyed_county, plan)
    again = [c for c in issued if c.school is not None and c.school.id == school.id]
    assert [c.respondent_group for c in again] == ["parent"] * quota.planned
    assert len(issued) == quota.planned  # no other group's codes
    with pytest.raises(code_batches.NothingToIssue):
        code_batches.issue_planned_codes(surveyed_county, plan)
