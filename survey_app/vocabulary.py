"""The codes of the field (shared/domain.md), stored in the database as short strings:
the one vocabulary of the models, the questionnaires, the command line and the tests.

Who answers (groups, reading levels) and in which language is defined once, in the
questionnaires' JSON Schema, because the questionnaire files are checked against it
without the app; it is read from there. The frame's and the campaign's codes are
defined here. Labels for people are translated in templates; the database and
``analysis/`` only see codes.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from questionnaires import vocabulary as _questionnaire_vocabulary
from questionnaires.validation import STUDENT

RESPONDENT_GROUPS: tuple[str, ...] = _questionnaire_vocabulary("group")
READING_LEVELS: tuple[str, ...] = _questionnaire_vocabulary("reading_level")  # 小学, 初中
LANGUAGES: tuple[str, ...] = _questionnaire_vocabulary("language")  # zh_Hans first

STAGES = ("self", "provincial", "national")  # 自评 / 省级督导评估 / 国家认定
CAMPAIGN_STATUSES = ("draft", "open", "closed")
SCHOOL_LEVELS = ("primary", "junior", "nine_year", "teaching_point")
LOCATIONS = ("urban", "town", "rural")  # 城区 / 镇区 / 乡村
# A stratum of schools (location × level), of a list of people (deputies or members, each
# a sampling unit), or of an area whose residents answer through an open link.
STRATUM_KINDS = ("school", "list", "area")
# Groups reached through schools, through official lists, and through open links.
SCHOOL_GROUPS = ("student", "parent", "teacher", "principal")
LIST_GROUPS = ("deputy", "member")
OPEN_LINK_GROUPS = ("resident",)
CODE_STATUSES = ("issued", "used", "void")
VERDICT_RULES = ("confidence", "point")  # analysis.RecognitionRule.verdict
# A person's decision on a school's group the integrity checks flagged (models/integrity):
# keep its answers; set aside those submitted so far (evaluators); survey it again, the
# answers so far set aside (supervisors, while the fieldwork is open).
INTEGRITY_DECISIONS = ("keep", "set_aside", "resurvey")
# Staff: admin sees everything; a supervisor (督导) runs the fieldwork of the campaigns
# given to them; an evaluator (评估组) reads results of theirs, never codes or answers.
STAFF_ROLES = ("admin", "supervisor", "evaluator")

GROUP_LABELS = {
    "student": _l("Student"),
    "parent": _l("Parent"),
    "teacher": _l("Teacher"),
    "principal": _l("Principal"),
    "deputy": _l("People's congress deputy"),
    "member": _l("Political consultative member"),
    "resident": _l("Resident"),
}


__all__ = [
    "CAMPAIGN_KEY_PATTERN",
    "CAMPAIGN_STATUSES",
    "CAMPAIGN_STATUS_LABELS",
    "CODE_STATUSES",
    "GROUP_LABELS",
    "INTEGRITY_DECISIONS",
    "INTEGRITY_DECISION_LABELS",
    "LANGUAGES",
    "LIST_GROUPS",
    "LOCATIONS",
    "LOCATION_LABELS",
    "OPEN_LINK_GROUPS",
    "READING_LEVELS",
    "RESPONDENT_GROUPS",
    "ROLE_LABELS",
    "SCHOOL_GROUPS",
    "SCHOOL_LEVELS",
    "SCHOOL_LEVEL_LABELS",
    "STAFF_ROLES",
    "STAGES",
    "STRATUM_KINDS",
    "STAGE_LABELS",
    "VERDICT_RULES",
    "STUDENT",
    "area_stratum_code",
    "list_stratum_code",
    "sql_in",
    "stratum_code",
    "stratum_label",
]

STAGE_LABELS = {
    "self": _l("County self-evaluation"),
    "provincial": _l("Provincial supervision"),
    "national": _l("National certification"),
}
CAMPAIGN_STATUS_LABELS = {"draft": _l("In preparation"), "open": _l("Open"), "closed": _l("Closed")}
INTEGRITY_DECISION_LABELS = {
    "keep": _l("Keep the answers"),
    "set_aside": _l("Set the answers aside"),
    "resurvey": _l("Survey the group again"),
}
ROLE_LABELS = {
    "admin": _l("Administrator"),
    "supervisor": _l("Supervisor"),
    "evaluator": _l("Evaluator"),
}
LOCATION_LABELS = {"urban": _l("Urban"), "town": _l("Town"), "rural": _l("Rural")}
SCHOOL_LEVEL_LABELS = {
    "primary": _l("Primary school"),
    "junior": _l("Junior secondary school"),
    "nine_year": _l("Nine-year school"),
    "teaching_point": _l("Teaching point"),
}


# A campaign key: lower-case letters, digits, - and _ (typed on the command line, put in
# URLs); anything else is not a key, and is refused before any database look-up.
CAMPAIGN_KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"


def stratum_code(location: str, school_level: str) -> str:
    """A school stratum's name, location × level, as the CLI and exports write it:
    ``rural-primary``."""
    return f"{location}-{school_level}"


def stratum_label(code: str, areas: Mapping[str, str] | None = None) -> str:
    """A stratum's name for people, in their language (乡村小学, 人大代表名单, 片区 城关镇);
    its code (``rural-primary``) is what the CLI and exports write.  ``areas``: an area
    stratum's name as staff gave its open link (else its slug).  A code of no known
    form is shown as it is."""
    kind, _, rest = code.partition("-")
    if kind in LOCATION_LABELS and rest in SCHOOL_LEVEL_LABELS:
        return gettext(
            "%(level)s (%(location)s)",
            location=LOCATION_LABELS[kind],
            level=SCHOOL_LEVEL_LABELS[rest],
        )
    if kind == "list" and rest in GROUP_LABELS:
        return gettext("%(group)s list", group=GROUP_LABELS[rest])
    if kind == "area" and rest:
        return gettext("Area %(area)s", area=(areas or {}).get(code) or rest)
    return code


def list_stratum_code(respondent_group: str) -> str:
    """The stratum of a group drawn from its own list: ``list-deputy``, ``list-member``."""
    return f"list-{respondent_group}"


def area_stratum_code(slug: str) -> str:
    """The stratum of an open link's area: ``area-<slug>`` (the slug given by staff)."""
    return f"area-{slug}"


def sql_in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint body limiting ``column`` to ``values``."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"
