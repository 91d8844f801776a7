"""Response headers that keep codes and answers where they belong."""

from __future__ import annotations

from flask import Flask, Response, request


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
