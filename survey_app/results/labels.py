"""Words of the results in the staff's language: verdicts, why responses were set
aside, and the question of each item (pages and the report alike)."""

from __future__ import annotations

from functools import lru_cache

from flask_babel import lazy_gettext as _l

from questionnaires import Questionnaire, load_version

VERDICT_LABELS = {
    "met": _l("Met"),
    "not_met": _l("Not met"),
    "inconclusive": _l("Inconclusive"),
    "no_data": _l("No data"),
}
SET_ASIDE_LABELS = {
    "school_not_in_plan": _l("from schools not drawn"),
    "group_not_planned_at_school": _l("from groups not planned at their school"),
    "not_in_plan": _l("outside any list or open link"),
}


@lru_cache(maxsize=64)
def _version(key: str, version: int) -> Questionnaire:
    """A published version never changes: each worker reads it once."""
    return load_version(key, version)


def item_texts(
    items: tuple[str, ...], versions: tuple[tuple[str, int], ...], language: str
) -> dict[str, str]:
    """``<questionnaire>.<item id>`` → the item's question in ``language``."""
    return {
        item: _version(*source).item(item.partition(".")[2]).text(language)
        for item, source in zip(items, versions, strict=True)
    }
