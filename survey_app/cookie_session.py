"""Flask's signed-cookie session, with its signing serializer built once per key.

Flask builds an itsdangerous serializer (and its signer) anew for every request that
opens or saves a session: a measurable share of a respondent's page view, on a path
where every request opens the session (``bench/README.md``). The serializer holds no
per-request state, so one per set of keys serves every request.
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class CookieSessions(SecureCookieSessionInterface):
    """``SecureCookieSessionInterface`` with a cached serializer: the same cookies,
    signed and checked alike (the key and its fallbacks are part of the cache key, so
    a rotated key takes effect at once)."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[object, ...], URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            self._serializers = {keys: serializer}  # one key set at a time
        return serializer


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
