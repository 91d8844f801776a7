"""The session cookie with a cached serializer (``cookie_session``) is Flask's own."""

from __future__ import annotations

from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface

from survey_app.cookie_session import CookieSessions


def _app(interface: SecureCookieSessionInterface, key: str = "k" * 32) -> Flask:
    app = Flask(__name__)
    app.secret_key = key
    app.session_interface = interface

    @app.post("/set")
    def set_value() -> str:
        session["code_id"] = 7
        return "set"

    @app.get("/get")
    def get_value() -> str:
        return str(session.get("code_id"))

    return app


def _cookie(app: Flask) -> str:
    client = app.test_client()
    client.post("/set")
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _read(app: Flask, cookie: str) -> str:
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.get("/get").text


def test_cookies_are_those_of_flasks_own_session():
    ours, flasks = _app(CookieSessions()), _app(SecureCookieSessionInterface())
    assert _read(flasks, _cookie(ours)) == "7"
    assert _read(ours, _cookie(flasks)) == "7"


def test_a_new_key_takes_effect_at_once_and_the_old_one_can_stay_as_fallback():
    app = _app(CookieSessions(), key="old" * 11)
    signed_before = _cookie(app)
    assert _read(app, signed_before) == "7"
    app.secret_key = "new" * 11
    assert _read(app, signed_before) == "None"  # the cached serializer is not reused
    app.config["SECRET_KEY_FALLBACKS"] = ["old" * 11]
    assert _read(app, signed_before) == "7"
    assert _read(app, _cookie(app)) == "7"


def test_an_unchanged_session_writes_no_cookie_and_says_it_varies():
    app = _app(CookieSessions())
    client = app.test_client()
    client.post("/set")
    reply = client.get("/get")
    assert "Set-Cookie" not in reply.headers
    assert reply.headers["Vary"] == "Cookie"


def test_a_changed_session_is_written():
    app = _app(CookieSessions())
    client = app.test_client()
    reply = client.post("/set")
    assert "session=" in reply.headers["Set-Cookie"]
    assert reply.headers["Vary"] == "Cookie"


def test_a_permanent_session_is_still_refreshed_where_configured():
    app = _app(CookieSessions())

    @app.post("/keep")
    def keep() -> str:
        session.permanent = True
        return "kept"

    app.config["SESSION_REFRESH_EACH_REQUEST"] = True
    client = app.test_client()
    client.post("/keep")
    assert "session=" in client.get("/get").headers["Set-Cookie"]
