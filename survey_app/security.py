"""Response headers that keep codes and answers where they belong; the fingerprint that
ties a staff session to the password it was signed in with."""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, Response, current_app, request


def password_fingerprint(password_hash: str) -> str:
    """16 hex digits of an HMAC of the hash under the app's secret key: kept in the
    (signed, readable) session, it tells a new password from the old without showing any
    of the hash."""
    key = str(current_app.secret_key).encode()
    return hmac.new(key, password_hash.encode(), hashlib.sha256).hexdigest()[:16]


def init_app(app: Flask) -> None:
    @app.after_request
    def set_security_headers(response: Response) -> Response:
        # Codes travel in URLs (/r/<code>): never leak them to another site via Referer.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Everything is served from here: no CDN, no external fonts or scripts.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        )
        if request.endpoint != "static":
            # Pages hold answers and codes: no browser or proxy cache may keep them
            # (phones are shared; a later user pressing Back must not see them).
            response.headers.setdefault("Cache-Control", "no-store")
        return response
