"""Property-based tests: whatever arrives at a respondent endpoint, the answer is a
2xx, 3xx or 4xx, never a 500; valid answers sent beside bad ones are saved; the code
can still be completed and submitted; every stored draft stays valid JSON for the
database. Run on SQLite and, in CI, on PostgreSQL (NUL and lone surrogates broke it).
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey_app.extensions import db
from tests.app.conftest import (
    Respondent,
    answer_everything,
    code_row,
    csrf_token,
    draft_is_valid_json_for_the_database,
    is_thank_you_page,
    screens,
)

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    # Each example issues its own code inside the test's (rolled-back) transaction, so
    # sharing the function-scoped fixtures between examples is deliberate.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a browser can send in a form (UTF-8: no lone surrogates) ...
form_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
# ... and what a script can put in JSON: any code point, surrogates and NUL included.
any_text = st.text(st.characters(exclude_categories=()), max_size=300)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**300, max_value=10**320),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalar = st.one_of(any_text, numbers, st.booleans(), st.none())
json_value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)
deep_brackets = st.integers(min_value=1, max_value=40_000).map(lambda n: "[" * n + "]" * n)
raw_body = st.one_of(st.binary(max_size=2000), form_text, deep_brackets)


def _started(app, issue) -> tuple[Respondent, str]:
    respondent = Respondent(app.test_client())
    code = issue("parent")
    respondent.open(code)
    respondent.start()
    return respondent, code


def _can_still_finish(app, respondent: Respondent, code: str) -> None:
    draft_is_valid_json_for_the_database()
    answer_everything(app, respondent)
    assert respondent.client.get("/review").status_code == 200
    assert is_thank_you_page(respondent.submit())
    assert code_row(code).status == "used"


@st.composite
def screen_post(draw, pages):
    """A question screen's POST: for each question a valid option, junk, or nothing;
    plus stray fields, a comment and a nav value of any kind."""
    number = draw(st.integers(min_value=1, max_value=len(pages)))
    fields: dict[str, str] = {}
    valid: dict[str, int] = {}
    for item in pages[number - 1]:
        codes = [option.code for option in item.all_options()]
        choice = draw(st.sampled_from(["valid", "junk", "absent"]))
        if choice == "valid":
            value = draw(st.sampled_from(codes))
            fields[item.id] = str(value)
            valid[item.id] = value
        elif choice == "junk":
            junk = draw(form_text | numbers.map(str))
            if junk.strip().isascii() and junk.strip().isdigit() and len(junk.strip()) <= 3:
                continue  # that would be a well-formed answer after all
            fields[item.id] = junk
    fields.update(draw(st.dictionaries(form_text, form_text, max_size=3)))
    fields.pop("csrf_token", None)
    for name in ("comment", "nav"):
        if draw(st.booleans()):
            fields[name] = draw(form_text)
    return number, fields, valid


@SETTINGS
@given(data=st.data())
def test_any_question_screen_post(app, issue, data):
    respondent, code = _started(app, issue)
    pages = screens(app, "parent")
    number, fields, valid = data.draw(screen_post(pages))
    token = csrf_token(respondent.client.get(f"/q/{number}").text)
    reply = respondent.client.post(f"/q/{number}", data={**fields, "csrf_token": token})
    assert reply.status_code < 500
    saved = code_row(code).draft["answers"]
    assert {k: saved.get(k) for k in valid} == valid
    assert set(saved) <= set(valid)
    _can_still_finish(app, respondent, code)


@SETTINGS
@given(
    answers=st.dictionaries(st.sampled_from(["q01", "q02", "q03", "x"]) | any_text, json_value),
    extra=st.dictionaries(any_text, json_value, max_size=3),
)
def test_any_autosave_object(app, issue, answers, extra):
    respondent, code = _started(app, issue)
    body = {**extra, "answers": answers}
    reply = respondent.autosave(data=json.dumps(body))  # ensure_ascii: lone surrogates escaped
    assert reply.status_code < 500
    first_screen = {item.id: item for item in screens(app, "parent")[0]}
    expected = {
        key: value
        for key, value in answers.items()
        if key in first_screen
        and (isinstance(value, int) and not isinstance(value, bool))
        and value in {option.code for option in first_screen[key].all_options()}
    }
    saved = code_row(code).draft["answers"]
    assert {k: saved.get(k) for k in expected} == expected
    _can_still_finish(app, respondent, code)


@SETTINGS
@given(
    body=raw_body,
    content_type=st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data",
        ]
    ),
)
def test_any_autosave_body(app, issue, body, content_type):
    respondent, code = _started(app, issue)
    token = csrf_token(respondent.client.get("/q/1").text)
    headers = {"X-CSRFToken": token, "Content-Type": content_type}
    reply = respondent.client.post("/draft", data=body, headers=headers)
    assert reply.status_code < 500
    _can_still_finish(app, respondent, code)


ENDPOINTS = ["/", "/start", "/q/1", "/q/3", "/q/0", "/q/99999999999", "/review", "/submit"]
ENDPOINTS += ["/thanks", "/draft", "/r/ZZZZZ-ZZZZZ-ZZZZZ", "/o/ZZZZZZZZZZZZ"]


@SETTINGS
@given(
    path=st.sampled_from(ENDPOINTS),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
    query=st.dictionaries(form_text, form_text, max_size=3),
    body=raw_body,
    with_token=st.booleans(),
    content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", None]),
)
def test_any_request_to_any_endpoint(
    app, issue, path, method, query, body, with_token, content_type
):
    respondent, code = _started(app, issue)
    headers = {"Content-Type": content_type} if content_type else {}
    if with_token:
        token = csrf_token(respondent.client.get("/q/1").text)
        headers["X-CSRFToken"] = token
    reply = respondent.client.open(
        path, method=method, query_string=query, data=body, headers=headers
    )
    assert reply.status_code < 500
    _can_still_finish(app, respondent, code)


@SETTINGS
@given(typed=form_text, in_link=st.text(st.characters(exclude_categories=("Cs",)), min_size=1))
def test_any_typed_or_linked_code(app, client, typed, in_link):
    token = csrf_token(client.get("/").text)
    assert client.post("/", data={"csrf_token": token, "code": typed}).status_code < 500
    assert client.get("/r/" + quote(in_link, safe="")).status_code < 500


@pytest.mark.parametrize("lang", ["ug", "zh_Hant", "en", "xx", "\x00", "../../etc"])
def test_language_choice_is_never_a_500(app, issue, lang):
    respondent, code = _started(app, issue)
    assert respondent.client.get("/q/1", query_string={"lang": lang}).status_code == 200
    _can_still_finish(app, respondent, code)


@SETTINGS
@given(
    in_link=st.text(st.characters(exclude_categories=("Cs",)), min_size=1),
    data=st.dictionaries(form_text, form_text, max_size=4),
    real=st.booleans(),
    with_token=st.booleans(),
)
def test_any_open_link_request(app, campaign, in_link, data, real, with_token):
    """Whatever a phone sends to an open link: never a 500, never past the quota."""
    from survey_app.demo import demo_open_link

    link = demo_open_link(campaign)
    client = app.test_client()
    path = f"/o/{link.token}" if real else "/o/" + quote(in_link, safe="")
    page = client.get(path)
    assert page.status_code < 500
    if with_token and page.status_code == 200:
        data = {**data, "csrf_token": csrf_token(page.text)}
    assert client.post(path, data=data).status_code < 500
    db.session.refresh(link)
    assert 0 <= link.reserved <= link.quota
