"""Words of the results in the staff's language: verdicts, why responses were set
aside, the design's caveats, and the question of each item (pages and the report
alike)."""

from __future__ import annotations

from functools import lru_cache

from flask_babel import lazy_gettext as _l

from analysis.design_caveats import DesignCaveat
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
    "integrity_decision": _l("set aside by a person after the integrity checks"),
}

# ``analysis.design_caveats`` by code (its ``message`` is the command line's English);
# ``%(share)s`` is the caveat's largest fraction as a percentage.
CAVEAT_LABELS = {
    "fpc_first_stage_only": _l(
        "Design caveat: a finite population correction is applied at the first stage "
        "without a second stage while up to %(share)s of the sampling units of a stratum "
        "are sampled: the variances and intervals are understated (to zero for a census "
        "of schools)."
    ),
    "pps_first_stage_only": _l(
        "Design caveat: schools were drawn with probability proportional to size and the "
        "variance has no second stage while a school's inclusion probability reaches "
        "%(share)s: the variances and intervals leave out that share of each school's "
        "within-school variance (all of it for a school drawn with certainty)."
    ),
}


def caveat_text(caveat: DesignCaveat) -> str:
    """The caveat in the current language (a code not listed here: its English)."""
    label = CAVEAT_LABELS.get(caveat.code)
    if label is None:
        return caveat.message
    return str(label) % {"share": f"{caveat.largest_fraction:.0%}"}


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
