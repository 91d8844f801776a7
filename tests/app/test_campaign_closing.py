"""Moving the fieldwork's last day (``campaigns.move_closing``, the campaign page's form,
``flask campaign closing``): codes issued for the window follow it, each move is in the
audit log with its reason, and what cannot be done is refused whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from survey_app.auth import services as auth
from survey_app.extensions import db
from survey_app.models import AuditEvent, Campaign, OneTimeCode, School
from survey_app.models.base import as_utc
from survey_app.plan import campaigns
from survey_app.plan.issuing import issue_codes
from survey_app.respond import services
from tests.app.conftest import csrf_token

PASSWORD = "closing test password"


def _codes_for_the_window(campaign: Campaign, n: int = 3) -> list[str]:
    school = db.session.scalar(select(School).filter_by(campaign_id=campaign.id).limit(1))
    return issue_codes(school, "parent", n, expires_at=campaign.closes_at)


def test_a_later_last_day_carries_the_window_s_codes_with_it(campaign):
    now = datetime.now(UTC)
    old_end = as_utc(campaign.closes_at)
    typed = _codes_for_the_window(campaign)
    answered = services.find_code(typed[0])
    db.session.get(OneTimeCode, answered.id).status = "used"
    other = db.session.scalar(select(School).filter_by(campaign_id=campaign.id).limit(1))
    (own_expiry,) = issue_codes(other, "parent", 1, expires_at=now + timedelta(days=2))
    last = campaigns.last_day(campaign)
    moved = campaigns.move_closing(campaign, last + timedelta(days=10), "雨雪天气，延长十天", now)
    assert (moved.previous, moved.closes, moved.codes) == (last, last + timedelta(days=10), 2)
    _opens, new_end = campaigns.window(last, last + timedelta(days=10))
    assert as_utc(campaign.closes_at) == new_end  # the end of the new last day, China time
    assert campaigns.last_day(campaign) == last + timedelta(days=10)
    # a slip of the window works after the old end; one with its own expiry keeps it
    later = old_end + timedelta(hours=1)
    services.check_usable(services.find_code(typed[1]), later)
    with pytest.raises(services.CodeRefused):
        services.check_usable(services.find_code(own_expiry), later)
    assert db.session.get(OneTimeCode, answered.id).expires_at is not None
    event = db.session.scalars(
        select(AuditEvent).filter_by(campaign_id=campaign.id, action="closing_moved")
    ).one()
    assert event.reason == "雨雪天气，延长十天"
    assert event.details == {
        "previous": last.isoformat(),
        "closes": (last + timedelta(days=10)).isoformat(),
        "codes": 2,
    }


def test_an_earlier_last_day_shortens_the_window_but_not_into_the_past(campaign):
    now = datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).astimezone(campaigns.CHINA).date()
    campaigns.move_closing(campaign, tomorrow, "提前结束", now)
    assert campaigns.last_day(campaign) == tomorrow
    yesterday = tomorrow - timedelta(days=2)
    with pytest.raises(campaigns.ClosingRefused, match="close it now instead"):
        campaigns.move_closing(campaign, yesterday, "太晚了", now)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"days": 0}, "same"),
        ({"days": -400}, "before_opening"),
        ({"reason": "  "}, "reason"),
        ({"reason": "长" * 501}, "reason_length"),
        ({"status": "closed"}, "closed"),
    ],
)
def test_what_cannot_be_moved_is_refused_and_nothing_changes(campaign, change, code):
    campaign.status = change.get("status", campaign.status)
    before = as_utc(campaign.closes_at)
    day = campaigns.last_day(campaign) + timedelta(days=change.get("days", 5))
    with pytest.raises(campaigns.ClosingRefused) as refused:
        campaigns.move_closing(campaign, day, change.get("reason", "原因"), datetime.now(UTC))
    assert refused.value.code == code
    assert as_utc(campaign.closes_at) == before


@pytest.fixture
def supervisor(client, campaign):
    auth.create_user("closing@example.org", "supervisor", PASSWORD, [campaign.key])
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "closing@example.org", "password": PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 302
    return client


def _post(client, key: str, **fields: str):
    token = csrf_token(client.get(f"/plan/{key}/").text)
    return client.post(f"/plan/{key}/closing", data={"csrf_token": token, **fields})


def test_a_supervisor_moves_the_last_day_on_the_campaign_page(supervisor, campaign):
    last = campaigns.last_day(campaign)
    page = supervisor.get(f"/plan/{campaign.key}/").text
    assert f'value="{last.isoformat()}"' in page
    later = (last + timedelta(days=7)).isoformat()
    reply = _post(supervisor, campaign.key, closes=later, reason="学校期中考试，顺延一周")
    assert reply.status_code == 302
    page = supervisor.get(f"/plan/{campaign.key}/").text
    assert f'value="{later}"' in page
    assert '<td title="closing_moved">调查最后一天变更</td>' in page
    assert f"最后一天：{later}" in page
    # refused: the typed reason stays, nothing moves
    reply = _post(supervisor, campaign.key, closes="2001-01-01", reason="写错了日期")
    assert reply.status_code == 422
    assert "调查不能在开始之前结束" in reply.text
    assert "写错了日期" in reply.text
    assert campaigns.last_day(db.session.get(Campaign, campaign.id)) == last + timedelta(days=7)
    assert _post(supervisor, campaign.key, closes="soon", reason="x").status_code == 422


def test_the_command_moves_the_last_day_or_refuses_in_one_line(runner, campaign):
    last = campaigns.last_day(campaign)
    later = (last + timedelta(days=3)).isoformat()
    args = ["campaign", "closing", "--campaign", campaign.key, "--closes", later]
    result = runner.invoke(args=[*args, "--reason", "延长"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Fieldwork of {campaign.key} now closes at the end of {later}")
    result = runner.invoke(args=[*args, "--reason", "again"])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "already closes at the end of" in line


def test_a_campaign_in_preparation_moves_its_window_and_its_codes_follow(app_ctx):
    from dataclasses import replace

    from survey_app.plan import code_batches
    from tests.factories import make_campaign, make_plan, make_school

    county = make_campaign(open_now=False)
    make_school(county)
    make_school(county)
    plan = make_plan(county)
    issued = code_batches.issue_planned_codes(county, plan)  # in preparation, frozen
    settings = campaigns.settings_of(county)
    later = replace(
        settings,
        closes=settings.closes + timedelta(days=3),
        county_name="新县",
        county_code="659001",  # the factory's code is not a real one
    )
    assert campaigns.change_settings(county, later) == ("county_code", "county_name", "closes")
    _opens, end = campaigns.window(later.opens, later.closes)
    expiries = {as_utc(code.expires_at) for code in db.session.scalars(select(OneTimeCode))}
    assert expiries == {end}
    event = db.session.scalars(
        select(AuditEvent).filter_by(campaign_id=county.id, action="campaign_changed")
    ).one()
    assert event.details["codes"] == len(issued)
    assert campaigns.change_settings(county, later) == ()  # the same again: nothing
    county.status = "open"
    with pytest.raises(campaigns.CampaignRefused, match="only a campaign in preparation"):
        campaigns.change_settings(county, replace(later, threshold=0.8))
