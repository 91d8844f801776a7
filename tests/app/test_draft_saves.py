"""Saving a draft by compare-and-swap: a save that lost a race to another request reads
the row again and merges into it; nothing is written to a code submitted meanwhile.

Two requests are played here by two reads of the same code made before either writes
(what two tabs or a page save and an autosave do at once); the races themselves, with
real threads and commits on PostgreSQL, are in ``test_concurrency_postgres.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from questionnaires import questionnaire_for
from survey_app.respond import services

NOW = datetime.now(UTC)


def _items() -> list[str]:
    return [item.id for item in questionnaire_for("parent").items_for("parent")]


def _opened(issue) -> int:  # type: ignore[no-untyped-def]
    code = services.find_code(issue("parent"))
    assert services.claim_draft(code, NOW) is not None
    return code.id


def test_a_save_that_lost_a_race_merges_into_the_winner(app_ctx, issue):
    code_id = _opened(issue)
    first, second = _items()[:2]
    stale = services.usable_code(code_id, NOW)
    winner = services.usable_code(code_id, NOW)
    services.save_draft(winner, {first: 1}, NOW, comment="kept")
    draft = services.save_draft(stale, {second: 2}, NOW)
    assert draft.answers == {first: 1, second: 2}
    assert draft.comment == "kept"
    stored = services.usable_code(code_id, NOW)
    assert stored.draft is not None
    assert stored.draft["answers"] == {first: 1, second: 2}
    assert stored.revision == winner.revision + 1 == stale.revision


def test_each_save_moves_the_revision_on(app_ctx, issue):
    code_id = _opened(issue)
    before = services.usable_code(code_id, NOW).revision
    code = services.usable_code(code_id, NOW)
    for n, item in enumerate(_items()[:3], start=1):
        services.save_draft(code, {item: 1}, NOW)
        assert services.usable_code(code_id, NOW).revision == before + n


def test_nothing_is_saved_to_a_code_submitted_meanwhile(app_ctx, issue):
    code_id = _opened(issue)
    stale = services.usable_code(code_id, NOW)
    services.save_draft(
        services.usable_code(code_id, NOW), dict.fromkeys(_items(), 1), NOW, language="en"
    )
    services.submit_response(code_id, NOW, "en")
    with pytest.raises(services.CodeRefused) as refused:
        services.save_draft(stale, {_items()[0]: 2}, NOW)
    assert refused.value.reason == "used"


def test_of_two_browsers_opening_a_code_at_once_one_may_read_it(app_ctx, issue):
    typed = issue("parent")
    first, second = services.find_code(typed), services.find_code(typed)
    token = services.claim_draft(first, NOW)
    assert token is not None
    assert services.claim_draft(second, NOW) is None  # a visitor: may answer, not read
    # The stored claim is the first browser's: its token, and only it, reads the draft.
    assert services.may_see_answers(services.usable_code(first.id, NOW), token) is True


def test_a_save_losing_every_race_is_a_conflict(app_ctx, issue, monkeypatch):
    code_id = _opened(issue)
    code = services.usable_code(code_id, NOW)
    monkeypatch.setattr(services, "_write", lambda *_args: False)
    with pytest.raises(services.DraftConflict):
        services.save_draft(code, {_items()[0]: 1}, NOW)


def test_a_screen_that_cannot_be_saved_says_so_and_the_respondent_can_resend(
    app_ctx, respondent, issue, monkeypatch
):
    respondent.open(issue("parent"))
    respondent.start()
    item = questionnaire_for("parent").items_for("parent")[0]
    write = services._write
    monkeypatch.setattr(services, "_write", lambda *_args: False)
    refused = respondent.answer(1, {item.id: str(item.all_options()[0].code)})
    assert refused.status_code == 409
    monkeypatch.setattr(services, "_write", write)
    assert respondent.answer(1, {item.id: str(item.all_options()[0].code)}).status_code == 422
