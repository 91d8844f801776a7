"""Language choice for respondents: explicit choice, else the browser's, else zh_Hans."""

from __future__ import annotations

import os
from datetime import datetime
from functools import lru_cache

from babel import Locale
from flask import Flask, current_app, request, session
from flask_babel import format_datetime

from survey_app.extensions import babel

# Browser tags that name a script-less Chinese variant, mapped to the script we serve.
_CHINESE_REGIONS = {"tw": "zh_Hant", "hk": "zh_Hant", "mo": "zh_Hant", "hant": "zh_Hant"}


def language_from_header(header_values: list[str], supported: tuple[str, ...]) -> str | None:
    """Pick a supported language from Accept-Language tags, in the browser's order."""
    for tag in header_values:
        parts = tag.replace("_", "-").lower().split("-")
        if parts[0] == "zh":
            script = next((_CHINESE_REGIONS[p] for p in parts[1:] if p in _CHINESE_REGIONS), None)
            return script or "zh_Hans"
        for code in supported:
            if code.lower() == parts[0]:
                return code
    return None


def select_locale() -> str:
    supported: tuple[str, ...] = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in supported:
        return chosen
    ordered = [value for value, _quality in request.accept_languages]
    return language_from_header(ordered, supported) or current_app.config["BABEL_DEFAULT_LOCALE"]


@lru_cache(maxsize=16)
def text_direction(language: str) -> str:
    """'rtl' for Uyghur (Arabic script), 'ltr' otherwise, from CLDR."""
    return "rtl" if Locale.parse(language).character_order == "right-to-left" else "ltr"


def html_lang(language: str) -> str:
    """BCP 47 tag for the ``lang`` attribute: zh_Hans → zh-Hans."""
    return language.replace("_", "-")


@lru_cache(maxsize=16)
def language_name(language: str) -> str:
    """A language's own name for the language picker (中文（简体）, English, ئۇيغۇرچە …)."""
    return Locale.parse(language).get_display_name(language) or language


@lru_cache(maxsize=4)
def _language_menu(languages: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(code, language_name(code)) for code in languages]


def iso_datetimeformat(value: str, format: str | None = None) -> str:
    """A time kept as ISO 8601 text (the cached integrity summary's decisions), shown
    as ``datetimeformat`` shows a datetime: in the county's time zone and language."""
    return format_datetime(datetime.fromisoformat(value), format)


def init_app(app: Flask) -> None:
    from survey_app import PROJECT_ROOT

    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=os.path.join(PROJECT_ROOT, "translations"),
    )

    app.add_template_filter(iso_datetimeformat, "iso_datetimeformat")

    @app.context_processor
    def language_context() -> dict[str, object]:
        from flask_babel import get_locale

        language = str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"])
        return {
            "current_language": language,
            "html_lang": html_lang(language),
            "text_dir": text_direction(language),
            "languages": _language_menu(app.config["LANGUAGES"]),
        }
