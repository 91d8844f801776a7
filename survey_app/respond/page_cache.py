"""Respondent pages laid out once per worker and filled in per request.

A questionnaire screen's markup depends on its questionnaire version, the language and
the screen; per respondent only a few places differ: the CSRF token, which option of
each question is checked, the comment typed. Rendering the whole template on every
request (Jinja's calls, a gettext per string, the language menu) was the dearest part
of a page view after the database (``bench/README.md``). So a template is rendered
once with a marker in each such place (a *hole*, ``{{ hole("csrf") }}`` in the
template), cut at the markers and kept; a request joins the pieces with its own values.

The ``key`` a view passes must determine everything the template reads but the holes
(which questions are marked missing, the screen's number, ...): the questionnaire's
identity and the language are added here. ``tests/app/test_page_cache.py`` renders
pages both ways and compares them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping
from contextlib import suppress
from typing import Any

from flask import current_app, render_template, request
from flask_babel import get_locale
from markupsafe import Markup

from questionnaires import Questionnaire

# Nothing rendered holds NUL: questionnaires are validated text, and what respondents
# send is cleaned of it before it is stored or shown (untrusted.clean_text).
_MARK = "\x00"
_HOLE = Markup("\x00{}\x00")
MAX_LAYOUTS = 512  # a few versions x 4 languages x screens x the rarer variants


def hole(name: str) -> Markup:
    """The marker of a place filled per request."""
    return _HOLE.format(name)


def render(
    template: str,
    questionnaire: Questionnaire | None,
    key: Hashable,
    holes: Mapping[str, str],
    **context: Any,
) -> str:
    """``template`` as ``render_template`` would give it with ``holes`` filled in
    (values are markup: escape text first). A page of no questionnaire (the thank-you
    page) passes None: it is laid out once per language."""
    layouts: OrderedDict[Hashable, list[str]] = current_app.extensions.setdefault(
        "respond_page_layouts", OrderedDict()
    )
    identity = (
        (questionnaire.key, questionnaire.version, questionnaire.content_hash)
        if questionnaire is not None
        else None
    )
    full_key = (template, str(get_locale()), request.script_root, identity, key)
    pieces = layouts.get(full_key)
    if pieces is None:
        html = render_template(template, hole=hole, questionnaire=questionnaire, **context)
        pieces = html.split(_MARK)
        layouts[full_key] = pieces
        while len(layouts) > MAX_LAYOUTS:
            with suppress(KeyError):  # another thread of the dev server took it
                layouts.popitem(last=False)
    else:
        with suppress(KeyError):
            layouts.move_to_end(full_key)
    page = pieces.copy()
    page[1::2] = [holes[name] for name in pieces[1::2]]
    return "".join(page)
