"""Friendly error pages in the visitor's language; never a stack trace."""

from __future__ import annotations

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def page_expired(error: CSRFError) -> ResponseReturnValue:
        return render_template("errors.html", kind="expired"), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        kind = {404: "not_found", 429: "too_many"}.get(error.code or 500, "other")
        return render_template("errors.html", kind=kind, code=error.code), error.code or 500

    @app.errorhandler(Exception)
    def server_error(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error")
        return render_template("errors.html", kind="server"), 500
