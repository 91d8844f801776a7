"""Pooled PostgreSQL connections are pinged when they sat idle, not on every checkout
(``database.ping_idle_connections``). Runs when ``TEST_DATABASE_URL`` is PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from survey_app import database
from survey_app.extensions import db
from tests.conftest import make_app

URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="TEST_DATABASE_URL is not PostgreSQL"
)


@pytest.fixture
def pg_app() -> Iterator[Flask]:
    app = make_app(URL)
    yield app
    with app.app_context():
        db.engine.dispose()


def _backend_pid() -> int:
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    db.session.commit()
    return int(pid)


def _pings(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    seen: list[object] = []
    dialect = db.engine.dialect
    original = dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        seen.append(dbapi_connection)
        return original(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return seen


def test_a_connection_back_in_the_pool_just_now_is_not_pinged(pg_app, monkeypatch):
    with pg_app.app_context():
        pings = _pings(pg_app, monkeypatch)
        first = _backend_pid()
        for _ in range(5):
            assert _backend_pid() == first  # the same pooled connection every time
        assert pings == []


def test_an_idle_connection_whose_server_side_died_is_replaced_unseen(pg_app, monkeypatch):
    with pg_app.app_context():
        pings = _pings(pg_app, monkeypatch)
        victim = _backend_pid()
        other = create_engine(URL, poolclass=NullPool)  # the server ends the pooled one
        with other.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
        other.dispose()
        monkeypatch.setattr(database.time, "monotonic", _later(database.time.monotonic))
        replacement = _backend_pid()  # no error: the ping found it dead first
        assert replacement != victim
        assert len(pings) == 1


def _later(clock):
    """A clock running PING_AFTER_IDLE_SECONDS ahead: every pooled connection looks idle."""
    return lambda: clock() + database.PING_AFTER_IDLE_SECONDS + 1
