"""Flask's signed-cookie session, with less work per request.

Every request opens the session and closes it again. Flask's interface built a new
itsdangerous serializer (and its signer) each time, and on the way out read seven
cookie settings before finding that an unchanged session writes nothing; a respondent's
session changes twice in ten requests. Here the serializer is built once per set of
keys, and an unchanged session returns at once. Cookies are Flask's own, byte for byte.
"""

from __future__ import annotations

from flask import Flask, Response
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer


class CookieSessions(SecureCookieSessionInterface):
    """``SecureCookieSessionInterface`` with a cached serializer (a new key or fallback
    takes effect at once: the key set is the cache's key) and a short way out."""

    def __init__(self) -> None:
        self._keys: tuple[object, ...] = ()
        self._serializer: URLSafeTimedSerializer | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if keys != self._keys or self._serializer is None:
            self._serializer = super().get_signing_serializer(app)
            self._keys = keys
        return self._serializer

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session.modified and not self.should_set_cookie(app, session):
            if session.accessed:  # as Flask does for a session left as it came
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
