"""Watching the field: responses against the plan's targets per stratum and group, days
left, lagging cells, as counts only (and as CSV)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import OneTimeCode
from survey_app.models.base import as_utc
from survey_app.plan import code_batches, fieldwork
from tests.app.conftest import csrf_token
from tests.factories import make_campaign, make_plan, make_school


@pytest.fixture
def field(app_ctx):
    """Two drawn schools in two strata, their codes issued, some of them answered."""
    campaign = make_campaign(open_now=False)
    make_school(campaign, code="R1", enrolment=300, teachers=20)
    make_school(campaign, code="U1", location="urban", enrolment=900, teachers=50)
    plan = make_plan(campaign, seed=1, **{"rural-primary": 1, "urban-primary": 1})
    code_batches.issue_planned_codes(campaign, plan)
    codes = db.session.scalars(
        select(OneTimeCode).filter_by(campaign_id=campaign.id, respondent_group="parent")
    ).all()
    urban = [code for code in codes if code.school.code == "U1"]
    rural = [code for code in codes if code.school.code == "R1"]
    for code in urban[:12] + rural[:3]:
        code.status = "used"
    rural[3].status = "void"
    campaign.status = "open"
    db.session.flush()
    return campaign, plan


def _cells(report):
    return {(c.stratum, c.respondent_group): c for c in report.cells}


def test_targets_codes_and_answers_per_stratum_and_group(field):
    campaign, plan = field
    opens = as_utc(campaign.opens_at)
    report = fieldwork.progress(campaign, plan, opens + timedelta(days=7.5))  # of 15 days
    cells = _cells(report)
    urban, rural = cells[("urban-primary", "parent")], cells[("rural-primary", "parent")]
    assert (urban.target, urban.issued, urban.answered) == (15, 15, 12)
    assert (rural.target, rural.issued, rural.answered) == (15, 14, 3)  # one revoked
    assert urban.completion == pytest.approx(0.8)
    assert rural.response_rate == pytest.approx(3 / 14)
    assert report.elapsed == pytest.approx(0.5)
    assert report.days_left == 8
    # half the window gone: below 40% of the target lags
    assert not report.lagging(urban)
    assert report.lagging(rural)
    teachers = cells[("urban-primary", "teacher")]  # 5 codes, none answered: behind
    assert (teachers.target, teachers.answered, report.lagging(teachers)) == (5, 0, True)


def test_totals_per_group_and_over_everything(field):
    campaign, plan = field
    report = fieldwork.progress(campaign, plan, as_utc(campaign.opens_at) + timedelta(days=7.5))
    totals = {cell.respondent_group: cell for cell in report.totals}
    assert list(totals) == ["student", "parent", "teacher", "principal", "*"]
    parents = totals["parent"]
    assert parents.stratum == "*"
    assert (parents.target, parents.issued, parents.answered) == (30, 29, 15)
    assert parents.response_rate == pytest.approx(15 / 29)
    assert not report.lagging(parents)  # 50% done with half the window gone
    everything = totals["*"]
    for field_name in ("target", "issued", "answered"):
        assert getattr(everything, field_name) == sum(
            getattr(cell, field_name) for cell in report.cells
        )
    assert report.lagging(everything)
    json = fieldwork.progress_json(report)
    assert json["totals"][-1] == {
        "stratum": "*",
        "group": "*",
        "target": everything.target,
        "issued": everything.issued,
        "answered": 15,
        "completion": 15 / everything.target,
        "response_rate": 15 / everything.issued,
        "lagging": True,
    }


def test_before_the_window_nothing_lags(field):
    campaign, plan = field
    report = fieldwork.progress(campaign, plan, as_utc(campaign.opens_at) - timedelta(days=1))
    assert report.elapsed == 0
    assert not any(report.lagging(cell) for cell in report.cells)


def test_the_progress_as_csv(field):
    campaign, plan = field
    report = fieldwork.progress(campaign, plan, as_utc(campaign.opens_at) + timedelta(days=7.5))
    rows = list(csv.DictReader(io.StringIO(fieldwork.progress_csv(report))))
    assert list(rows[0]) == list(fieldwork.PROGRESS_COLUMNS)
    rural = next(r for r in rows if (r["stratum"], r["group"]) == ("rural-primary", "parent"))
    assert rural == {
        "stratum": "rural-primary",
        "group": "parent",
        "target": "15",
        "issued": "14",
        "answered": "3",
        "completion": "0.2000",
        "response_rate": "0.2143",
        "lagging": "1",
    }


def test_the_fieldwork_page_shows_counts_only(app, field):
    from survey_app.auth import services

    campaign, _plan = field
    services.create_user("field@example.org", "supervisor", "a long password!", [campaign.key])
    client = app.test_client()
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "field@example.org", "password": "a long password!"}
    client.post("/staff/login", data=data)
    page = client.get(f"/plan/{campaign.key}/fieldwork")
    assert page.status_code == 200
    # the stratum by its name in the staff's language, its code kept in the cell's title
    assert '<td title="rural-primary">乡村小学</td>' in page.text
    # the totals under the cells: per group, then everything
    assert '<tr data-cell="*|parent">' in page.text
    assert '<th scope="row">全部层</th><td>家长</td>' in page.text
    assert '<th scope="row">合计</th><td>全部群体</td>' in page.text
    assert "还剩" in page.text
    assert 'data-refresh-seconds="30"' in page.text
    counts = client.get(f"/plan/{campaign.key}/fieldwork.json").get_json()
    rural = next(
        c for c in counts["cells"] if (c["stratum"], c["group"]) == ("rural-primary", "parent")
    )
    assert (rural["target"], rural["issued"], rural["answered"]) == (15, 14, 3)
    download = client.get(f"/plan/{campaign.key}/fieldwork.csv")
    assert download.mimetype == "text/csv"
    assert download.text.startswith("stratum,group,target,issued,answered")
    # by school: the rate on the page, every column in the CSV
    assert '<td class="num">3</td><td class="num">21%</td>' in page.text  # 3 of 14
    schools = client.get(f"/plan/{campaign.key}/fieldwork-schools.csv")
    assert schools.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(schools.text)))
    assert list(rows[0]) == list(fieldwork.SCHOOL_COLUMNS)
    rural = next(r for r in rows if (r["school_code"], r["group"]) == ("R1", "parent"))
    assert {k: rural[k] for k in ("stratum", "planned", "issued", "answered", "revoked")} == {
        "stratum": "rural-primary",
        "planned": "15",
        "issued": "14",
        "answered": "3",
        "revoked": "1",
    }
    assert rural["response_rate"] == "0.2143"
    assert [r["group"] for r in rows if r["school_code"] == "R1"][:3] == [
        "student",
        "parent",
        "teacher",
    ]
