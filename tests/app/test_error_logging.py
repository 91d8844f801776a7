"""A failed database write is logged without what the respondent sent."""

from __future__ import annotations

import dataclasses
import logging

from questionnaires import questionnaire_for
from survey_app.respond import services
from tests.app.conftest import answer_everything, count

MARKER = "评论里的秘密-7QX"  # a respondent's comment that must never reach a log


def test_a_failed_insert_leaves_no_answer_or_comment_in_the_log(
    app, respondent, issue, monkeypatch, caplog, capfd
):
    # A questionnaire version the database refuses (CHECK questionnaire_version >= 1):
    # the INSERT of the response, comment and all, fails inside the database.
    broken = dataclasses.replace(questionnaire_for("parent"), version=0)
    monkeypatch.setattr(services, "questionnaire_of", lambda code: broken)
    code = issue("parent")
    respondent.open(code)
    respondent.start()
    pages = answer_everything(app, respondent)
    respondent.answer(len(pages), {}, comment=MARKER)
    from survey_app.models import Response

    caplog.set_level(logging.DEBUG)
    result = respondent.submit()

    assert result.status_code == 500
    assert count(Response) == 0
    logged = caplog.text + "".join(capfd.readouterr())
    assert "IntegrityError" in logged  # the failure itself is logged...
    assert MARKER not in logged  # ...but not the comment,
    assert "parameters" not in logged.lower()  # nor any statement parameter,
    assert "Failing row" not in logged  # nor PostgreSQL's copy of the row.
