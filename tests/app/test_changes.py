"""Changes to a frozen plan: a drawn school that refused is replaced by an undrawn one of
its stratum (by default the next in frame order, wrapping around), a population is
corrected; each with a reason, in the audit log, on the command line and on the page."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from survey_app.auth import services
from survey_app.extensions import db
from survey_app.models import AuditEvent, OneTimeCode, PlanSchool
from survey_app.plan import audit, changes, code_batches, draw, second_stage
from tests.app.conftest import code_row, csrf_token
from tests.factories import make_campaign, make_codes, make_plan, make_school

CHECK_DRAW = Path(__file__).resolve().parents[1] / "reference" / "check_draw.R"
# Rural primary schools R00…R06 in frame order (R06 has no pupils: never drawn, never a
# substitute), three urban ones.
RURAL = [400, 300, 250, 200, 150, 100, 0]
FIRST_EIGHT = ["stratum", "school_code", "size", "frame_order", "n_stratum", "pi", "start"]
FIRST_EIGHT += ["selected"]
PASSWORD = "supervisor password"


@pytest.fixture
def county(app_ctx):
    """A campaign in preparation with its schools drawn (two rural, one urban)."""
    campaign = make_campaign(open_now=False)
    for n, size in enumerate(RURAL):
        make_school(campaign, code=f"R{n:02d}", enrolment=size, teachers=20 if size else 0)
    for n, size in enumerate([900, 600, 300]):
        make_school(campaign, code=f"U{n:02d}", location="urban", enrolment=size)
    make_plan(campaign, 20261202, **{"rural-primary": 2, "urban-primary": 1})
    return campaign


@pytest.fixture
def frozen(county):
    """The same campaign in the field."""
    county.status = "open"
    db.session.flush()
    return county


def _plan(campaign):
    plan = draw.plan_of(campaign)
    assert plan is not None
    return plan


def _rural(plan) -> list[PlanSchool]:
    return [row for row in plan.schools if row.school.code.startswith("R")]


def _row(plan, code: str) -> PlanSchool:
    (row,) = [row for row in plan.schools if row.school.code == code]
    return row


def _drawn(plan, prefix: str = "R") -> list[str]:
    return [
        row.school.code for row in plan.schools if row.selected and row.school.code[0] == prefix
    ]


def _next_free(plan, refused: str) -> str:
    """The rule written out again: the next undrawn school with pupils, wrapping around."""
    rows = _rural(plan)
    at = [row.school.code for row in rows].index(refused)
    for row in rows[at + 1 :] + rows[:at]:
        if not row.selected and row.substitute_for_id is None and row.size > 0:
            return row.school.code
    raise AssertionError("no free school")


def _set_drawn(plan, pattern: str) -> None:
    """Mark the rural schools drawn as ``pattern`` says ("x" drawn, "." not), so that the
    rule is tested on a known draw (only ``selected`` is read by it)."""
    for row, mark in zip(_rural(plan), pattern, strict=True):
        row.selected = mark == "x"


# The rule of the default substitute


def test_the_default_substitute_is_the_next_undrawn_school_in_frame_order(frozen):
    plan = _plan(frozen)
    _set_drawn(plan, "x.x....")
    assert changes.default_substitute(plan, _row(plan, "R00")).school.code == "R01"
    assert changes.default_substitute(plan, _row(plan, "R02")).school.code == "R03"


def test_the_default_substitute_wraps_around_and_skips_schools_without_pupils(frozen):
    plan = _plan(frozen)
    _set_drawn(plan, ".x.xxx.")  # after R05: R06 has no pupils, then back to R00
    assert changes.default_substitute(plan, _row(plan, "R05")).school.code == "R00"
    _row(plan, "R00").substitute_for_id = _row(plan, "R01").id  # R00 stands in already
    assert changes.default_substitute(plan, _row(plan, "R05")).school.code == "R02"


def test_a_stratum_with_no_free_school_left_is_refused(frozen):
    plan = _plan(frozen)
    _set_drawn(plan, "xxxxxx.")
    with pytest.raises(changes.ChangeRefused, match="no undrawn school with pupils left"):
        changes.default_substitute(plan, _row(plan, "R03"))


def test_replacing_takes_the_default_substitute_of_the_real_draw(frozen):
    plan = _plan(frozen)
    refused = _drawn(plan)[-1]
    expected = _next_free(plan, refused)
    done = changes.replace_school(frozen, refused, "校长拒绝参加")
    assert (done.refused.school.code, done.substitute.school.code) == (refused, expected)
    assert done.refused.refused
    assert not done.refused.in_field
    assert done.substitute.substitute_for_id == done.refused.id
    assert done.substitute.in_field
    assert not done.substitute.selected  # the draw stays as drawn


# What a substitute must be


@pytest.mark.parametrize(
    ("substitute", "message"),
    [
        ("U01", "is not in stratum rural-primary of"),
        ("R06", "has no pupils"),
        ("NOPE", "no school NOPE in the draw"),
    ],
)
def test_a_named_substitute_must_be_an_undrawn_school_of_the_same_stratum(
    frozen, substitute, message
):
    plan = _plan(frozen)
    refused = _drawn(plan)[0]
    with pytest.raises(changes.ChangeRefused, match=message):
        changes.replace_school(frozen, refused, "拒绝", substitute)
    assert not _row(plan, refused).refused


def test_a_drawn_school_or_a_substitute_cannot_stand_in(frozen):
    plan = _plan(frozen)
    first, second = _drawn(plan)
    with pytest.raises(changes.ChangeRefused, match=f"substitute {second} was drawn itself"):
        changes.replace_school(frozen, first, "拒绝", second)
    taken = changes.replace_school(frozen, first, "拒绝").substitute.school.code
    with pytest.raises(changes.ChangeRefused, match="replaces another school already"):
        changes.replace_school(frozen, second, "拒绝", taken)


def test_only_a_drawn_school_that_has_not_refused_is_replaced(frozen):
    plan = _plan(frozen)
    refused = _drawn(plan)[0]
    substitute = changes.replace_school(frozen, refused, "拒绝").substitute.school.code
    with pytest.raises(changes.ChangeRefused, match="has refused already"):
        changes.replace_school(frozen, refused, "拒绝")
    with pytest.raises(changes.ChangeRefused, match="only a drawn school can be replaced"):
        changes.replace_school(frozen, substitute, "也拒绝")


# Quotas, codes, weights


def test_the_quotas_move_to_the_substitute_capped_at_its_population(frozen):
    plan = _plan(frozen)
    refused = _drawn(plan)[0]
    substitute = _next_free(plan, refused)
    _row(plan, substitute).school.teachers = 3  # fewer than the 5 teachers planned
    before = {q.respondent_group: q.planned for q in plan.quotas if q.school.code == refused}
    changes.replace_school(frozen, refused, "拒绝")
    db.session.expire_all()
    plan = _plan(frozen)
    assert not [q for q in plan.quotas if q.school.code == refused]
    moved = {q.respondent_group: q for q in plan.quotas if q.school.code == substitute}
    assert set(moved) == set(before)
    school = _row(plan, substitute).school
    for group, quota in moved.items():
        assert quota.population == second_stage.population(school, group)
        assert quota.planned == min(before[group], quota.population)
    assert moved["teacher"].planned == 3


def test_unused_codes_are_revoked_and_answered_ones_kept(frozen):
    plan = _plan(frozen)
    refused = _row(plan, _drawn(plan)[0])
    codes = make_codes(refused.school, "parent", 3)
    code_row(codes[0]).status = "used"
    other = _row(plan, _drawn(plan, "U")[0])
    make_codes(other.school, "parent", 1)
    done = changes.replace_school(frozen, refused.school.code, "拒绝")
    assert done.codes_revoked == 2
    assert [code_row(code).status for code in codes] == ["used", "void", "void"]
    statuses = db.session.scalars(
        select(OneTimeCode.status).where(OneTimeCode.school_id == other.school_id)
    ).all()
    assert statuses == ["issued"]


def test_codes_are_then_issued_for_the_substitute(frozen):
    plan = _plan(frozen)
    code_batches.issue_planned_codes(frozen, plan)
    substitute = changes.replace_school(frozen, _drawn(plan)[0], "拒绝").substitute
    issued = code_batches.issue_planned_codes(frozen, plan)  # the quotas as changed
    assert {code.school.code for code in issued if code.school} == {substitute.school.code}
    planned = sum(q.planned for q in plan.quotas if q.school_id == substitute.school_id)
    assert len(issued) == planned
    db.session.expire_all()  # and as stored, in the relationship's order
    with pytest.raises(code_batches.NothingToIssue):
        code_batches.issue_planned_codes(frozen, _plan(frozen))


def test_the_substitute_takes_the_refused_schools_inclusion_probability(frozen):
    plan = _plan(frozen)
    refused = _row(plan, _drawn(plan)[0])
    done = changes.replace_school(frozen, refused.school.code, "拒绝")
    probabilities = changes.first_stage_probabilities(plan)
    assert refused.school_id not in probabilities
    assert probabilities[done.substitute.school_id] == refused.inclusion_probability
    assert done.substitute.inclusion_probability != refused.inclusion_probability  # as drawn
    in_field = [row for row in plan.schools if row.in_field]
    assert sorted(probabilities) == sorted(row.school_id for row in in_field)


# Reasons, the freeze, the audit log


@pytest.mark.parametrize("reason", ["", "   ", "\x00\x01", "长" * 501])
def test_a_reason_is_required(frozen, reason):
    plan = _plan(frozen)
    with pytest.raises(changes.ChangeRefused) as refused:
        changes.replace_school(frozen, _drawn(plan)[0], reason)
    assert refused.value.code in ("reason", "reason_length")
    with pytest.raises(changes.ChangeRefused):
        changes.correct_population(frozen, _drawn(plan)[0], "parent", 10, reason)
    assert not any(row.refused for row in plan.schools)


def test_before_the_freeze_the_draw_is_made_again_instead(county):
    plan = _plan(county)
    with pytest.raises(changes.ChangeRefused, match="draw the schools again") as refused:
        changes.replace_school(county, _drawn(plan)[0], "拒绝")
    assert refused.value.conflict
    with pytest.raises(changes.ChangeRefused, match="import the frame"):
        changes.correct_population(county, _drawn(plan)[0], "parent", 10, "错了")
    make_codes(_row(plan, _drawn(plan)[0]).school)  # codes issued: frozen in preparation
    assert changes.replace_school(county, _drawn(plan)[0], "拒绝").codes_revoked == 1


def test_no_plan_and_a_closed_campaign_are_refused(frozen, app_ctx):
    with pytest.raises(changes.ChangeRefused, match="has not drawn its schools yet"):
        changes.replace_school(make_campaign(), "X", "拒绝")
    frozen.status = "closed"
    plan = _plan(frozen)
    with pytest.raises(changes.ChangeRefused, match="is closed"):
        changes.replace_school(frozen, _drawn(plan)[0], "拒绝")


def test_a_replacement_is_in_the_audit_log_with_its_reason(frozen):
    plan = _plan(frozen)
    refused = _drawn(plan)[0]
    make_codes(_row(plan, refused).school, "teacher", 2)
    done = changes.replace_school(frozen, refused, "  校长来电拒绝\x00参加  ")
    event = audit.events(frozen)[0]
    assert (event.action, event.actor, event.reason) == (
        "school_replaced",
        audit.COMMAND_LINE,
        "校长来电拒绝参加",
    )
    assert event.details == {
        "school": refused,
        "substitute": done.substitute.school.code,
        "codes_revoked": 2,
    }


# Correcting a population


def test_a_population_above_the_planned_respondents_keeps_them(frozen):
    plan = _plan(frozen)
    school = _drawn(plan)[0]
    done = changes.correct_population(frozen, school, "parent", 250, "名册有误")
    assert (done.old_population, done.quota.population, done.quota.planned) == (
        _row(plan, school).size,
        250,
        15,
    )
    assert not done.planned_lowered
    event = audit.events(frozen)[0]
    assert (event.action, event.reason) == ("population_corrected", "名册有误")
    assert event.details == {
        "school": school,
        "group": "parent",
        "old": done.old_population,
        "new": 250,
        "planned_old": 15,
        "planned_new": 15,
    }


def test_a_population_below_the_planned_respondents_lowers_them(frozen):
    plan = _plan(frozen)
    school = _drawn(plan)[0]
    done = changes.correct_population(frozen, school, "teacher", 3, "只有三位教师")
    assert (done.quota.population, done.quota.planned, done.old_planned) == (3, 3, 5)
    assert done.planned_lowered
    assert audit.events(frozen)[0].details["planned_new"] == 3


@pytest.mark.parametrize(
    ("school", "group", "population", "message"),
    [
        ("R06", "parent", 10, "is not in the field"),
        (None, "resident", 10, "is not a group of the schools' quotas"),
        (None, "parent", -1, "a whole number from 0 to"),
        (None, "principal", 1, "is 1 already"),
    ],
)
def test_a_bad_population_correction_is_refused(frozen, school, group, population, message):
    plan = _plan(frozen)
    with pytest.raises(changes.ChangeRefused, match=message):
        changes.correct_population(frozen, school or _drawn(plan)[0], group, population, "原因")
    assert audit.events(frozen)[0].action != "population_corrected"


def test_a_refused_school_has_no_population_to_correct(frozen):
    plan = _plan(frozen)
    refused = _drawn(plan)[0]
    substitute = changes.replace_school(frozen, refused, "拒绝").substitute.school.code
    with pytest.raises(changes.ChangeRefused, match="is not in the field"):
        changes.correct_population(frozen, refused, "parent", 10, "原因")
    assert changes.correct_population(frozen, substitute, "parent", 10, "原因").quota.planned == 10


# The export


def test_the_export_keeps_its_eight_columns_and_adds_refused_and_substitute(frozen, tmp_path):
    plan = _plan(frozen)
    before = list(csv.DictReader(io.StringIO(draw.export_csv(plan))))
    refused = _drawn(plan)[0]
    substitute = changes.replace_school(frozen, refused, "拒绝").substitute.school.code
    text = draw.export_csv(plan)
    assert text.splitlines()[0] == ",".join([*FIRST_EIGHT, "refused", "substitute_for"])
    assert list(draw.EXPORT_COLUMNS[:8]) == FIRST_EIGHT
    after = list(csv.DictReader(io.StringIO(text)))
    assert [{k: row[k] for k in FIRST_EIGHT} for row in after] == [
        {k: row[k] for k in FIRST_EIGHT} for row in before
    ]  # the draw as drawn
    marks = {row["school_code"]: (row["refused"], row["substitute_for"]) for row in after}
    assert marks[refused] == ("1", "")
    assert marks[substitute] == ("0", refused)
    assert sum(1 for mark in marks.values() if mark != ("0", "")) == 2
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is missing (test_draw.py fails for it)")
    out = tmp_path / "draw.csv"
    out.write_text(text, encoding="utf-8")
    checked = subprocess.run(
        ["Rscript", str(CHECK_DRAW), str(out)], capture_output=True, text=True, check=True
    )
    for stratum in json.loads(checked.stdout).values():
        assert stratum["same_selection"] is True
        assert stratum["max_pi_difference"] < 1e-15


# The command line


def test_replace_school_and_issue_on_the_command_line(runner, frozen):
    plan = _plan(frozen)
    refused = _drawn(plan)[0]
    expected = _next_free(plan, refused)
    make_codes(_row(plan, refused).school, "parent", 2)
    arguments = ["plan", "replace-school", "--campaign", frozen.key, "--school", refused]
    result = runner.invoke(args=[*arguments, "--reason", "学校拒绝"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"Replaced {refused} by {expected} in {frozen.key} (2 unused codes revoked)"
    )
    issued = runner.invoke(args=["codes", "issue", "--campaign", frozen.key])
    assert issued.exit_code == 0, issued.output
    assert expected in issued.output
    assert f",{refused}," not in issued.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reason", "  "], "Error: give a reason (it is kept in the audit log)"),
        (["--reason", "拒绝", "--substitute", "U00"], "is not in stratum rural-primary"),
    ],
)
def test_replace_school_refuses_in_one_line(runner, frozen, extra, message):
    refused = _drawn(_plan(frozen))[0]
    arguments = ["plan", "replace-school", "--campaign", frozen.key, "--school", refused]
    result = runner.invoke(args=[*arguments, *extra])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert message in line


def test_replace_school_before_the_freeze_says_to_draw_again(runner, county):
    refused = _drawn(_plan(county))[0]
    arguments = ["plan", "replace-school", "--campaign", county.key, "--school", refused]
    result = runner.invoke(args=[*arguments, "--reason", "拒绝"])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "its plan is not frozen, import the frame or draw the schools again" in line


def test_correct_population_on_the_command_line(runner, frozen):
    school = _drawn(_plan(frozen))[0]
    arguments = ["plan", "correct-population", "--campaign", frozen.key, "--school", school]
    result = runner.invoke(
        args=[*arguments, "--group", "teacher", "--population", "4", "--reason", "核实"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"Corrected the teacher population of {school}: 20 → 4. "
        "Planned respondents lowered from 5 to 4."
    )
    blank = runner.invoke(
        args=[*arguments, "--group", "teacher", "--population", "3", "--reason", ""]
    )
    assert blank.exit_code == 2
    (line,) = blank.output.strip().splitlines()
    assert line == "Error: give a reason (it is kept in the audit log)"


# The page


@pytest.fixture
def supervisor(client, campaign):
    """A supervisor of the demo county (open), whose schools are drawn."""
    make_plan(campaign)
    db.session.commit()
    services.create_user("sup@example.org", "supervisor", PASSWORD, [campaign.key])
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "sup@example.org", "password": PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 302
    return client


def _post(client, key: str, form: str, **data: str):
    token = csrf_token(client.get(f"/plan/{key}/changes").text)
    return client.post(f"/plan/{key}/changes/{form}", data={"csrf_token": token, **data})


def _demo_drawn(campaign) -> list[str]:
    """Drawn schools of the demo county whose stratum has an undrawn school left first
    (the default allocation draws every school of the small strata)."""
    db.session.expire_all()
    plan = _plan(campaign)
    free = {row.stratum_id for row in plan.schools if not row.selected and row.size > 0}
    drawn = [row for row in plan.schools if row.selected]
    drawn.sort(key=lambda row: row.stratum_id not in free)
    return [row.school.code for row in drawn]


def test_the_changes_page_is_reached_from_the_campaign_and_has_forms(supervisor, campaign):
    assert f"/plan/{campaign.key}/changes" in supervisor.get(f"/plan/{campaign.key}/").text
    page = supervisor.get(f"/plan/{campaign.key}/changes")
    assert page.status_code == 200
    school = _demo_drawn(campaign)[0]
    assert f'id="replace-reason-{school}"' in page.text
    assert f'id="population-reason-{school}"' in page.text
    assert 'name="csrf_token"' in page.text


def test_a_supervisor_replaces_a_school_on_the_page(supervisor, campaign):
    refused = _demo_drawn(campaign)[0]
    reply = _post(supervisor, campaign.key, "replace", school=refused, reason="校长拒绝参加")
    assert reply.status_code == 200, reply.text
    db.session.expire_all()
    plan = _plan(campaign)
    row = _row(plan, refused)
    assert row.refused
    (substitute,) = [r for r in plan.schools if r.substitute_for_id == row.id]
    code = substitute.school.code
    notice = reply.text.split('role="status">', 1)[1].split("</p>", 1)[0]
    assert refused in notice
    assert code in notice
    assert '<strong class="refused">' in reply.text  # marked in the list
    assert '<strong class="substitute">' in reply.text
    assert f'id="replace-reason-{refused}"' not in reply.text  # replaced once
    assert "校长拒绝参加" in reply.text  # the changes made, with their reasons
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "school_replaced")
    ).one()
    assert (event.reason, event.actor) == ("校长拒绝参加", "sup@example.org")
    assert "校长拒绝参加" in supervisor.get(f"/plan/{campaign.key}/").text  # the audit log
    marked = supervisor.get(f"/plan/{campaign.key}/draw").text
    stratum = row.school.stratum.code
    assert stratum == "town-primary"  # the demo frame's, shown by its name
    assert f'<tr class="refused"><td title="{stratum}">镇区小学</td><td>{refused}<' in marked
    assert f'<tr class="substitute"><td title="{stratum}">镇区小学</td><td>{code}<' in marked


@pytest.mark.parametrize(
    "data",
    [{"reason": "  ", "substitute": "X1"}, {"reason": "拒绝参加调查", "substitute": "NOPE"}],
)
def test_a_refused_replacement_keeps_what_was_typed(supervisor, campaign, data):
    refused = _demo_drawn(campaign)[0]
    reply = _post(supervisor, campaign.key, "replace", school=refused, **data)
    assert reply.status_code == 422
    assert 'class="error" role="alert"' in reply.text
    assert f'value="{data["substitute"]}"' in reply.text  # nothing typed is lost
    assert f"\n{data['reason']}</textarea>" in reply.text
    assert "<details open>\n      <summary>" in reply.text  # the row's form stays open
    db.session.expire_all()
    assert not _row(_plan(campaign), refused).refused


def test_a_supervisor_corrects_a_population_on_the_page(supervisor, campaign):
    school = _demo_drawn(campaign)[0]
    fields = {"school": school, "group": "teacher", "reason": "教师数有误"}
    reply = _post(supervisor, campaign.key, "population", population="2", **fields)
    assert reply.status_code == 200, reply.text
    assert "教师数有误" in reply.text
    db.session.expire_all()
    (quota,) = [
        q
        for q in _plan(campaign).quotas
        if q.school.code == school and q.respondent_group == "teacher"
    ]
    assert (quota.population, quota.planned) == (2, 2)
    again = {**fields, "reason": "再次更正"}
    for population, status in (("-4", 422), ("2", 422), ("many", 422)):
        wrong = _post(supervisor, campaign.key, "population", population=population, **again)
        assert wrong.status_code == status
        assert "\n再次更正</textarea>" in wrong.text


def test_changes_before_the_freeze_are_refused_on_the_page(supervisor, campaign):
    campaign.status = "draft"
    db.session.commit()
    page = supervisor.get(f"/plan/{campaign.key}/changes")
    assert page.status_code == 200
    assert "replace-reason-" not in page.text
    refused = _demo_drawn(campaign)[0]
    reply = _post(supervisor, campaign.key, "replace", school=refused, reason="拒绝")
    assert reply.status_code == 409
    assert 'class="error" role="alert"' in reply.text
    assert "\n拒绝</textarea>" not in reply.text  # no form to keep it in: nothing to change


def test_the_changes_page_without_a_draw(client, app_ctx):
    other = make_campaign()
    make_school(other)
    db.session.commit()
    services.create_user("sup2@example.org", "supervisor", PASSWORD, [other.key])
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "sup2@example.org", "password": PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 302
    assert client.get(f"/plan/{other.key}/changes").status_code == 200
    token = csrf_token(client.get("/staff/").text)
    data = {"csrf_token": token, "school": "X", "reason": "拒绝"}
    assert client.post(f"/plan/{other.key}/changes/replace", data=data).status_code == 409
