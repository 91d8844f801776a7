"""The codes of the field (shared/domain.md), stored in the database as short strings:
the one vocabulary of the models, the questionnaires, the command line and the tests.

Who answers (groups, reading levels) and in which language is defined once, in the
questionnaires' JSON Schema, because the questionnaire files are checked against it
without the app; it is read from there. The frame's and the campaign's codes are
defined here. Labels for people are translated in templates; the database and
``analysis/`` only see codes.
"""

from __future__ import annotations

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
CODE_STATUSES = ("issued", "used", "void")

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
    "CAMPAIGN_STATUSES",
    "CODE_STATUSES",
    "GROUP_LABELS",
    "LANGUAGES",
    "LOCATIONS",
    "READING_LEVELS",
    "RESPONDENT_GROUPS",
    "SCHOOL_LEVELS",
    "STAGES",
    "STUDENT",
    "sql_in",
    "stratum_code",
]


def stratum_code(location: str, school_level: str) -> str:
    """A school stratum's name, location × level, as the CLI and exports write it:
    ``rural-primary``."""
    return f"{location}-{school_level}"


def sql_in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint body limiting ``column`` to ``values``."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"
