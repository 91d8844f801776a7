"""The second stage: how many of each group answer at a selected school, out of how many.

Groups reached through schools and their population M at a school (the weight of a
respondent is 1/π × M/m, shared/statistics.md):

* students: pupils of grades 3-9 (the surveyed grades) from the frame's per-grade
  enrolments, else estimated from the school's level: all grades of a junior school,
  4 of 6 at a primary school, 7 of 9 at a nine-year school, half of a teaching point;
* parents: one answering parent per pupil of any grade (enrolment: siblings make this
  an overcount, which the weights inherit);
* teachers: the school's teachers; principals: one.

Respondents per school default to :data:`DEFAULT_RESPONDENTS` and are never more than
the school has. How to pick them on site (every k-th pupil on the class roll from a
random start) is on the supervisor's sheet for the school.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from survey_app.models import School
from survey_app.vocabulary import SCHOOL_GROUPS

DEFAULT_RESPONDENTS = {"student": 15, "parent": 15, "teacher": 5, "principal": 1}
SURVEYED_GRADES = ("3", "4", "5", "6", "7", "8", "9")
_SURVEYED_SHARE = {"primary": 4 / 6, "junior": 1.0, "nine_year": 7 / 9, "teaching_point": 0.5}


class RespondentsRefused(Exception):
    """Respondents per school asked for a group not reached through schools, or < 0."""


def population(school: School, group: str) -> int:
    """M: how many people of ``group`` the school has (see the module's docstring)."""
    if group == "student":
        grades = school.grade_enrolments or {}
        if grades:
            return sum(int(grades.get(grade, 0)) for grade in SURVEYED_GRADES)
        return math.floor(school.enrolment * _SURVEYED_SHARE[school.level])
    if group == "parent":
        return school.enrolment
    if group == "teacher":
        return school.teachers
    if group == "principal":
        return 1
    raise RespondentsRefused(f"{group} are not reached through schools")


def respondents_per_school(given: Mapping[str, int] | None) -> dict[str, int]:
    """The defaults with the groups given replaced (checked)."""
    chosen = dict(DEFAULT_RESPONDENTS)
    for group, n in (given or {}).items():
        if group not in SCHOOL_GROUPS:
            raise RespondentsRefused(
                f"{group} are not reached through schools (groups: {', '.join(SCHOOL_GROUPS)})"
            )
        if n < 0:
            raise RespondentsRefused(f"{group}: respondents per school are 0 or more")
        chosen[group] = n
    return chosen


def junior_share(school: School) -> float:
    """At a nine-year school, the share of surveyed pupils in grades 7-9 (the junior
    questionnaire): from the per-grade enrolments, else 3 of 7 grades."""
    grades = school.grade_enrolments or {}
    surveyed = sum(int(grades.get(grade, 0)) for grade in SURVEYED_GRADES)
    if not surveyed:
        return 3 / 7
    return sum(int(grades.get(grade, 0)) for grade in ("7", "8", "9")) / surveyed
