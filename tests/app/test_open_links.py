"""Open links (residents): a start page, a slot of the quota per person, slots given back
when abandoned, soft duplicate control, and the response in the area's own stratum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from survey_app.demo import demo_open_link
from survey_app.extensions import db
from survey_app.models import OneTimeCode, OpenLink, Response, Stratum
from survey_app.plan import open_links as staff_links
from survey_app.respond import open_links
from tests.app.conftest import Respondent, answer_everything, csrf_token, is_thank_you_page


@pytest.fixture
def link(campaign) -> OpenLink:
    found = demo_open_link(campaign)
    assert found is not None
    return found


def take_slot(respondent: Respondent, token: str, **extra: str):
    page = respondent.client.get(f"/o/{token}")
    assert page.status_code == 200, page.status_code
    data = {"csrf_token": csrf_token(page.text), **extra}
    return respondent.client.post(f"/o/{token}", data=data)


def codes_of(link: OpenLink) -> list[OneTimeCode]:
    return list(db.session.scalars(select(OneTimeCode).where(OneTimeCode.open_link_id == link.id)))


def test_opening_the_link_takes_no_slot_until_start_is_pressed(client, link):
    """Link previews (WeChat fetches a posted URL) must not use up the quota."""
    page = client.get(f"/o/{link.token}")
    assert page.status_code == 200
    assert "城关镇" in page.text
    db.session.refresh(link)
    assert link.reserved == 0
    assert codes_of(link) == []


def test_a_resident_answers_through_the_link_into_the_area_stratum(app, respondent, link):
    started = take_slot(respondent, link.token)
    assert started.status_code == 302
    assert started.location.endswith("/start")
    db.session.refresh(link)
    assert link.reserved == 1
    (code,) = codes_of(link)
    assert code.school_id is None
    assert code.held_until is not None
    respondent.start()
    answer_everything(app, respondent, group="resident")
    assert is_thank_you_page(respondent.submit())
    response = db.session.scalars(select(Response).order_by(Response.id.desc())).first()
    assert response.respondent_group == "resident"
    assert response.school_id is None
    assert db.session.get(Stratum, response.stratum_id).code == "area-chengguan"
    db.session.refresh(code)
    # A used code keeps no time that could be matched to the response's minute.
    assert (code.status, code.held_until, code.draft) == ("used", None, None)
    db.session.refresh(link)
    assert link.reserved == 1


def test_opening_the_link_again_resumes_the_same_slot(respondent, link):
    take_slot(respondent, link.token)
    again = respondent.client.get(f"/o/{link.token}")
    assert again.status_code == 302
    assert again.location.endswith("/start")
    db.session.refresh(link)
    assert link.reserved == 1


def test_each_save_moves_the_hold_on(app, respondent, link):
    take_slot(respondent, link.token)
    (code,) = codes_of(link)
    code.held_until = datetime.now(UTC) - timedelta(minutes=5)
    db.session.commit()
    respondent.start()
    pages = answer_everything(app, respondent, group="resident")
    assert pages
    db.session.refresh(code)
    assert code.held_until.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(minutes=50)


def test_a_full_link_refuses_a_new_phone(make_respondent, link):
    link.quota = 1
    db.session.commit()
    assert take_slot(make_respondent(), link.token).status_code == 302
    refused = take_slot(make_respondent(), link.token)
    assert refused.status_code == 409
    assert "本链接作答人数已满" in refused.text
    db.session.refresh(link)
    assert link.reserved == 1
    assert len(codes_of(link)) == 1


def test_an_abandoned_slot_is_given_back_when_the_link_is_full(make_respondent, link):
    link.quota = 1
    db.session.commit()
    first = make_respondent()
    take_slot(first, link.token)
    (abandoned,) = codes_of(link)
    abandoned.held_until = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    second = make_respondent()
    assert take_slot(second, link.token).status_code == 302
    db.session.refresh(link)
    db.session.refresh(abandoned)
    assert link.reserved == 1
    assert (abandoned.status, abandoned.draft, abandoned.held_until) == ("void", None, None)
    # The first phone is told its place went to someone else, and may queue again.
    told = first.client.get("/start")
    assert told.status_code == 410
    assert first.client.get(f"/o/{link.token}").status_code == 200


def test_a_slot_still_held_is_not_given_back(make_respondent, link):
    link.quota = 1
    db.session.commit()
    take_slot(make_respondent(), link.token)
    assert take_slot(make_respondent(), link.token).status_code == 409
    (held,) = codes_of(link)
    assert held.status == "issued"


def test_the_same_phone_is_asked_before_answering_twice(app, respondent, link):
    take_slot(respondent, link.token)
    respondent.start()
    answer_everything(app, respondent, group="resident")
    respondent.submit()
    page = respondent.client.get(f"/o/{link.token}")
    assert page.status_code == 200
    assert 'name="someone_else"' in page.text
    asked = respondent.client.post(f"/o/{link.token}", data={"csrf_token": csrf_token(page.text)})
    assert asked.status_code == 409
    db.session.refresh(link)
    assert link.reserved == 1
    confirmed = respondent.client.post(
        f"/o/{link.token}", data={"csrf_token": csrf_token(page.text), "someone_else": "1"}
    )
    assert confirmed.status_code == 302
    db.session.refresh(link)
    assert link.reserved == 2


def test_a_closed_link_or_campaign_takes_nobody(respondent, link, campaign):
    link.closed = True
    db.session.commit()
    assert respondent.client.get(f"/o/{link.token}").status_code == 410
    link.closed = False
    campaign.status = "closed"
    db.session.commit()
    assert respondent.client.get(f"/o/{link.token}").status_code == 410


@pytest.mark.parametrize(
    "token", ["x", "nope-nope-nope", "é" * 12, "a" * 41, "abcd%00efghij", "abcd%20efghij"]
)
def test_an_unknown_link_is_a_404(client, token):
    assert client.get(f"/o/{token}").status_code == 404


def test_a_post_without_the_csrf_token_is_refused(client, link):
    assert client.post(f"/o/{link.token}").status_code == 400
    db.session.refresh(link)
    assert link.reserved == 0


def test_staff_make_a_link_with_its_own_area_stratum(campaign):
    now = datetime.now(UTC)
    made = staff_links.create_open_link(
        campaign, slug="dongcheng", label="东城街道", quota=50, population=8000, now=now
    )
    assert made.stratum.kind == "area"
    assert made.stratum.code == "area-dongcheng"
    assert len(made.token) >= 22  # 128 random bits
    with pytest.raises(staff_links.OpenLinkRefused) as again:
        staff_links.create_open_link(campaign, slug="dongcheng", label="x", quota=5, now=now)
    assert again.value.code == "exists"
    for bad in ({"slug": "Dong Cheng"}, {"quota": 0}, {"label": " "}, {"population": -1}):
        values = {"slug": "xicheng", "label": "西城", "quota": 5, "now": now} | bad
        with pytest.raises(staff_links.OpenLinkRefused):
            staff_links.create_open_link(campaign, **values)


def test_progress_counts_the_link_against_its_quota(respondent, link, campaign):
    take_slot(respondent, link.token)
    (row,) = [p for p in staff_links.links_of(campaign) if p.link.id == link.id]
    assert (row.answering, row.answered, row.link.quota) == (1, 0, 300)


def test_release_counts_each_abandoned_code_once(link):
    now = datetime.now(UTC)
    state = open_links.find_link(link.token)
    for _ in range(3):
        open_links.reserve_slot(state, now, timedelta(minutes=-1))  # already past its hold
    db.session.flush()
    assert open_links.release_abandoned(link.id, now) == 3
    assert open_links.release_abandoned(link.id, now) == 0
    db.session.refresh(link)
    assert link.reserved == 0
