"""The supervisor's sheet per selected school: the systematic rule, its pages, its PDF."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.pps import stratum_start
from survey_app.auth import services
from survey_app.plan import draw, sheets
from tests.app.conftest import csrf_token
from tests.factories import make_campaign, make_plan, make_school

PASSWORD = "sheets supervisor password"


@given(
    seed=st.integers(0, 2**63 - 1),
    m=st.integers(1, 5000),
    share=st.floats(0, 1),
)
def test_positions_are_n_increasing_places_on_the_list(seed, m, share):
    n = round(m * share)
    found = sheets.systematic_draw(seed, "2659990001", "student", n, m)
    assert len(found.positions) == n
    assert all(1 <= p <= m for p in found.positions)
    assert all(a < b for a, b in zip(found.positions, found.positions[1:], strict=False))
    if n:
        assert found.interval == Fraction(m, n)
        assert found.start is not None
        assert 0 < found.start <= found.interval
        assert found.positions[0] == -(-found.start // 1)  # ⌈r⌉


def test_the_start_follows_from_the_seed_school_and_group():
    one = sheets.systematic_draw(20261210, "2659990001", "student", 15, 412)
    assert one == sheets.systematic_draw(20261210, "2659990001", "student", 15, 412)
    u = stratum_start(20261210, "2659990001/student")
    assert one.unit_start == u
    assert one.start == Fraction(412, 15) * (1 - Fraction(u))
    others = [
        sheets.systematic_draw(20261210, "2659990002", "student", 15, 412),
        sheets.systematic_draw(20261210, "2659990001", "parent", 15, 412),
        sheets.systematic_draw(20261211, "2659990001", "student", 15, 412),
    ]
    assert len({one.start, *(other.start for other in others)}) == 4
    assert len({one.positions, *(other.positions for other in others)}) == 4


def test_everybody_or_nobody():
    assert sheets.systematic_draw(1, "S", "principal", 1, 1).positions == (1,)
    assert sheets.systematic_draw(1, "S", "teacher", 7, 7).positions == tuple(range(1, 8))
    nobody = sheets.systematic_draw(1, "S", "teacher", 0, 7)
    assert (nobody.positions, nobody.interval, nobody.start) == ((), None, None)
    with pytest.raises(ValueError, match="cannot draw"):
        sheets.systematic_draw(1, "S", "teacher", 8, 7)


@pytest.fixture
def county(app_ctx):
    """A small county drawn whole: three schools (one nine-year), and one not drawn."""
    campaign = make_campaign()
    primary = make_school(campaign, name="东关小学", enrolment=420, teachers=25)
    nine = make_school(
        campaign,
        level="nine_year",
        name="西山九年一贯制学校",
        enrolment=630,
        grade_enrolments={str(g): 70 for g in range(1, 10)},
    )
    make_school(campaign, location="urban", name="城北小学", enrolment=800)
    make_plan(campaign, seed=20261210)
    return campaign, primary, nine


def _sign_in(client, *keys: str):
    email = f"sheets-{len(keys)}-{keys[0]}@example.org"
    services.create_user(email, "supervisor", PASSWORD, list(keys))
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": email, "password": PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 302
    return client


def test_a_supervisor_prints_the_sheet_of_a_school(client, county):
    campaign, primary, _nine = county
    _sign_in(client, campaign.key)
    page = client.get(f"/plan/{campaign.key}/sheets?school={primary.code}")
    assert page.status_code == 200
    assert primary.name in page.text
    assert "城北小学" not in page.text  # one school only
    plan = draw.plan_of(campaign)
    (sheet,) = sheets.school_sheets(campaign, plan, "k", "http://x", primary.code)
    for group in sheet.groups:
        if group.draw.planned > 1:
            assert ", ".join(map(str, group.draw.positions)) in page.text
    assert "/contact/" in page.text
    everything = client.get(f"/plan/{campaign.key}/sheets")
    assert everything.status_code == 200
    assert everything.text.count('class="sheet"') == 3


def test_a_nine_year_school_splits_its_student_slips(client, county):
    campaign, _primary, nine = county
    plan = draw.plan_of(campaign)
    (sheet,) = sheets.school_sheets(campaign, plan, "k", "http://x", nine.code)
    student = next(g for g in sheet.groups if g.respondent_group == "student")
    assert dict(student.reading_levels) == {"primary": 9, "junior": 6}  # 15 × 3/7 ≈ 6
    assert all(not g.reading_levels for g in sheet.groups if g.respondent_group != "student")


def test_sheets_of_another_campaign_or_school_are_not_found(client, county, campaign):
    mine, _primary, _nine = county
    _sign_in(client, mine.key)
    assert client.get(f"/plan/{campaign.key}/sheets").status_code == 404  # not given
    assert client.get(f"/plan/{mine.key}/sheets?school=2659999999").status_code == 404
    assert client.get(f"/plan/{mine.key}/sheets?school=").status_code == 404
    assert client.get(f"/plan/{mine.key}/sheets?school=%00").status_code == 404
    assert client.get(f"/plan/{mine.key}/sheets.pdf?school=" + "9" * 500).status_code == 404


def test_without_a_draw_the_sheets_say_so(client, app_ctx):
    campaign = make_campaign(open_now=False)
    make_school(campaign)
    _sign_in(client, campaign.key)
    for path in ("sheets", "sheets.pdf"):
        page = client.get(f"/plan/{campaign.key}/{path}")
        assert page.status_code == 409
        assert f'href="/plan/{campaign.key}/draw"' in page.text


def test_the_pdf_has_a_page_per_selected_school(client, county):
    campaign, _primary, _nine = county
    plan = draw.plan_of(campaign)
    found = sheets.school_sheets(campaign, plan, "k", "http://x")
    assert len(found) == 3
    document = sheets.sheets_document(campaign, found, "zh_Hans", datetime.now(UTC))
    assert len(document.pages) == 3
    _sign_in(client, campaign.key)
    download = client.get(f"/plan/{campaign.key}/sheets.pdf")
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert download.data.startswith(b"%PDF")


def test_the_command_line_writes_the_sheets(runner, county, tmp_path):
    campaign, _primary, _nine = county
    out = tmp_path / "sheets.pdf"
    result = runner.invoke(args=["plan", "sheets", "--campaign", campaign.key, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Wrote 3 sheets for {campaign.key}" in result.output
    assert out.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--campaign", "no-such-key"], "no campaign with the key 'no-such-key'"),
        (["--school", "nope"], "no selected school 'nope'"),
    ],
)
def test_the_command_line_refuses_in_one_line(runner, county, tmp_path, args, message):
    campaign, _primary, _nine = county
    out = tmp_path / "sheets.pdf"
    result = runner.invoke(
        args=["plan", "sheets", "--campaign", campaign.key, "--out", str(out), *args]
    )
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()
