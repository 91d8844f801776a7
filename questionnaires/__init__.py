"""The survey instruments (学生卷, 校长教师卷, 社会卷) as validated, versioned data.

Pure: YAML files, a JSON Schema and a loader; no Flask, no database (see ruff.toml).

- :func:`questionnaire_for` gives the questionnaire a respondent group answers, and
  :func:`published_for` its newest published version (what respondents are served);
- :func:`load_all` / :func:`load_questionnaire` / :func:`load_version` load files;
- :func:`check_all` lists every problem (what ``flask questionnaires check`` prints);
- :func:`publish` freezes a version before it is answered (see ``published.py``).
"""

from __future__ import annotations

from questionnaires.loader import (
    check_all,
    content_hash,
    load_all,
    load_questionnaire,
    load_version,
    publish,
    published_for,
    questionnaire_for,
)
from questionnaires.model import (
    Comment,
    Item,
    Option,
    Problem,
    Questionnaire,
    QuestionnaireError,
    Scale,
    Translations,
)
from questionnaires.validation import area_label, vocabulary

__all__ = [
    "Comment",
    "Item",
    "Option",
    "Problem",
    "Questionnaire",
    "QuestionnaireError",
    "Scale",
    "Translations",
    "area_label",
    "check_all",
    "content_hash",
    "load_all",
    "load_questionnaire",
    "load_version",
    "publish",
    "published_for",
    "questionnaire_for",
    "vocabulary",
]
