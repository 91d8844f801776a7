"""The second stage and the codes it calls for: planned respondents per selected school
and group, codes issued up to the plan (revoked ones replaced), CSV and PDF slips."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from flask import render_template
from flask_babel import force_locale
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import OneTimeCode
from survey_app.models.base import as_utc
from survey_app.plan import code_batches, second_stage, slips
from tests.app.conftest import csrf_token
from tests.factories import make_campaign, make_plan, make_school

NOW = datetime(2026, 12, 2, tzinfo=UTC)


@pytest.fixture
def drawn(app_ctx):
    """A campaign in preparation with four schools, all drawn."""
    campaign = make_campaign(open_now=False)
    make_school(campaign, code="P1", level="primary", enrolment=600, teachers=30)
    make_school(
        campaign,
        code="N1",
        level="nine_year",
        enrolment=700,
        teachers=45,
        grade_enrolments={"3": 80, "4": 80, "5": 80, "6": 80, "7": 70, "8": 70, "9": 60},
    )
    make_school(campaign, code="T1", level="teaching_point", enrolment=12, teachers=1)
    make_school(campaign, code="J1", location="town", level="junior", enrolment=900, teachers=60)
    plan = make_plan(
        campaign,
        seed=3,
        **{"rural-primary": 1, "rural-nine_year": 1, "rural-teaching_point": 1, "town-junior": 1},
    )
    return campaign, plan


def test_the_second_stage_of_each_selected_school(drawn):
    _campaign, plan = drawn
    quotas = {(q.school.code, q.respondent_group): (q.planned, q.population) for q in plan.quotas}
    assert quotas[("P1", "student")] == (15, 400)  # grades 3-6: 4 of 6 grades of 600
    assert quotas[("N1", "student")] == (15, 520)  # grades 3-9 from the frame
    assert quotas[("J1", "student")] == (15, 900)
    assert quotas[("T1", "student")] == (6, 6)  # half of a teaching point's 12: all of them
    assert quotas[("T1", "teacher")] == (1, 1)  # never more than the school has
    assert quotas[("J1", "parent")] == (15, 900)
    assert quotas[("P1", "principal")] == (1, 1)
    nine_year = next(q.school for q in plan.quotas if q.school.code == "N1")
    assert second_stage.junior_share(nine_year) == pytest.approx(200 / 520)
    nine_year.grade_enrolments = None  # without grades: 3 of the 7 surveyed grades
    assert second_stage.junior_share(nine_year) == pytest.approx(3 / 7)


def test_codes_are_issued_up_to_the_plan_and_expire_with_the_window(drawn):
    campaign, plan = drawn
    issued = code_batches.issue_planned_codes(campaign, plan)
    assert len(issued) == sum(q.planned for q in plan.quotas)
    stored = db.session.scalars(select(OneTimeCode).filter_by(campaign_id=campaign.id)).all()
    assert len(stored) == len(issued)
    assert {as_utc(code.expires_at) for code in stored} == {as_utc(campaign.closes_at)}
    levels = [
        c.reading_level for c in stored if c.respondent_group == "student" and c.school.code == "N1"
    ]
    # 15 students at the nine-year school: grades 7-9 are 200 of its 520 surveyed pupils
    assert (levels.count("primary"), levels.count("junior")) == (9, 6)
    with pytest.raises(code_batches.NothingToIssue, match="every code"):
        code_batches.issue_planned_codes(campaign, plan)
    stored[0].status = "void"  # revoked: one replacement is issued
    db.session.flush()
    assert len(code_batches.issue_planned_codes(campaign, plan)) == 1


def test_no_codes_without_a_draw(app_ctx):
    campaign = make_campaign(open_now=False)
    with pytest.raises(code_batches.NothingToIssue, match="has not drawn"):
        code_batches.issue_planned_codes(campaign, None)


def test_codes_issue_writes_the_csv_and_the_slips(runner, drawn, tmp_path):
    campaign, plan = drawn
    out, pdf = tmp_path / "codes.csv", tmp_path / "slips.pdf"
    result = runner.invoke(
        args=["codes", "issue", "--campaign", campaign.key, "--csv", str(out), "--slips", str(pdf)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == list(slips.CSV_COLUMNS)
    assert len(rows) == sum(q.planned for q in plan.quotas)
    assert rows[0]["link"] == f"http://survey.test/r/{rows[0]['code']}"
    assert pdf.read_bytes().startswith(b"%PDF-")
    count = select(func.count()).select_from(OneTimeCode).filter_by(campaign_id=campaign.id)
    assert db.session.scalar(count) == len(rows)
    again = runner.invoke(args=["codes", "issue", "--campaign", campaign.key])
    assert again.exit_code == 2
    assert "every code the plan" in again.output


def test_a_code_from_the_csv_opens_once_fieldwork_opens(runner, client, drawn, tmp_path):
    campaign, _plan = drawn
    out = tmp_path / "codes.csv"
    runner.invoke(args=["codes", "issue", "--campaign", campaign.key, "--csv", str(out)])
    code = next(csv.DictReader(io.StringIO(out.read_text())))["code"]
    assert client.get(f"/r/{code}").status_code == 410  # in preparation: not yet
    campaign.status = "open"
    db.session.flush()
    assert client.get(f"/r/{code}").status_code == 302


def test_slips_come_ten_to_a_page_in_the_chosen_language(app, drawn):
    campaign, plan = drawn
    issued = code_batches.issue_planned_codes(campaign, plan)[:23]
    with app.test_request_context():
        for language in ("zh_Hans", "ug"):
            document = slips.slips_document(issued, "https://x.test", language, campaign, NOW)
            assert len(document.pages) == 3  # 10 + 10 + 3
            html = render_template(
                "plan/slips.html", pages=[], campaign=campaign, language=language, now=NOW
            )
            assert f'lang="{language.replace("_", "-")}"' in html
        with force_locale("zh_Hans"):
            text = render_template(
                "plan/slips.html",
                pages=[[{"qr": "", "code": "C", "link": "L", "school": "S", "group": "parent"}]],
                campaign=campaign,
                language="zh_Hans",
                now=NOW,
            )
        assert "扫描二维码" in text


def test_codes_revoke_on_the_command_line(runner, drawn, tmp_path):
    campaign, _plan = drawn
    out = tmp_path / "codes.csv"
    runner.invoke(args=["codes", "issue", "--campaign", campaign.key, "--csv", str(out)])
    code = next(csv.DictReader(io.StringIO(out.read_text())))["code"]
    one = runner.invoke(args=["codes", "revoke", "--campaign", campaign.key, "--code", code])
    assert (one.exit_code, one.output.strip()) == (0, "Revoked 1 codes.")
    batch = runner.invoke(
        args=["codes", "revoke", "--campaign", campaign.key, "--school", "P1", "--group", "parent"]
    )
    assert (batch.exit_code, batch.output.strip()) == (0, "Revoked 15 codes.")
    replaced = runner.invoke(args=["codes", "issue", "--campaign", campaign.key])
    assert "Issued 16 codes" in replaced.output
    unknown = runner.invoke(args=["codes", "revoke", "--campaign", campaign.key, "--code", "X"])
    assert unknown.exit_code == 2
    assert "no code 'X'" in unknown.output
    neither = runner.invoke(args=["codes", "revoke", "--campaign", campaign.key])
    assert (neither.exit_code, neither.output.strip()) == (
        2,
        "Error: give --code, or --school with --group",
    )


def _signed_in_supervisor(app, campaign):
    from survey_app.auth import services

    services.create_user("codes@example.org", "supervisor", "a long password!", [campaign.key])
    client = app.test_client()
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "codes@example.org", "password": "a long password!"}
    assert client.post("/staff/login", data=data).status_code == 302
    return client


def test_the_codes_page_issues_and_revokes(app, drawn):
    campaign, plan = drawn
    client = _signed_in_supervisor(app, campaign)
    page = client.get(f"/plan/{campaign.key}/codes")
    total = sum(q.planned for q in plan.quotas)
    assert page.status_code == 200
    assert f"{total} 个计划编码尚未发放" in page.text
    token = csrf_token(page.text)
    pdf = client.post(
        f"/plan/{campaign.key}/codes/issue",
        data={"csrf_token": token, "output": "pdf", "language": "zh_Hans"},
    )
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF-")
    assert "attachment" in pdf.headers["Content-Disposition"]
    count = select(func.count()).select_from(OneTimeCode).filter_by(campaign_id=campaign.id)
    assert db.session.scalar(count) == total
    again = client.post(
        f"/plan/{campaign.key}/codes/issue",
        data={"csrf_token": token, "output": "csv", "language": "zh_Hans"},
    )
    assert again.status_code == 409  # nothing left to issue
    page = client.get(f"/plan/{campaign.key}/codes").text
    assert "计划编码已全部发放。" in page
    assert "0 个计划编码尚未发放" not in page
    # each school's groups in the vocabulary's order: 学生 before 家长 before 教师
    first = plan.quotas[0].school.code
    rows = re.findall(rf"<tr><td>{first}</td><td>[^<]*</td><td>([^<]+)</td>", page)
    assert rows[:3] == ["学生", "家长", "教师"], rows
    code = db.session.scalars(select(OneTimeCode).filter_by(campaign_id=campaign.id)).first()
    code.status = "used"
    db.session.flush()
    revoked = client.post(
        f"/plan/{campaign.key}/codes/revoke",
        data={"csrf_token": token, "code": "ZZZZZ-ZZZZZ-ZZZZZ"},
    )
    assert revoked.status_code == 422
    assert "本项目中没有这个编码" in revoked.text


def test_the_csv_download_lists_every_new_code(app, drawn):
    campaign, plan = drawn
    client = _signed_in_supervisor(app, campaign)
    token = csrf_token(client.get(f"/plan/{campaign.key}/codes").text)
    reply = client.post(
        f"/plan/{campaign.key}/codes/issue",
        data={"csrf_token": token, "output": "csv", "language": "en"},
    )
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert len(rows) == sum(q.planned for q in plan.quotas)
    revoke = client.post(
        f"/plan/{campaign.key}/codes/revoke", data={"csrf_token": token, "code": rows[0]["code"]}
    )
    assert revoke.status_code == 200
    assert "编码已作废" in revoke.text
    assert client.get(rows[0]["link"].replace("http://survey.test", "")).status_code == 404
