"""The one transaction boundary: a request's work is committed once, after its view
returned, and rolled back if anything raised; the command line has its own helper.

Views and services never call ``commit()`` or ``rollback()``: services ``flush()`` and
raise named exceptions, and the boundary decides. A view that returns a response of
its own (say, 422 with the answers that were saved and the ones still missing) has
succeeded, and its work is kept; a view that raised, whether the exception is turned
into a page by an error handler or not, leaves the database as it found it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from flask import Flask, Response, request, session
from sqlalchemy.engine import Engine

from survey_app.database import READ_ONLY
from survey_app.extensions import db

P = ParamSpec("P")
R = TypeVar("R")


class SurveyFlask(Flask):
    """Flask, rolling back the request's transaction before any error handler runs.

    Flask gives ``after_request`` functions no way to tell a response made by a view from
    one made by an error handler, so the rollback happens here, where every exception
    raised by a view or a ``before_request`` function passes (the app registers a
    handler for ``Exception``, so none bypasses it).
    """

    def handle_user_exception(self, e: Exception):  # type: ignore[no-untyped-def]
        db.session.rollback()
        return super().handle_user_exception(e)


def commit_request(response: Response) -> Response:
    """Commit what the request did (a no-op when it only read or already rolled back).

    If the commit itself fails, the session cookie is left as the browser sent it: the
    request's changes to the session describe database rows that were not written.
    """
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        session.modified = False
        raise
    return response


def reads_only_on_get(view: Callable[P, R]) -> Callable[P, R]:
    """Mark a view whose GET (and HEAD) requests only read: on PostgreSQL their statements
    run without an explicit transaction (each SELECT is atomic on its own), which saves
    the BEGIN and the COMMIT round trips of every page view. Other methods run in the
    request's transaction as usual.
    """

    @functools.wraps(view)
    def reading(*args: P.args, **kwargs: P.kwargs) -> R:
        if request.method in ("GET", "HEAD"):
            _statements_commit_themselves()
        return view(*args, **kwargs)

    return reading


def statements_stand_alone(view: Callable[P, R]) -> Callable[P, R]:
    """Mark a view whose every statement is complete on its own, whatever the method:
    reads, and writes of a single compare-and-swap UPDATE (a screen's draft, see
    ``respond.services.save_draft``). On PostgreSQL they run without an explicit
    transaction: a page save is two statements at the server (read, write) instead of
    four (BEGIN, read with a row lock, write, COMMIT).

    What such a view wrote stays written if it fails afterwards (a saved screen stays
    saved, as it should); a view that writes twice, or must undo a write when a later
    step fails, keeps the request's transaction.
    """

    @functools.wraps(view)
    def standing_alone(*args: P.args, **kwargs: P.kwargs) -> R:
        _statements_commit_themselves()
        return view(*args, **kwargs)

    return standing_alone


def _statements_commit_themselves() -> None:
    """Autocommit for the rest of the request, on PostgreSQL, where the session owns its
    connection: one joined to an outer transaction (the tests' per-test rollback) cannot
    change its isolation level. The connection goes back to the pool in its normal mode.

    SQLite is left alone: its driver's autocommit switch would hand transaction control
    back to the driver, which ``database.configure_engine`` takes away on purpose (there
    a request's statements run in one transaction that takes the write lock up front).
    """
    bind = db.session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def read_only() -> None:
    """Begin the session's next transaction as one that only reads: on SQLite a plain
    (deferred) BEGIN instead of BEGIN IMMEDIATE, so a long read (a report's evaluation
    and layout, seconds) holds no write lock that respondents' saves would wait for.
    Call it before the transaction's first statement, and end the transaction with a
    rollback before writing. PostgreSQL needs nothing: its readers block no writer.
    """
    bind = db.session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
        db.session.connection(execution_options={READ_ONLY: True})


@contextmanager
def committed() -> Iterator[None]:
    """The command line's boundary: commit the block's work once, roll back if it raised."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def init_app(app: Flask) -> None:
    app.after_request(commit_request)
