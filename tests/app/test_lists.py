"""Deputies and members drawn from their own lists: a stratum each, each person a unit,
an equal-probability systematic draw from the plan's seed, codes without a school."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from analysis.pps import stratum_start
from survey_app.extensions import db
from survey_app.models import OneTimeCode, Response, Stratum
from survey_app.plan import code_batches, lists
from tests.app.conftest import Respondent, answer_everything, is_thank_you_page
from tests.factories import make_campaign, make_plan, make_school

NOW = datetime.now(UTC)


@pytest.fixture
def county(app_ctx):
    campaign = make_campaign(open_now=False)
    for index in range(6):
        make_school(campaign, enrolment=200 + 50 * index)
    return campaign


def test_a_list_is_a_stratum_of_its_own(county):
    frame = lists.set_list(county, "deputy", list_size=212, now=NOW)
    assert frame.stratum.code == "list-deputy"
    assert frame.stratum.kind == "list"
    assert (frame.stratum.location, frame.stratum.school_level) == (None, None)
    # ±10 points at 85% with the fpc of 212: n0 = 1.96²·0.85·0.15/0.01 = 48.98 → 40.
    assert frame.planned == 40


def test_the_list_is_drawn_with_the_plans_seed(county):
    lists.set_list(county, "deputy", list_size=212, planned=30, now=NOW)
    make_plan(county, seed=77)
    frame = lists.list_of(county, "deputy")
    positions = frame.drawn_positions
    assert len(positions) == 30
    assert positions == sorted(set(positions))
    assert positions[0] >= 1
    assert positions[-1] <= 212
    assert frame.random_start == stratum_start(77, "list-deputy")
    # Systematic with equal π = 30/212: steps of 212/30 = 7.07, so 7 or 8 apart.
    assert {b - a for a, b in zip(positions, positions[1:], strict=False)} <= {7, 8}
    # The same seed draws the same people; another seed others.
    make_plan(county, seed=77)
    assert lists.list_of(county, "deputy").drawn_positions == positions
    make_plan(county, seed=78)
    assert lists.list_of(county, "deputy").drawn_positions != positions


def test_a_list_set_after_the_draw_is_drawn_at_once(county):
    make_plan(county, seed=5)
    frame = lists.set_list(county, "member", list_size=10, planned=10, now=NOW)
    assert frame.drawn_positions == list(range(1, 11))


def test_ids_name_the_drawn_members(county):
    ids = lists.parse_member_ids("编号\nD-001\nD-002\nD-003\nD-004\n".encode())
    assert ids == ["D-001", "D-002", "D-003", "D-004"]
    lists.set_list(county, "member", member_ids=ids, planned=2, now=NOW)
    make_plan(county, seed=3)
    frame = lists.list_of(county, "member")
    labels = [m.label for m in lists.drawn_members(frame)]
    assert len(labels) == 2
    assert set(labels) <= set(ids)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("A1\nA2\nA1\n", "line 3, id: 'A1' is also on line 1"),
        ("A1\n" + "x" * 41 + "\n", "line 2, id: longer than 40 characters"),
        ("id\n\n\n", "the list has no ids"),
    ],
)
def test_bad_id_lists_name_the_line(text, problem):
    with pytest.raises(lists.ListRefused) as refused:
        lists.parse_member_ids(text.encode())
    assert problem in str(refused.value)


def test_gbk_ids_are_read():
    assert lists.parse_member_ids("代表一\n代表二\n".encode("gbk")) == ["代表一", "代表二"]


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"group": "parent", "list_size": 10}, "group"),
        ({"group": "deputy", "list_size": 0}, "size"),
        ({"group": "deputy", "list_size": 10, "planned": 11}, "planned"),
        ({"group": "deputy", "list_size": 10, "planned": -1}, "planned"),
    ],
)
def test_bad_lists_are_refused(county, values, code):
    group = values.pop("group")
    with pytest.raises(lists.ListRefused) as refused:
        lists.set_list(county, group, now=NOW, **values)
    assert refused.value.code == code


def test_codes_for_the_drawn_members_then_the_list_is_frozen(county):
    lists.set_list(county, "deputy", list_size=50, planned=5, now=NOW)
    make_plan(county, seed=9)
    issued = code_batches.issue_planned_codes(county, make_plan(county, seed=9))
    deputies = [entry for entry in issued if entry.respondent_group == "deputy"]
    frame = lists.list_of(county, "deputy")
    assert [entry.member for entry in deputies] == [str(p) for p in frame.drawn_positions]
    assert all(entry.school is None and entry.stratum == "list-deputy" for entry in deputies)
    rows = db.session.scalars(
        select(OneTimeCode).where(OneTimeCode.respondent_group == "deputy")
    ).all()
    assert {(row.school_id, row.stratum_id) for row in rows} == {(None, frame.stratum_id)}
    with pytest.raises(lists.ListRefused) as refused:
        lists.set_list(county, "deputy", list_size=60, now=NOW)
    assert refused.value.code == "frozen"


def test_a_replacement_for_a_revoked_slip_names_no_member(county):
    lists.set_list(county, "deputy", list_size=50, planned=3, now=NOW)
    plan = make_plan(county, seed=9)
    first = [e for e in code_batches.issue_planned_codes(county, plan) if e.member]
    code_batches.revoke_code(county, first[0].code)
    again = code_batches.issue_planned_codes(county, plan)
    assert [(e.respondent_group, e.member) for e in again] == [("deputy", None)]


def test_a_deputy_answers_into_the_list_stratum(app, campaign, make_respondent):
    frame = lists.list_of(campaign, "deputy")
    (code,) = lists_codes(frame)
    db.session.commit()
    respondent: Respondent = make_respondent()
    respondent.open(code)
    respondent.start()
    answer_everything(app, respondent, group="deputy")
    assert is_thank_you_page(respondent.submit())
    response = db.session.scalars(select(Response).order_by(Response.id.desc())).first()
    assert (response.respondent_group, response.school_id) == ("deputy", None)
    assert db.session.get(Stratum, response.stratum_id).code == "list-deputy"


def lists_codes(frame):
    from survey_app.plan.issuing import issue_list_codes

    return issue_list_codes(frame, 1, expires_at=None)


def test_the_codes_of_a_list_are_counted(county):
    lists.set_list(county, "member", list_size=30, planned=4, now=NOW)
    plan = make_plan(county, seed=2)
    issued = [e for e in code_batches.issue_planned_codes(county, plan) if e.member]
    code_batches.revoke_code(county, issued[0].code)
    (row,) = lists.list_progress(county)
    assert (row.planned, row.issued, row.used, row.void) == (4, 3, 0, 1)


def test_the_slips_of_a_list_name_the_member_not_a_school(county):
    import csv
    import io

    from pypdf import PdfReader

    from survey_app.plan import slips

    lists.set_list(county, "deputy", member_ids=["D-01", "D-02", "D-03"], planned=2, now=NOW)
    plan = make_plan(county, seed=4)
    issued = [e for e in code_batches.issue_planned_codes(county, plan) if e.member]
    rows = list(csv.DictReader(io.StringIO(slips.codes_csv(issued, "http://x"))))
    assert [(r["stratum"], r["school_code"], r["member"]) for r in rows] == [
        ("list-deputy", "", e.member) for e in issued
    ]
    assert {r["member"] for r in rows} <= {"D-01", "D-02", "D-03"}
    pdf = slips.slips_pdf(issued, "http://x", "zh_Hans", county, NOW)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert issued[0].member in text
    assert issued[0].code in text
