"""The integrity checks in the staff's language: reason names, the one-sentence
explanation of a school's group (built from the same ``statistics`` keys as the
analysis' English sentence, ``analysis/integrity/explanation.py``) and refusals."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from survey_app.integrity.decisions import DecisionRefused
from survey_app.vocabulary import GROUP_LABELS

REASON_LABELS = {
    "template_copying": _l("Copied answers"),
    "erased_dissatisfaction": _l("Dissatisfaction erased"),
    "proxy_filling": _l("Filled in by proxy"),
    "many_flagged_responses": _l("Many implausibly fast answers"),
}
RESPONSE_FLAG_LABELS = {
    "speeding": _l("too fast"),
    "straight_lining": _l("the same answer to every item"),
    "low_variation": _l("almost the same answer to every item"),
}

Stats = Mapping[str, Any]


def reason_list(reasons: list[str] | tuple[str, ...]) -> str:
    """A flagged group's reasons as one list in the staff's language (答案雷同、代填)."""
    return _(", ").join(str(REASON_LABELS[reason]) for reason in reasons)


def _percent(share: float) -> str:
    return f"{100 * share:.0f}%"


def _template(group: str, s: Stats) -> str:
    if s.get("template_kind") == "all_top":
        return _(
            "%(n_top)s of %(n)s %(group)s answers at this school give the top option to every "
            "item, where the school's other answers predict at most %(expected)s",
            n_top=s["all_top"],
            n=s["n"],
            group=group,
            expected=s["all_top_expected_max"],
        )
    return _(
        "%(same)s of %(n)s %(group)s answers at this school are the same %(items)s-answer "
        "vector, where independent respondents would give at most %(expected)s",
        same=s["largest_identical"],
        n=s["n"],
        group=group,
        items=s["items"],
        expected=s["expected_identical_max"],
    )


def _erased(group: str, s: Stats) -> str:
    others = s.get("stratum_low_share")
    if others is None:
        return _(
            "%(low)s of the %(answers)s %(group)s answers at this school are below the "
            "second-highest option, where their other answers predict at least %(expected)s",
            low=s["low_answers"],
            answers=s["answers"],
            group=group,
            expected=s["low_expected_min"],
        )
    return _(
        "%(low)s of the %(answers)s %(group)s answers at this school are below the "
        "second-highest option (%(others)s at the stratum's other schools), where their "
        "other answers predict at least %(expected)s",
        low=s["low_answers"],
        answers=s["answers"],
        group=group,
        others=_percent(others),
        expected=s["low_expected_min"],
    )


def _proxy(group: str, s: Stats) -> str:
    return _(
        "%(fast)s %(group)s answers at this school were submitted within %(minutes)s "
        "minutes, each in under %(seconds)s s (reading time %(reading)s s), where "
        "independent respondents would give at most %(expected)s",
        fast=s["burst_fast"],
        group=group,
        minutes=f"{s['burst_minutes']:g}",
        seconds=f"{s['speeding_seconds']:.0f}",
        reading=f"{s['reading_seconds']:.0f}",
        expected=s["burst_expected_max"],
    )


def _speeding(group: str, s: Stats) -> str:
    return _(
        "%(fast)s of %(timed)s %(group)s answers at this school took under %(seconds)s s "
        "(reading time %(reading)s s), where the stratum's other schools would give at "
        "most %(expected)s",
        fast=s["speeding"],
        timed=s["timed"],
        group=group,
        seconds=f"{s['speeding_seconds']:.0f}",
        reading=f"{s['reading_seconds']:.0f}",
        expected=s["speeding_expected_max"],
    )


_CLAUSES: dict[str, Callable[[str, Stats], str]] = {
    "template_copying": _template,
    "erased_dissatisfaction": _erased,
    "proxy_filling": _proxy,
    "many_flagged_responses": _speeding,
}


def explanation(group: str, reasons: list[str] | tuple[str, ...], statistics: Stats) -> str:
    """The cell's sentence in the staff's language (the analysis' English one, word for
    word in English)."""
    if statistics.get("too_small"):
        return _(
            "Too few responses to examine (%(n)s; at least %(min_n)s needed).",
            n=statistics["n"],
            min_n=statistics["min_n"],
        )
    if not reasons:
        return _("No sign of coaching.")
    label = str(GROUP_LABELS.get(group, group)).lower()  # "parent answers" mid-sentence
    clauses = [_CLAUSES[reason](label, statistics) for reason in _CLAUSES if reason in reasons]
    return _("%(clauses)s.", clauses=_("; ").join(clauses))


_REFUSED: dict[str, Callable[[Mapping[str, object]], str]] = {
    "decision": lambda p: _("Choose one of the decisions offered."),
    "reason": lambda p: _("Give a reason (it is kept in the audit log)."),
    "reason_length": lambda p: _("The reason is longer than %(limit)s characters.", **p),
    "unknown_school": lambda p: _("No school %(school)s in this campaign.", **p),
    "group": lambda p: _("%(group)s is not a group surveyed through schools.", **p),
    "not_open": lambda p: _(
        "The fieldwork is not open: a group can be surveyed again only while it is."
    ),
}


def decision_refused(refused: DecisionRefused) -> str:
    return _REFUSED[refused.code](refused.params)
