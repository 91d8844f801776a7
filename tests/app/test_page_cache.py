"""Respondent pages laid out once and filled in per request (``respond/page_cache``) are
the pages a fresh render gives, whatever was laid out before them."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from survey_app.respond import page_cache
from tests.app.conftest import _TOKEN, Respondent, csrf_token, first_option, screens


def _layouts(app: Flask) -> dict:
    return app.extensions.setdefault("respond_page_layouts", {})


def _signed_token_aside(html: str) -> str:
    """The page with its CSRF token's value left out: the token is signed with the
    second it was made in, so two renders a second apart differ there by design."""
    return _TOKEN.sub('name="csrf_token" type="hidden" value=""', html)


def _same_as_fresh(app: Flask, client: FlaskClient, path: str, text: str) -> None:
    """``text`` (served with whatever layouts the worker had) equals ``path`` rendered
    with none kept: a key that missed something a page reads would show here."""
    _layouts(app).clear()
    again = client.get(path)
    assert _signed_token_aside(again.text) == _signed_token_aside(text), path


def _look(app: Flask, client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, path
    _same_as_fresh(app, client, path, page.text)
    return page.text


def test_every_state_of_every_page_equals_a_fresh_render(app, issue):
    pages = screens(app, "parent")
    last = len(pages)
    owner = Respondent(app.test_client())
    code = issue("parent")
    for language in app.config["LANGUAGES"]:
        owner.open(code, lang=language)
        _look(app, owner.client, "/start")
        for number in range(1, last + 1):
            _look(app, owner.client, f"/q/{number}")
        _look(app, owner.client, "/review")  # every answer missing
    first = pages[0]
    # Half of the first screen: the screen again with the rest marked missing (422).
    token = csrf_token(owner.client.get("/q/1").text)
    half = {first[0].id: first_option(first[0])}
    shown = owner.client.post("/q/1", data={"csrf_token": token, "nav": "next", **half})
    assert shown.status_code == 422
    _layouts(app).clear()
    again = owner.client.post("/q/1", data={"csrf_token": token, "nav": "next", **half})
    assert _signed_token_aside(again.text) == _signed_token_aside(shown.text)
    for number, page in enumerate(pages, start=1):
        answers = {item.id: first_option(item) for item in page}
        extra = {"comment": "操场<太小> & 桌椅旧"} if number == last else {}
        owner.answer(number, answers, **extra)
        text = _look(app, owner.client, f"/q/{number}")
        assert text.count(" checked>") == len(page)  # the saved choices shown again
    review = _look(app, owner.client, "/review")
    assert "操场&lt;太小&gt; &amp; 桌椅旧" in review
    assert 'id="submit"' in review
    _look(app, owner.client, "/start")  # resuming
    # Another phone with the same code: answers kept but not shown to it.
    visitor = Respondent(app.test_client())
    visitor.open(code)
    for path in ("/start", "/q/1", f"/q/{last}", "/review"):
        text = _look(app, visitor.client, path)
        assert "操场" not in text
    # Then the two phones in turn, with the layouts of the other kept.
    for client in (owner.client, visitor.client, owner.client):
        for path in ("/start", "/q/1", f"/q/{last}", "/review"):
            _look(app, client, path)
    # The thank-you page: the submit's answer, then the page on its own in each language.
    done = owner.submit()
    assert done.status_code == 200
    _same_as_fresh(app, owner.client, "/thanks", done.text)
    for language in app.config["LANGUAGES"]:
        _look(app, owner.client, f"/thanks?lang={language}")


def test_each_phone_gets_its_own_csrf_token_and_choices(app, issue):
    first, second = Respondent(app.test_client()), Respondent(app.test_client())
    item = screens(app, "parent")[0][0]
    first.open(issue("parent"))
    second.open(issue("parent"))
    first.answer(1, {item.id: first_option(item)}, nav="back")
    one, two = first.client.get("/q/1").text, second.client.get("/q/1").text
    assert csrf_token(one) != csrf_token(two)
    assert one.count(" checked") == 1
    assert two.count(" checked") == 0


def test_layouts_kept_are_bounded(app, issue, monkeypatch):
    monkeypatch.setattr(page_cache, "MAX_LAYOUTS", 2)
    _layouts(app).clear()
    respondent = Respondent(app.test_client())
    respondent.open(issue("parent"))
    for path in ("/start", "/q/1", "/q/2", "/review", "/q/1"):
        assert respondent.client.get(path).status_code == 200
        assert len(_layouts(app)) <= 2
