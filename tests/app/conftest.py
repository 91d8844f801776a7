"""Factories for the app tests: the demo county and codes issued in it."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select, text

from analysis import SurveyDesign
from questionnaires import questionnaire_for
from survey_app.auth import services as staff
from survey_app.codes import code_digest, normalise_code
from survey_app.demo import seed_demo_county
from survey_app.extensions import db
from survey_app.models import Campaign, OneTimeCode, School
from survey_app.plan.issuing import issue_codes
from survey_app.results import evaluation, report
from survey_app.results import page as results_page
from survey_app.results.loader import CampaignData
from survey_app.results.report_signing import make_self_signed
from tests.conftest import make_app, migrate_to_head
from tests.factories import make_surveyed_county

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of a rendered form (tests keep CSRF on, as in production)."""
    match = _TOKEN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


_SUBMIT_FORM = re.compile(r'<form method="post" action="([^"]+)" id="submit-form">')


def submit_action(html: str) -> str:
    """Where the review's form posts (the thank-you page's address)."""
    match = _SUBMIT_FORM.search(html)
    assert match, "page has no submit form"
    return match.group(1)


def is_thank_you_page(reply) -> bool:
    """The thank-you page itself, in the answer (not a redirect to it), in any language."""
    return reply.status_code == 200 and '<h1 id="thanks">' in reply.text


_START = re.compile(r'<a class="button primary" rel="next" href="([^"]+)"')


def start_link(html: str) -> str:
    """Where the welcome screen's start button leads."""
    match = _START.search(html)
    assert match, "page has no start link"
    return match.group(1)


def items_of(group: str, reading_level: str | None = None):
    return tuple(questionnaire_for(group, reading_level).items_for(group))


def screens(app, group: str, reading_level: str | None = None):
    items = items_of(group, reading_level)
    per_page = app.config["ITEMS_PER_PAGE"]
    return [items[i : i + per_page] for i in range(0, len(items), per_page)]


def first_option(item) -> str:
    return str(item.all_options()[0].code)


def answer_everything(app, respondent, group="parent", reading_level=None, value=None):
    pages = screens(app, group, reading_level)
    for number, page in enumerate(pages, start=1):
        answers = {item.id: value or first_option(item) for item in page}
        extra = {"comment": "操场太小"} if number == len(pages) else {}
        result = respondent.answer(number, answers, **extra)
        assert result.status_code == 302, result.text
    return pages


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def code_row(code: str) -> OneTimeCode:
    return db.session.scalar(
        select(OneTimeCode).where(OneTimeCode.digest == code_digest(normalise_code(code)))
    )


def same_as_r(found: dict, r: dict) -> None:
    """The platform's group rates and county score (``evaluation_json``) equal R's
    ``svyby``/``svycontrast`` figures (estimates and standard errors to 1e-9)."""
    assert {g["group"] for g in found["groups"]} == set(r["groups"])
    for group in found["groups"]:
        theirs = r["groups"][group["group"]]
        assert group["estimate"] == pytest.approx(theirs["estimate"], abs=1e-9)
        assert group["se"] == pytest.approx(theirs["se"], abs=1e-9)
    assert found["county"]["estimate"] == pytest.approx(r["county"]["estimate"], abs=1e-9)
    assert found["county"]["se"] == pytest.approx(r["county"]["se"], abs=1e-9)


def draft_is_valid_json_for_the_database() -> None:
    """PostgreSQL's JSON operators must read every stored draft (one bad draft used to
    break ``draft->>'lang'`` on the whole table). SQLite checks with ``json_valid``."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            text("SELECT draft->>'lang', draft->>'comment', draft->'answers' FROM one_time_code")
        ).all()
    else:
        bad = db.session.scalar(
            text(
                "SELECT count(*) FROM one_time_code"
                " WHERE draft IS NOT NULL AND NOT json_valid(draft)"
            )
        )
        assert bad == 0


@pytest.fixture
def campaign(app_ctx: None) -> Campaign:
    campaign = seed_demo_county(now=datetime.now(UTC))
    db.session.commit()
    return campaign


@pytest.fixture
def issue(campaign: Campaign) -> Callable[..., str]:
    """issue(group, level=None, expires_in=None) -> a fresh code at a school of the right level."""

    def _issue(
        group: str = "parent",
        school_level: str = "primary",
        expires_in: timedelta | None = None,
    ) -> str:
        school = db.session.scalar(
            db.select(School).filter_by(campaign_id=campaign.id, level=school_level).limit(1)
        )
        expires_at = datetime.now(UTC) + expires_in if expires_in is not None else None
        (code,) = issue_codes(school, group, 1, expires_at=expires_at)
        db.session.commit()
        return code

    return _issue


class Respondent:
    """A respondent's browser without JavaScript: follows links and posts forms."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def open(self, code: str, lang: str | None = None):
        query = f"?lang={lang}" if lang else ""
        return self.client.get(f"/r/{code}{query}", follow_redirects=True)

    def start(self):
        """Press the welcome screen's button: a link to the first open screen."""
        return self.client.get(start_link(self.client.get("/start").text))

    def answer(self, number: int, answers: dict[str, str], nav: str = "next", **extra: str):
        page = self.client.get(f"/q/{number}")
        data = {"csrf_token": csrf_token(page.text), "nav": nav, **answers, **extra}
        return self.client.post(f"/q/{number}", data=data)

    def autosave(self, body: object = None, *, data: bytes | str | None = None, **kwargs):
        """POST /draft as the page's script does: ``body`` as JSON, or raw ``data``."""
        token = csrf_token(self.client.get("/q/1").text)
        headers = {"X-CSRFToken": token, "Content-Type": "application/json"}
        payload = data if data is not None else json.dumps(body)
        return self.client.post("/draft", data=payload, headers=headers, **kwargs)

    def submit(self):
        """Press the review's Submit button."""
        page = self.client.get("/review")
        data = {"csrf_token": csrf_token(page.text)}
        return self.client.post(submit_action(page.text), data=data)


