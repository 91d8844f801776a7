"""Friendly error pages in the visitor's language; never a stack trace, and a log line
that never carries what a respondent sent."""

from __future__ import annotations

import traceback

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

_KINDS = {404: "not_found", 413: "too_large", 429: "too_many"}


def describe_without_data(error: BaseException) -> str:
    """The exception's class, the database's error code and constraint, and where it was
    raised, but not its message.

    Messages carry data: ``int()`` quotes the literal it could not read, PostgreSQL's
    DETAIL quotes the failing row (a comment, an answer), SQLAlchemy appends the
    statement's parameters. None of that may reach a log.
    """
    parts = [type(error).__name__]
    original = getattr(error, "orig", None)  # a DBAPI error wrapped by SQLAlchemy
    if original is not None:
        parts.append(type(original).__name__)
        sqlstate = getattr(original, "sqlstate", None)
        diagnosis = getattr(original, "diag", None)
        constraint = getattr(diagnosis, "constraint_name", None)
        parts += [f"sqlstate={sqlstate}"] if sqlstate else []
        parts += [f"constraint={constraint}"] if constraint else []
    frames = traceback.extract_tb(error.__traceback__)
    where = " <- ".join(f"{f.filename}:{f.lineno} {f.name}" for f in reversed(frames[-12:]))
    return " ".join(parts) + (f" at {where}" if where else "")


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def page_expired(error: CSRFError) -> ResponseReturnValue:
        return render_template("errors.html", kind="expired"), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        kind = _KINDS.get(error.code or 500, "other")
        return render_template("errors.html", kind=kind, code=error.code), error.code or 500

    @app.errorhandler(Exception)
    def server_error(error: Exception) -> ResponseReturnValue:
        app.logger.error("unhandled error: %s", describe_without_data(error))
        return render_template("errors.html", kind="server"), 500
