"""The one transaction boundary (survey_app/transactions.py), on an app of its own with
routes that write and then succeed, fail, or are refused at commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, abort, session
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Campaign
from survey_app.transactions import committed
from tests.conftest import make_app

NOW = datetime.now(UTC)


class Refused(Exception):
    """A named exception that an error handler turns into a page."""


def _campaign(name: str) -> Campaign:
    """A campaign not yet flushed (the views under test add and flush it themselves)."""
    return Campaign(
        key=name,
        county_code="TX0001",
        county_name=name,
        stage="self",
        status="draft",
        opens_at=NOW,
        closes_at=NOW + timedelta(days=1),
        resident_population=1,
    )


def _written(name: str) -> int:
    return db.session.scalar(select(func.count()).where(Campaign.county_name == name)) or 0


@pytest.fixture
def routes(app: Flask) -> Flask:
    """A fresh app (the shared one cannot take new routes) on the test's database."""
    # Errors become pages, as in production (tests otherwise re-raise them).
    boundary = make_app(app.config["SQLALCHEMY_DATABASE_URI"], PROPAGATE_EXCEPTIONS=False)

    @boundary.errorhandler(Refused)
    def refused(_error: Refused):  # type: ignore[no-untyped-def]
        return "refused", 409

    @boundary.post("/t/<name>/<outcome>")
    def write(name: str, outcome: str):  # type: ignore[no-untyped-def]
        db.session.add(_campaign(name))
        db.session.flush()
        session["wrote"] = name
        if outcome == "handled":
            raise Refused
        if outcome == "aborted":
            abort(403)
        if outcome == "unhandled":
            raise RuntimeError("boom")
        if outcome == "bad-at-commit":
            db.session.add(Campaign(county_name=name))  # NOT NULL columns missing
        return "stored", 422 if outcome == "own-status" else 200

    boundary.config["WTF_CSRF_ENABLED"] = False
    return boundary


@pytest.mark.parametrize(("outcome", "status"), [("ok", 200), ("own-status", 422)])
def test_a_view_that_returns_is_committed_whatever_its_status(routes, app_ctx, outcome, status):
    reply = routes.test_client().post(f"/t/kept-{outcome}/{outcome}")
    assert reply.status_code == status
    assert _written(f"kept-{outcome}") == 1


@pytest.mark.parametrize(
    ("outcome", "status"), [("handled", 409), ("aborted", 403), ("unhandled", 500)]
)
def test_a_view_that_raises_leaves_the_database_as_it_was(routes, app_ctx, outcome, status):
    client = routes.test_client()
    reply = client.post(f"/t/gone-{outcome}/{outcome}")
    assert reply.status_code == status
    assert _written(f"gone-{outcome}") == 0


def test_a_failed_commit_is_a_500_and_the_session_cookie_is_not_changed(routes, app_ctx):
    client = routes.test_client()
    reply = client.post("/t/gone-at-commit/bad-at-commit")
    assert reply.status_code == 500
    assert _written("gone-at-commit") == 0
    assert client.get_cookie("session") is None  # the cookie named a row never written
    assert client.post("/t/after/ok").status_code == 200  # the next request is fine
    assert _written("after") == 1


def test_the_command_line_boundary_commits_once_or_not_at_all(app_ctx):
    with committed():
        db.session.add(_campaign("cli-kept"))

    def failing_command() -> None:
        with committed():
            db.session.add(_campaign("cli-gone"))
            db.session.flush()
            raise RuntimeError("the command failed")

    with pytest.raises(RuntimeError):
        failing_command()
    assert (_written("cli-kept"), _written("cli-gone")) == (1, 0)
