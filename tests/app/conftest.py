"""Factories for the app tests: the demo county and codes issued in it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey_app.demo import seed_demo_county
from survey_app.extensions import db
from survey_app.issuing import issue_codes
from survey_app.models import Campaign, School

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of a rendered form (tests keep CSRF on, as in production)."""
    match = _TOKEN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


@pytest.fixture
def campaign(app_ctx: None) -> Campaign:
    campaign = seed_demo_county(now=datetime.now(UTC))
    db.session.commit()
    return campaign


@pytest.fixture
def issue(campaign: Campaign) -> Callable[..., str]:
    """issue(group, level=None, expires_in=None) -> a fresh code at a school of the right level."""

    def _issue(
        group: str = "parent",
        school_level: str = "primary",
        expires_in: timedelta | None = None,
    ) -> str:
        school = db.session.scalar(
            db.select(School).filter_by(campaign_id=campaign.id, level=school_level).limit(1)
        )
        expires_at = datetime.now(UTC) + expires_in if expires_in is not None else None
        (code,) = issue_codes(school, group, 1, expires_at=expires_at)
        db.session.commit()
        return code

    return _issue


class Respondent:
    """A respondent's browser without JavaScript: follows links and posts forms."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def open(self, code: str, lang: str | None = None):
        query = f"?lang={lang}" if lang else ""
        return self.client.get(f"/r/{code}{query}", follow_redirects=True)

    def start(self):
        page = self.client.get("/start")
        return self.client.post(
            "/start", data={"csrf_token": csrf_token(page.text)}, follow_redirects=True
        )

    def answer(self, number: int, answers: dict[str, str], nav: str = "next", **extra: str):
        page = self.client.get(f"/q/{number}")
        data = {"csrf_token": csrf_token(page.text), "nav": nav, **answers, **extra}
        return self.client.post(f"/q/{number}", data=data)

    def submit(self):
        page = self.client.get("/review")
        return self.client.post("/submit", data={"csrf_token": csrf_token(page.text)})


@pytest.fixture
def respondent(client: FlaskClient) -> Respondent:
    return Respondent(client)


@pytest.fixture
def make_respondent(app: Flask) -> Callable[[], Respondent]:
    return lambda: Respondent(app.test_client())
