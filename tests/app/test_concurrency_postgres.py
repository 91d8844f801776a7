"""Races on PostgreSQL, the production store, with real commits from parallel requests.

Runs when ``TEST_DATABASE_URL`` is set (CI sets it); otherwise it is reported as
skipped. It does not use the rolled-back ``app`` fixture: each request commits, so the
test cleans up its own rows.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest
from flask import Flask
from sqlalchemy import delete, func, select

from questionnaires import questionnaire_for
from survey_app.extensions import db
from survey_app.models import Answer, Campaign, OneTimeCode, Response, School, Stratum
from tests.app.conftest import Respondent, csrf_token
from tests.conftest import make_app, migrate_to_head
from tests.factories import make_campaign, make_codes, make_school

URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"), reason="TEST_DATABASE_URL is not PostgreSQL"
)


@pytest.fixture
def live(tmp_path) -> Iterator[tuple[Flask, Callable[[], str]]]:
    app = make_app(URL)
    migrate_to_head(app)
    with app.app_context():
        campaign = make_campaign(county_name="race")
        school = make_school(campaign)
        db.session.commit()
        campaign_id, school_id = campaign.id, school.id

    def new_code() -> str:
        with app.app_context():
            (code,) = make_codes(db.session.get(School, school_id))
            db.session.commit()
            return code

    yield app, new_code
    with app.app_context():
        for model in (Answer, Response, OneTimeCode, School, Stratum, Campaign):
            column = model.id if model is Campaign else model.campaign_id
            db.session.execute(delete(model).where(column == campaign_id))
        db.session.commit()
        db.engine.dispose()


def run_together(calls: list[Callable[[], None]]) -> None:
    start = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def runner(call: Callable[[], None]) -> None:
        start.wait()
        try:
            call()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=runner, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors


def started_respondent(app: Flask, code: str) -> tuple[Respondent, str]:
    respondent = Respondent(app.test_client())
    respondent.open(code)
    page = respondent.start()
    return respondent, csrf_token(page.text)


def twin(app: Flask, respondent: Respondent) -> Respondent:
    """A second tab of the same browser: same cookie."""
    other = Respondent(app.test_client())
    cookie = respondent.client.get_cookie("session")
    assert cookie is not None
    other.client.set_cookie("session", cookie.value)
    return other


def test_simultaneous_submits_store_one_response(live):
    app, new_code = live
    code = new_code()
    respondent, _token = started_respondent(app, code)
    from questionnaires import questionnaire_for

    items = questionnaire_for("parent").items_for("parent")
    per_page = app.config["ITEMS_PER_PAGE"]
    for number, start in enumerate(range(0, len(items), per_page), start=1):
        page = items[start : start + per_page]
        respondent.answer(number, {i.id: str(i.all_options()[0].code) for i in page})
    token = csrf_token(respondent.client.get("/review").text)
    tabs = [respondent, twin(app, respondent)]
    replies: list[tuple[int, str]] = []
    run_together([(lambda tab=tab: replies.append(_post_submit(tab, token))) for tab in tabs])
    # Both tabs see the thank-you page in the answer: one stored it, the other found
    # the code used by the same browser.
    assert replies == [(200, ""), (200, "")]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 1


def _post_submit(tab: Respondent, token: str) -> tuple[int, str]:
    reply = tab.client.post("/thanks", data={"csrf_token": token})
    assert '<h1 id="thanks">' in reply.text
    return reply.status_code, reply.location or ""


def test_parallel_saves_of_one_draft_lose_nothing(live):
    """A page save and per-tap autosaves of the same draft, all at once: each merges
    into what the others wrote (compare-and-swap on the code's revision, read again
    after a lost race), none overwrites another's answers."""
    app, new_code = live
    code = new_code()
    respondent, token = started_respondent(app, code)
    from questionnaires import questionnaire_for

    items = questionnaire_for("parent").items_for("parent")[:6]
    tabs = [respondent] + [twin(app, respondent) for _ in items[1:]]

    def autosave(tab: Respondent, item) -> Callable[[], None]:
        body = {"answers": {item.id: str(item.all_options()[0].code)}}
        return lambda: _expect_ok(
            tab.client.post("/draft", json=body, headers={"X-CSRFToken": token})
        )

    run_together([autosave(tab, item) for tab, item in zip(tabs, items, strict=True)])
    with app.app_context():
        row = db.session.scalars(select(OneTimeCode).order_by(OneTimeCode.id.desc())).first()
        assert set(row.draft["answers"]) == {item.id for item in items}


def _expect_ok(reply) -> None:
    assert reply.status_code == 200, reply.status_code


def test_screens_read_and_save_without_a_transaction_and_submit_in_one(live, monkeypatch):
    """``statements_stand_alone``: a screen's GET (its SELECT) and its POST (a SELECT
    and one compare-and-swap UPDATE) run in autocommit, with no BEGIN/COMMIT round trips
    and no row lock; the connection goes back to the pool in its normal mode, so the
    submit, on the same pooled connection, writes inside a transaction again."""
    app, new_code = live
    respondent, _token = started_respondent(app, new_code())
    modes: list[tuple[str, bool]] = []
    executes = psycopg.Cursor.execute

    def execute(cursor, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        # On the driver's cursor: the path's statements bypass SQLAlchemy's events.
        modes.append((str(query).split()[0], cursor.connection.autocommit))
        return executes(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    page = respondent.client.get("/q/1")
    assert page.status_code == 200
    assert modes == [("SELECT", True)]
    modes.clear()
    item = questionnaire_for("parent").items_for("parent")[0]
    saved = respondent.answer(1, {item.id: str(item.all_options()[0].code)})
    assert saved.status_code == 422  # one of five answered: the screen comes back
    # The GET for the form's token, then the POST: the row read, the draft saved.
    assert modes == [("SELECT", True), ("SELECT", True), ("UPDATE", True)]
    modes.clear()
    token = csrf_token(page.text)
    assert respondent.client.post("/thanks", data={"csrf_token": token}).status_code == 302
    # Incomplete: the submit read the code with a row lock, in a transaction.
    assert modes == [("SELECT", False)]
