"""The school contact's link: that school's counts, nothing else, until fieldwork closes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeSerializer

from survey_app.contact import links
from survey_app.extensions import db
from survey_app.plan import draw, sheets
from tests.app.conftest import code_row
from tests.conftest import TEST_SECRET
from tests.factories import make_campaign, make_codes, make_plan, make_school


@pytest.fixture
def drawn(app_ctx):
    campaign = make_campaign()
    mine = make_school(campaign, name="东关小学", enrolment=420)
    theirs = make_school(campaign, name="西山小学", enrolment=380)
    make_plan(campaign)
    codes = make_codes(mine, "parent", 4)
    code_row(codes[0]).status = "used"
    code_row(codes[1]).status = "void"
    make_codes(theirs, "teacher", 5)
    db.session.flush()
    return campaign, mine, theirs


def _path(campaign, school) -> str:
    return f"{links.PATH}/{links.token_for(TEST_SECRET, campaign, school)}"


def test_the_link_shows_its_schools_counts_only(client, drawn):
    campaign, mine, theirs = drawn
    page = client.get(_path(campaign, mine))
    assert page.status_code == 200
    assert mine.name in page.text
    assert theirs.name not in page.text
    assert campaign.key not in page.text
    # parents: 15 planned, 3 issued and not revoked, 1 answered (33%)
    assert (
        '<td class="num">15</td><td class="num">3</td><td class="num">1</td>'
        '<td class="num">33%</td>' in page.text
    )
    assert '<td class="num">5</td><td class="num">0</td>' in page.text  # teachers: none yet
    assert "Set-Cookie" not in page.headers
    assert page.headers["Cache-Control"] == "no-store"


def test_the_sheet_prints_the_link(drawn):
    campaign, mine, _theirs = drawn
    (sheet,) = sheets.school_sheets(
        campaign, draw.plan_of(campaign), TEST_SECRET, "http://survey.test", mine.code
    )
    assert sheet.contact_link == "http://survey.test" + _path(campaign, mine)
    assert sheet.contact_qr.startswith("data:image/svg+xml")


def test_a_tampered_or_foreign_token_is_not_found(client, drawn):
    campaign, mine, theirs = drawn
    token = links.token_for(TEST_SECRET, campaign, mine)
    payload, _, signature = token.partition(".")
    other = links.token_for(TEST_SECRET, campaign, theirs).partition(".")[0]
    forged = [
        f"{other}.{signature}",  # another school with this school's signature
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        payload,
        "x" * 300,
        URLSafeSerializer(TEST_SECRET).dumps([campaign.id, mine.id]),  # no salt
        URLSafeSerializer("another key", salt=links.SALT).dumps([campaign.id, mine.id]),
        links._serializer(TEST_SECRET).dumps({"campaign": campaign.id}),
        links._serializer(TEST_SECRET).dumps([campaign.id, "1"]),
        links._serializer(TEST_SECRET).dumps([campaign.id, mine.id + 10_000]),
    ]
    for bad in forged:
        reply = client.get(f"{links.PATH}/{bad}")
        assert reply.status_code == 404, bad
        assert mine.name not in reply.text


def test_a_school_of_another_campaign_or_not_drawn_is_not_found(client, drawn):
    campaign, mine, _theirs = drawn
    other = make_campaign()
    assert client.get(_path(other, mine)).status_code == 404
    undrawn = make_school(campaign, location="urban", name="城北小学")
    assert client.get(_path(campaign, undrawn)).status_code == 404


@pytest.mark.parametrize("how", ["closed", "past"])
def test_the_link_stops_when_the_fieldwork_closes(client, drawn, how):
    campaign, mine, _theirs = drawn
    assert client.get(_path(campaign, mine)).status_code == 200
    if how == "closed":
        campaign.status = "closed"
    else:
        campaign.opens_at = datetime.now(UTC) - timedelta(days=10)
        campaign.closes_at = datetime.now(UTC) - timedelta(minutes=1)
    db.session.flush()
    reply = client.get(_path(campaign, mine))
    assert reply.status_code == 404
    assert mine.name not in reply.text
