"""The supervisor's refusals in the staff's language.

Services say why they refuse with a code (``frame_import.REASONS``,
``campaigns.REASONS``: the command line prints their English); pages show the same
reasons translated, with literal message ids so that ``pybabel extract`` finds them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask_babel import gettext as _

from survey_app.plan.campaigns import CampaignRefused
from survey_app.plan.campaigns import ClosingRefused as CampaignClosingRefused
from survey_app.plan.changes import ChangeRefused
from survey_app.plan.draw import DrawRefused
from survey_app.plan.frame_import import FrameLocked, Problem
from survey_app.vocabulary import GROUP_LABELS, stratum_label

Params = Mapping[str, object]

_FRAME: dict[str, Callable[[Params], str]] = {
    "text_length": lambda p: _("%(low)d-%(high)d characters", **p),
    "level": lambda p: _(
        "one of 小学, 初中, 九年一贯制学校, 教学点 (or primary, junior, nine_year, teaching_point)"
    ),
    "location": lambda p: _("one of 城区, 镇区, 乡村 (or urban, town, rural)"),
    "count": lambda p: _("not a whole number ≥ 0"),
    "grades_exceed": lambda p: _("smaller than the pupils of its grades (%(pupils)d)", **p),
    "duplicate": lambda p: _("already on line %(first)d", **p),
    "missing_column": lambda p: _("missing column (%(names)s)", **p),
    "twice": lambda p: _("the column appears twice"),
    "empty": lambda p: _("the file is empty"),
    "no_schools": lambda p: _("the file has no schools"),
    "too_many": lambda p: _("more than %(limit)d schools", **p),
    "not_csv": lambda p: _("not readable as CSV"),
    "binary": lambda p: _("not a CSV text file (save the sheet as CSV or XLSX)"),
    "not_xlsx": lambda p: _("not a readable XLSX workbook"),
}

_CAMPAIGN: dict[str, Callable[[Params], str]] = {
    "key_format": lambda p: _(
        "1-40 lower-case letters, digits, - or _, starting with a letter or digit"
    ),
    "key_taken": lambda p: _("a campaign with the key %(key)s exists already", **p),
    "county_code": lambda p: _("six digits (GB/T 2260 code of the county)"),
    "county_name": lambda p: _("1-80 characters"),
    "stage": lambda p: _("choose a stage"),
    "population": lambda p: _("a whole number of residents above 0"),
    "window": lambda p: _("the fieldwork cannot close before it opens"),
    "threshold": lambda p: _("a share between 0 and 1, e.g. 0.85"),
    "rule": lambda p: _("choose a verdict rule"),
    "weight_group": lambda p: _("unknown group %(group)s", **p),
    "weight_negative": lambda p: _("weights are shares of 0 or more"),
    "weight_sum": lambda p: _("the weights add up to %(total)s, not 1", **p),
    "not_draft": lambda p: _(
        "The fieldwork has opened: the campaign's settings can no longer change."
    ),
}


def frame_problem(problem: Problem) -> str:
    """``第 7 行，enrolment：不是 ≥ 0 的整数``, in the staff's language."""
    reason = _FRAME[problem.code](dict(problem.params))
    if problem.column:
        return _(
            "line %(line)d, %(column)s: %(reason)s",
            line=problem.line,
            column=problem.column,
            reason=reason,
        )
    return _("line %(line)d: %(reason)s", line=problem.line, reason=reason)


def frame_locked(error: FrameLocked) -> str:
    if error.codes_issued:
        return _(
            "%(n)d codes have been issued for this campaign's schools: "
            "the frame can no longer be replaced.",
            n=error.codes_issued,
        )
    if error.drawn:
        return _("The schools have been drawn from this frame: it can no longer be replaced.")
    return _("Fieldwork has begun: the frame can no longer be replaced.")


def draw_refused(error: DrawRefused) -> str:
    if error.code == "too_many":
        return _(
            "Stratum %(stratum)s has %(n)d schools with pupils: it cannot draw %(asked)d.",
            **{**error.params, "stratum": stratum_label(str(error.params["stratum"]))},
        )
    if error.code == "frozen":
        return _("Codes have been issued or fieldwork has begun: the draw is frozen.")
    if error.code == "no_frame":
        return _("Import the school frame first.")
    return _("This draw cannot be made: %(reason)s", reason=str(error))


def not_a_count(stratum: str) -> str:
    """``stratum``: the stratum's code, named on the page by its label."""
    return _("Stratum %(stratum)s: give a whole number of schools.", stratum=stratum_label(stratum))


def not_a_respondent_count(group: str) -> str:
    return _(
        "Respondents per school, %(group)s: give a whole number (0: none of them).",
        group=GROUP_LABELS[group],
    )


def campaign_refused(error: CampaignRefused) -> str:
    return _CAMPAIGN[error.code](error.params)


_CHANGE: dict[str, Callable[[Params], str]] = {
    "no_plan": lambda p: _("The schools have not been drawn yet."),
    "not_frozen": lambda p: _(
        "The plan is not frozen yet (no codes issued, fieldwork not open): "
        "import the frame again or draw the schools again instead."
    ),
    "closed": lambda p: _("The fieldwork is closed: schools can no longer be replaced."),
    "reason": lambda p: _("Give a reason: it is kept in the audit log."),
    "reason_length": lambda p: _("The reason is longer than %(limit)s characters.", **p),
    "unknown_school": lambda p: _("No school %(school)s in this draw.", **p),
    "not_selected": lambda p: _(
        "School %(school)s was not drawn: only a drawn school can be replaced.", **p
    ),
    "refused_already": lambda p: _("School %(school)s has refused already and was replaced.", **p),
    "not_stratum": lambda p: _(
        "Substitute %(substitute)s is not in stratum %(stratum)s of %(school)s.", **p
    ),
    "substitute_selected": lambda p: _("Substitute %(substitute)s was drawn itself.", **p),
    "substitute_taken": lambda p: _(
        "Substitute %(substitute)s replaces another school already.", **p
    ),
    "substitute_empty": lambda p: _("Substitute %(substitute)s has no pupils.", **p),
    "no_substitute": lambda p: _(
        "Stratum %(stratum)s has no undrawn school with pupils left.", **p
    ),
    "not_in_field": lambda p: _(
        "School %(school)s is not in the field (not drawn, or refused).", **p
    ),
    "group": lambda p: _("Choose a group of the schools' quotas."),
    "population": lambda p: _("A population is a whole number from 0 to %(limit)s.", **p),
    "unchanged": lambda p: _("The population is %(population)s already.", **p),
}


def change_refused(error: ChangeRefused) -> str:
    """Why a change to the frozen plan was refused (``changes.REASONS``), translated."""
    return _CHANGE[error.code](error.params)


_CLOSING: dict[str, Callable[[Params], str]] = {
    "closed": lambda p: _("The campaign is closed: its window can no longer change."),
    "before_opening": lambda p: _("The fieldwork cannot close before it opens (%(opens)s).", **p),
    "past": lambda p: _("An open fieldwork cannot close in the past: close it now instead."),
    "same": lambda p: _("The fieldwork already closes on that day."),
    "reason": _CHANGE["reason"],
    "reason_length": _CHANGE["reason_length"],
}


def closing_refused(error: CampaignClosingRefused) -> str:
    """Why the fieldwork's last day could not move, translated (``ClosingRefused``)."""
    return _CLOSING[error.code](error.params)