@pytest.fixture
def respondent(client: FlaskClient) -> Respondent:
    return Respondent(client)


@pytest.fixture
def make_respondent(app: Flask) -> Callable[[], Respondent]:
    return lambda: Respondent(app.test_client())


@pytest.fixture
def surveyed_county(app_ctx: None) -> Campaign:
    """A drawn county with responses through the real path (``make_surveyed_county``)."""
    return make_surveyed_county()


@pytest.fixture
def first_stage_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Evaluations on the schools' first stage alone (Brewer without the respondents'
    stage), which ``analysis`` flags with the ``pps_first_stage_only`` caveat: for the
    tests of how a caveat is shown, since the platform's own two-stage design raises
    none on the surveyed county. The results cache is emptied before and after."""

    def design_of(data: CampaignData) -> SurveyDesign:
        return SurveyDesign.from_arrays(
            weights=data.weights,
            strata=data.strata,
            cluster=data.psu,
            fpc=data.pi,
            pps="brewer",
            lonely_psu="adjust",
        )

    monkeypatch.setattr(evaluation, "design_of", design_of)
    results_page.forget()
    yield
    results_page.forget()


EVALUATOR_PASSWORD = "evaluator password"
SIGNING_PASSWORD = "test password"


@contextmanager
def empty_redis_db(number: int) -> Iterator[tuple[str, redis.Redis]]:
    """Database ``number`` of ``TEST_REDIS_URL``'s server, emptied before and after: its
    URL and a connection (the test is skipped without the variable, never passed)."""
    base = os.environ.get("TEST_REDIS_URL")
    if not base:
        pytest.skip("TEST_REDIS_URL not set")
    server = redis.Redis.from_url(base).connection_pool.connection_kwargs
    url = f"redis://{server.get('host', '127.0.0.1')}:{server.get('port', 6379)}/{number}"
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    try:
        yield url, connection
    finally:
        connection.flushdb()
        connection.close()


def committed_county_app(path: str, **config: Any) -> Flask:
    """An app on a SQLite file of its own (``path``), whose requests and background
    threads commit for real (a thread cannot use the rolled-back test connection), with
    the surveyed county and an evaluator, eval@example.org."""
    app = make_app(f"sqlite:///{path}", **config)
    migrate_to_head(app)
    with app.app_context():
        campaign = make_surveyed_county()
        staff.create_user("eval@example.org", "evaluator", EVALUATOR_PASSWORD, [campaign.key])
        db.session.commit()
    results_page.forget()
    return app


@pytest.fixture
def evaluator(client: FlaskClient, surveyed_county: Campaign) -> FlaskClient:
    """A signed-in evaluator given the surveyed county (results cache emptied)."""
    staff.create_user("eval@example.org", "evaluator", EVALUATOR_PASSWORD, [surveyed_county.key])
    db.session.commit()
    results_page.forget()
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "eval@example.org", "password": EVALUATOR_PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 302
    return client


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A self-signed report signing key (PKCS#12), made once."""
    path = tmp_path_factory.mktemp("signing") / "signing.p12"
    make_self_signed(str(path), SIGNING_PASSWORD, "Test report signing", datetime.now(UTC))
    return str(path)


@pytest.fixture
def signing(app: Flask, key_file: str, monkeypatch: pytest.MonkeyPatch) -> report.SigningKey:
    monkeypatch.setitem(app.config, "REPORT_SIGNING_P12", key_file)
    monkeypatch.setitem(app.config, "REPORT_SIGNING_PASSWORD", SIGNING_PASSWORD)
    return report.SigningKey(key_file, SIGNING_PASSWORD)


def pdf_text(pdf: bytes) -> str:
    """The text of every page of a PDF (pypdf), as a reader's copy would give it."""
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
