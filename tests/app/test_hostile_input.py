"""Regression tests for the hostile and clumsy input that once answered HTTP 500.

Each case was found against gunicorn and PostgreSQL (issue 6); each test runs on SQLite
and, in CI, on PostgreSQL, where NUL bytes and lone surrogates failed.
"""

from __future__ import annotations

import pytest

from survey_app.untrusted import MAX_JSON_DEPTH, clean_text, nested_deeper_than
from tests.app.conftest import (
    answer_everything,
    code_row,
    draft_is_valid_json_for_the_database,
    first_option,
    is_thank_you_page,
    screens,
)

NOT_OPTION_CODES = ["²", "--4", "1" * 5000, "٣", "+1", " 1 1", "1e0", "0x1", "१", "-0"]


@pytest.fixture
def started(app, respondent, issue):
    """A parent who has opened a code and passed the welcome page; returns the code."""
    code = issue("parent")
    respondent.open(code)
    respondent.start()
    return code


@pytest.mark.parametrize("value", NOT_OPTION_CODES)
def test_a_value_that_only_looks_numeric_is_dropped_and_the_rest_saved(
    app, respondent, started, value
):
    first, *others = screens(app, "parent")[0]
    answers = {first.id: value, **{item.id: first_option(item) for item in others}}
    result = respondent.answer(1, answers)
    assert result.status_code == 422  # the first question is still to answer
    assert set(code_row(started).draft["answers"]) == {item.id for item in others}


@pytest.mark.parametrize("value", [*NOT_OPTION_CODES, [1], {"a": 1}, True, 1.0, None, 10**400])
def test_autosave_drops_values_that_are_not_option_codes(app, respondent, started, value):
    first, second = screens(app, "parent")[0][:2]
    result = respondent.autosave({"answers": {first.id: value, second.id: first_option(second)}})
    assert result.status_code == 200
    assert result.json["saved"] == [second.id]


def test_autosave_takes_json_integers(app, respondent, started):
    first = screens(app, "parent")[0][0]
    code = int(first_option(first))
    assert respondent.autosave({"answers": {first.id: code}}).json["saved"] == [first.id]
    assert code_row(started).draft["answers"] == {first.id: code}


@pytest.mark.parametrize(
    "body",
    ["[" * 60_000, '{"answers": {"q01": ' + "[" * 25_000 + "]" * 25_000 + "}}", "{" * 30],
    ids=["open-arrays", "deep-answer", "open-objects"],
)
def test_deeply_nested_json_is_a_400(respondent, started, body):
    assert respondent.autosave(data=body).status_code == 400
    assert code_row(started).draft["answers"] == {}


def test_nesting_beyond_the_body_limit_is_a_413(respondent, started):
    assert respondent.autosave(data="[" * 100_000).status_code == 413


def test_nesting_is_measured_outside_strings_only():
    assert not nested_deeper_than('{"a": "' + "[" * 100 + '"}', MAX_JSON_DEPTH)
    assert not nested_deeper_than('["\\"' + "[" * 100 + '"]', MAX_JSON_DEPTH)
    assert nested_deeper_than('["\\\\"' + "[" * 100, MAX_JSON_DEPTH)
    assert not nested_deeper_than("[]" * 1000, MAX_JSON_DEPTH)
    assert nested_deeper_than("[" * (MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)
    assert not nested_deeper_than("[" * MAX_JSON_DEPTH, MAX_JSON_DEPTH)


def test_unstorable_characters_are_dropped():
    assert clean_text("before\x00after") == "beforeafter"
    assert clean_text("x\ud800y\udfff") == "xy"
    assert clean_text("行一\n行二\r\n\t缩进") == "行一\n行二\r\n\t缩进"
    assert clean_text("ئۇيغۇرچە 😀") == "ئۇيغۇرچە 😀"  # a real pair decodes to one character


def _submit_after(app, respondent, code: str) -> None:
    assert is_thank_you_page(respondent.submit())
    assert code_row(code).status == "used"


def test_nul_in_the_comment_on_the_last_page(app, respondent, started):
    pages = screens(app, "parent")
    for number, page in enumerate(pages, start=1):
        extra = {"comment": "before\x00after"} if number == len(pages) else {}
        respondent.answer(number, {item.id: first_option(item) for item in page}, **extra)
    assert code_row(started).draft["comment"] == "beforeafter"
    draft_is_valid_json_for_the_database()
    _submit_after(app, respondent, started)


@pytest.mark.parametrize("comment", ["before\x00after", "x\ud800y", "\udc00", "\x00"])
def test_unstorable_comment_through_autosave(app, respondent, started, comment):
    assert respondent.autosave({"answers": {}, "comment": comment}).status_code == 200
    draft_is_valid_json_for_the_database()
    answer_everything(app, respondent)  # its last page sends a comment of its own
    assert respondent.client.get("/review").status_code == 200
    assert respondent.autosave({"answers": {}, "comment": comment}).status_code == 200
    assert respondent.client.get("/review").status_code == 200
    last = len(screens(app, "parent"))
    assert respondent.client.get(f"/q/{last}").status_code == 200
    _submit_after(app, respondent, started)


def test_a_lone_surrogate_escape_is_dropped_as_sent_by_a_tool(respondent, started):
    raw = '{"answers": {}, "comment": "x\\ud800y"}'  # JSON escape, as a script sends it
    assert respondent.autosave(data=raw).status_code == 200
    assert code_row(started).draft["comment"] == "xy"
    draft_is_valid_json_for_the_database()


def test_a_huge_body_is_refused_before_it_is_read(app, respondent, started):
    pages = screens(app, "parent")
    last = {item.id: first_option(item) for item in pages[-1]}
    result = respondent.answer(len(pages), last, comment="长" * (16 * 1024 * 1024 // 3))
    assert result.status_code == 413
    assert code_row(started).draft["answers"] == {}
    huge = respondent.autosave({"answers": {}, "comment": "x" * (1024 * 1024)})
    assert huge.status_code == 413


def test_an_over_long_code_is_simply_not_found(client):
    assert client.get("/r/" + "A" * 3000).status_code == 404
