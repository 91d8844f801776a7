"""What every string and JSON body from outside goes through before the app keeps it.

Two kinds of input broke the respondent path before these existed: text that neither
PostgreSQL nor a UTF-8 page can hold (a NUL byte, a lone UTF-16 surrogate from a JSON
``"\\ud800"`` escape), and JSON nested deeper than Python's recursion limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider

# NUL and the other C0/C1 controls but tab and line breaks, and any surrogate code point:
# after decoding, a surrogate in a Python str is always unpaired (a pair decodes to one
# character), and no encoder can write it out as UTF-8.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

MAX_JSON_DEPTH = 20
"""Deepest nesting of arrays and objects a JSON body may have (the autosave body has 2)."""

_SIGNIFICANT = re.compile(r'[\[\]{}"\\]')
_URL_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def clean_text(text: str) -> str:
    """``text`` without the characters that cannot be stored or shown: NUL, other control
    characters (tab, CR and LF are kept) and unpaired surrogates, which are dropped."""
    return _UNSTORABLE.sub("", text)


def is_url_token(text: str, *, min_length: int = 1, max_length: int) -> bool:
    """Whether ``text`` can be a token of ours (``secrets.token_urlsafe``: letters,
    digits, ``-`` and ``_``). Anything else in a URL names nothing and is refused before
    a look-up: PostgreSQL cannot even compare a string holding NUL."""
    return min_length <= len(text) <= max_length and _URL_TOKEN.fullmatch(text) is not None


def nested_deeper_than(text: str, limit: int) -> bool:
    """Whether arrays and objects in the JSON ``text`` nest more than ``limit`` deep:
    linear time and no recursion, so a hostile body is measured before it is parsed."""
    if text.count("[") + text.count("{") <= limit:
        return False  # the usual body: too few brackets to be too deep
    depth = 0
    in_string = False
    escaped_at = -1  # position of the character a backslash escapes
    for match in _SIGNIFICANT.finditer(text):
        symbol, at = match.group(), match.start()
        if in_string:
            if at == escaped_at:
                continue
            if symbol == "\\":
                escaped_at = at + 1
            elif symbol == '"':
                in_string = False
        elif symbol == '"':
            in_string = True
        elif symbol in "[{":
            depth += 1
            if depth > limit:
                return True
        elif symbol in "]}":
            depth -= 1
    return False


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing bodies nested deeper than :data:`MAX_JSON_DEPTH`.

    The standard parser recurses once per level and raises ``RecursionError`` (not a
    ``ValueError``) on ``"[" * 100000``, which ``request.get_json(silent=True)`` does not
    catch. Here every failure is a ``ValueError``, so a bad body is a 400, never a 500.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        text = s.decode("utf-8", "replace") if isinstance(s, bytes | bytearray) else s
        if nested_deeper_than(text, MAX_JSON_DEPTH):
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            return json.loads(s, **kwargs)
        except RecursionError as error:  # pragma: no cover - the depth check comes first
            raise ValueError("JSON nested too deeply") from error


F = TypeVar("F", bound=Callable[..., Any])


def accepts_upload(max_bytes: int) -> Callable[[F], F]:
    """Let one view take a body larger than ``MAX_CONTENT_LENGTH`` (a file upload).

    The limit must be raised before anything reads the body, and CSRF protection reads
    the form before any view or blueprint hook runs; so the view is marked here and
    :func:`raise_body_limit` applies the mark first thing in the request.
    """

    def mark(view: F) -> F:
        view.max_content_length = max_bytes  # type: ignore[attr-defined]
        return view

    return mark


def raise_body_limit() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "max_content_length", None)
    if limit is not None:
        request.max_content_length = limit


def init_app(app: Flask) -> None:
    """Register before CSRFProtect, whose check reads the form."""
    app.before_request(raise_body_limit)
