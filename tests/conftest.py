"""Shared fixtures: an app whose schema is built once by the migrations, and a database
transaction per test that is rolled back afterwards (Warehouse's pattern).

Runs on SQLite by default and on PostgreSQL when ``TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_sqlalchemy.session import Session

TEST_SECRET = "test-secret-key"  # noqa: S105


def pytest_report_header() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    shown = sa.engine.make_url(url).render_as_string() if url else "sqlite (temporary file)"
    return f"database: {shown}"


def database_url(tmp_dir: str) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_dir}/test.sqlite3"


def empty_database(url: str) -> None:
    """Drop everything in the test database so the migrations start from nothing."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if os.path.exists(path):
            os.remove(path)
        return
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


class IsolatedClient(FlaskClient):
    """Each request runs as in production: in its own app context (fresh ``g``, own
    database session), even while the test holds an app context for its assertions."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = contextvars.Context().run(super().open, *args, **kwargs)
        from flask import has_app_context

        if has_app_context():
            from survey_app.extensions import db

            db.session.expire_all()  # see what the request wrote
        return response


def make_app(url: str, **overrides: Any) -> Flask:
    from survey_app import create_app

    config = {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": url,
        "SERVER_NAME": None,
        "PUBLIC_BASE_URL": "http://survey.test",
        "CODE_ENTRY_LIMIT": "10 per minute",
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    return app


def migrate_to_head(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def inline_builds() -> Any:
    """Builds of cached campaign values (``campaign_cache``) run at once in the asking
    request's thread: a build thread's connection could not see a test's transaction.
    The threads themselves are tested on an app of their own (committed data)."""
    from concurrent.futures import Future

    from survey_app.campaign_cache import Builds, Claim

    class InlineBuilds(Builds):
        def start(self, app: Flask, cache: Any, campaign_id: int) -> Future[Any]:
            future: Future[Any] = Future()
            try:
                future.set_result(self._run(app, cache, campaign_id, Claim(None)))
            except Exception as error:  # raised to the view by the wait, as a thread's
                future.set_exception(error)
            return future

    return InlineBuilds()


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    url = database_url(str(tmp_path_factory.mktemp("db")))
    empty_database(url)
    app = make_app(url)
    from survey_app.campaign_cache import EXTENSION

    app.extensions[EXTENSION] = inline_builds()
    migrate_to_head(app)
    yield app
    with app.app_context():
        from survey_app.extensions import db

        db.engine.dispose()


class ConnectionBoundSession(Session):
    """Flask-SQLAlchemy's session picks the app's engine; tests need the test connection."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        return self.bind


@pytest.fixture(autouse=True)
def _transaction(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test that uses the app runs inside one outer transaction, rolled back after.

    Views commit as usual; with ``join_transaction_mode="create_savepoint"`` their
    commits only release savepoints of the outer transaction.
    """
    if "app" not in request.fixturenames:
        yield
        return
    app: Flask = request.getfixturevalue("app")
    from survey_app.extensions import db
    from survey_app.rate_limits import rate_limits

    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
                "class_": ConnectionBoundSession,
            }
        )
        rate_limits.reset()
        try:
            yield
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield
