"""The UI translation catalogs are complete and in step with the extracted template.

Needs no app: the catalogs are read as files. After `pybabel update` adds strings to the
template, these tests fail until every catalog has translated them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from survey_app.vocabulary import LANGUAGES

TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"
# Every language of the vocabulary but English, the language the strings are written in.
LOCALES = tuple(language for language in LANGUAGES if language != "en")

# Named printf-style placeholders, as used with gettext keyword arguments: %(n)d, %(name)s …
_PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _messages(catalog: Catalog) -> dict[str, Message]:
    """Messages by msgid (the singular for plural entries), header excluded."""
    return {
        (message.id[0] if isinstance(message.id, tuple) else message.id): message
        for message in catalog
        if message.id
    }


def _strings(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


@pytest.fixture(scope="module")
def template() -> dict[str, Message]:
    return _messages(_read(TRANSLATIONS / "messages.pot"))


@pytest.fixture(scope="module", params=LOCALES)
def catalog(request: pytest.FixtureRequest) -> tuple[str, dict[str, Message]]:
    locale: str = request.param
    path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    assert path.is_file(), f"missing catalog {path}"
    return locale, _messages(_read(path, locale))


def test_template_is_not_empty(template: dict[str, Message]) -> None:
    assert template, "translations/messages.pot has no messages"


def test_catalog_msgids_match_template(
    template: dict[str, Message], catalog: tuple[str, dict[str, Message]]
) -> None:
    locale, messages = catalog
    missing = sorted(set(template) - set(messages))
    stale = sorted(set(messages) - set(template))
    assert not missing, f"{locale}: msgids missing (run pybabel update): {missing}"
    assert not stale, f"{locale}: msgids not in the template: {stale}"


def test_every_message_is_translated(
    template: dict[str, Message], catalog: tuple[str, dict[str, Message]]
) -> None:
    locale, messages = catalog
    untranslated = []
    fuzzy = []
    for msgid in template:
        message = messages.get(msgid)
        if message is None:
            continue  # reported by test_catalog_msgids_match_template
        strings = _strings(message.string)
        if not strings or not all(s.strip() for s in strings):
            untranslated.append(msgid)
        if message.fuzzy:
            fuzzy.append(msgid)
    assert not untranslated, f"{locale}: empty msgstr for {untranslated}"
    assert not fuzzy, f"{locale}: fuzzy translations for {fuzzy}"


def test_placeholders_are_kept(
    template: dict[str, Message], catalog: tuple[str, dict[str, Message]]
) -> None:
    locale, messages = catalog
    wrong = []
    for msgid, source in template.items():
        message = messages.get(msgid)
        if message is None:
            continue
        # Plural entries: compared over all forms, since a singular form may spell out "one".
        expected = set().union(*(_placeholders(s) for s in _strings(source.id)))
        found = set().union(*(_placeholders(s) for s in _strings(message.string)))
        if any(_strings(message.string)) and found != expected:
            wrong.append((msgid, message.string))
    assert not wrong, f"{locale}: placeholders differ from the msgid in {wrong}"
