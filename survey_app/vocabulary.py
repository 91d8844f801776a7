"""The codes of the field (shared/domain.md), stored in the database as short strings.

Labels for people are translated in templates; the database and ``analysis/`` only see codes.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

RESPONDENT_GROUPS = ("student", "parent", "teacher", "principal", "deputy", "member", "resident")
STAGES = ("self", "provincial", "national")  # 自评 / 省级督导评估 / 国家认定
CAMPAIGN_STATUSES = ("draft", "open", "closed")
SCHOOL_LEVELS = ("primary", "junior", "nine_year", "teaching_point")
LOCATIONS = ("urban", "town", "rural")  # 城区 / 镇区 / 乡村
READING_LEVELS = ("primary", "junior")
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


def sql_in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint body limiting ``column`` to ``values``."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"
