"""The open link's quota under a rush, on PostgreSQL with real commits: 50 phones press
Start at once for the last 5 slots, and exactly 5 get one.

Runs when ``TEST_DATABASE_URL`` is PostgreSQL (CI sets it); otherwise skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import delete, func, select

from survey_app.extensions import db
from survey_app.models import AuditEvent, Campaign, OneTimeCode, OpenLink, Stratum
from survey_app.plan.open_links import create_open_link
from tests.app.conftest import Respondent, csrf_token
from tests.app.test_concurrency_postgres import run_together
from tests.conftest import make_app, migrate_to_head
from tests.factories import make_campaign

URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="TEST_DATABASE_URL is not PostgreSQL"
)
PHONES = 50
LEFT = 5


@pytest.fixture
def rush() -> Iterator[tuple[Flask, str, int]]:
    app = make_app(URL, CODE_FLOOD_LIMIT="100000 per minute")
    migrate_to_head(app)
    with app.app_context():
        campaign = make_campaign(county_name="rush")
        link = create_open_link(
            campaign, slug="rush", label="抢答", quota=20, now=datetime.now(UTC)
        )
        link.reserved = 20 - LEFT  # 15 slots answered or held already
        db.session.commit()
        campaign_id, link_id, token = campaign.id, link.id, link.token
    yield app, token, link_id
    with app.app_context():
        db.session.execute(delete(OneTimeCode).where(OneTimeCode.campaign_id == campaign_id))
        db.session.execute(delete(OpenLink).where(OpenLink.campaign_id == campaign_id))
        db.session.execute(delete(AuditEvent).where(AuditEvent.campaign_id == campaign_id))
        db.session.execute(delete(Stratum).where(Stratum.campaign_id == campaign_id))
        db.session.execute(delete(Campaign).where(Campaign.id == campaign_id))
        db.session.commit()
        db.engine.dispose()


def test_fifty_phones_race_for_the_last_five_slots(rush):
    app, token, link_id = rush
    phones = [Respondent(app.test_client()) for _ in range(PHONES)]
    tokens = [csrf_token(phone.client.get(f"/o/{token}").text) for phone in phones]
    statuses: list[int] = []

    def press_start(phone: Respondent, csrf: str) -> None:
        reply = phone.client.post(f"/o/{token}", data={"csrf_token": csrf})
        statuses.append(reply.status_code)

    run_together(
        [
            (lambda phone=phone, csrf=csrf: press_start(phone, csrf))
            for phone, csrf in zip(phones, tokens, strict=True)
        ]
    )
    assert sorted(statuses) == [302] * LEFT + [409] * (PHONES - LEFT)
    with app.app_context():
        link = db.session.get(OpenLink, link_id)
        assert link.reserved == link.quota == 20
        codes = db.session.scalar(select(func.count()).where(OneTimeCode.open_link_id == link_id))
        assert codes == LEFT
