"""Cached campaign values built in the background (``survey_app.campaign_cache``): the
results page of a large campaign says its figures are coming, or shows those built last,
instead of building them in the request; a failed build is not retried until something
changes; with Redis one build serves every worker.

These run real build threads on a SQLite file of their own (the rolled-back test
database is one connection, which a second thread must not use), and Redis on db 12 of
``TEST_REDIS_URL``'s server (skipped without it, never passed).
"""

from __future__ import annotations

import gc
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from survey_app import campaign_cache
from survey_app.auth import services as staff
from survey_app.campaign_cache import CampaignCache, Fetched
from survey_app.extensions import db
from survey_app.models import Campaign
from survey_app.plan import audit
from survey_app.results import page as results_page
from survey_app.results.evaluation import NoResponses
from survey_app.results.labels import VERDICT_LABELS
from tests.app.conftest import (
    EVALUATOR_PASSWORD,
    committed_county_app,
    csrf_token,
    empty_redis_db,
)
from tests.conftest import make_app
from tests.factories import make_campaign

BUILDS_DB = 12  # these tests only: report jobs use 13, the benches 14, rate limits 15
CHANGE = "population_corrected"  # an audit action that changes the weights


@pytest.fixture
def threaded_app(tmp_path) -> Iterator[Flask]:
    """An app whose requests commit for real and whose builds run in a thread, with the
    surveyed county and an evaluator; its results pages wait for no build."""
    app = committed_county_app(
        f"{tmp_path}/builds.sqlite3", JOBS_REDIS_URL="", BUILD_WAIT_SECONDS=0.0
    )
    yield app
    results_page.forget()
    with app.app_context():
        db.engine.dispose()


def _sign_in(client: FlaskClient) -> None:
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "eval@example.org", "password": EVALUATOR_PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 302


def _campaign_key(app: Flask) -> str:
    with app.app_context():
        return db.session.scalars(select(Campaign.key)).one()


def _until(check: Callable[[], Any], seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)
    return found


def _fetch(app: Flask, cache: CampaignCache[Any], wait: float) -> Fetched[Any]:
    """``cache.fetch`` of the app's one campaign, in a request of its own."""
    with app.test_request_context():
        return cache.fetch(db.session.scalars(select(Campaign)).one(), wait=wait)


def _change_weights(app: Flask) -> None:
    with app.app_context():
        campaign = db.session.scalars(select(Campaign)).one()
        audit.record(campaign, CHANGE, {}, by="test")
        db.session.commit()


VERDICT = 'id="verdict-title"'
BUILDING = 'class="hint building"'


def test_the_first_view_says_the_figures_are_coming_then_shows_them(threaded_app):
    client = threaded_app.test_client()
    _sign_in(client)
    key = _campaign_key(threaded_app)
    first = client.get(f"/results/{key}/")
    assert first.status_code == 200
    assert BUILDING in first.text
    assert VERDICT not in first.text
    assert re.search(r'<meta http-equiv="refresh" content="\d+">', first.text)
    assert 'class="downloads"' in first.text  # the data need no figures: there already

    def built_page() -> str:
        page = client.get(f"/results/{key}/").text
        return page if VERDICT in page else ""

    shown = _until(built_page)
    assert BUILDING not in shown
    assert 'http-equiv="refresh"' not in shown


def test_after_a_change_the_figures_built_last_show_while_they_are_built_again(
    threaded_app, monkeypatch
):
    client = threaded_app.test_client()
    _sign_in(client)
    key = _campaign_key(threaded_app)
    _until(lambda: VERDICT in client.get(f"/results/{key}/").text)
    with threaded_app.app_context():
        responses = results_page._pages.key(db.session.scalars(select(Campaign)).one())[0]
    release = threading.Event()
    original = results_page._pages.build

    def slow(campaign: Campaign) -> results_page.ResultsPage:
        assert release.wait(60)
        return original(campaign)

    monkeypatch.setattr(results_page._pages, "build", slow)
    _change_weights(threaded_app)
    stale = client.get(f"/results/{key}/").text
    assert VERDICT in stale  # the figures built before the change
    assert stale.count('class="downloads"') == 1
    assert BUILDING in stale
    assert f"{responses}" in stale.split(BUILDING, 1)[1].split("</p>", 1)[0]
    assert 'http-equiv="refresh"' not in stale  # a page being read is not reloaded
    again = client.get(f"/results/{key}/").text  # the same build, not a second one
    assert BUILDING in again
    release.set()
    _until(lambda: BUILDING not in client.get(f"/results/{key}/").text)


def test_a_failed_build_is_raised_and_not_retried_until_something_changes(threaded_app, caplog):
    calls: list[int] = []

    def failing(campaign: Campaign) -> str:
        calls.append(campaign.id)
        raise RuntimeError("broken")

    cache: CampaignCache[str] = CampaignCache("failing", (CHANGE,), failing)
    with pytest.raises(RuntimeError, match="broken"):
        _fetch(threaded_app, cache, wait=60)
    with pytest.raises(RuntimeError, match="broken"):
        _fetch(threaded_app, cache, wait=60)
    assert len(calls) == 1
    assert "building the failing of campaign" in caplog.text
    _change_weights(threaded_app)
    with pytest.raises(RuntimeError):
        _fetch(threaded_app, cache, wait=60)
    assert len(calls) == 2


def test_a_failed_build_keeps_none_of_the_data_it_read(threaded_app):
    """The error is kept to be raised again, but not the build's frames, whose locals
    hold the campaign's data (a million responses: hundreds of MB)."""

    class Data:
        pass

    read: list[weakref.ref[Data]] = []

    def failing(campaign: Campaign) -> str:
        data = Data()
        read.append(weakref.ref(data))
        raise RuntimeError("broken after reading")

    # a refusal: not logged, so that no log record (pytest keeps them) holds the frames
    cache: CampaignCache[str] = CampaignCache("failing_data", (), failing, (RuntimeError,))
    with pytest.raises(RuntimeError):
        _fetch(threaded_app, cache, wait=60)
    gc.collect()
    assert read
    assert read[0]() is None


def test_a_refusal_is_shown_not_logged(threaded_app, caplog):
    def refused(campaign: Campaign) -> str:
        raise NoResponses("none")

    cache: CampaignCache[str] = CampaignCache("refused", (), refused, (NoResponses,))
    with pytest.raises(NoResponses):
        _fetch(threaded_app, cache, wait=60)
    assert "building the refused" not in caplog.text


def test_a_campaign_without_responses_says_so_at_once(threaded_app):
    with threaded_app.app_context():
        empty = make_campaign(key="empty")
        staff.create_user("other@example.org", "evaluator", EVALUATOR_PASSWORD, [empty.key])
        db.session.commit()
    client = threaded_app.test_client()
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "other@example.org", "password": EVALUATOR_PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 302
    page = client.get("/results/empty/").text
    assert BUILDING not in page
    assert "http-equiv" not in page


# -- several workers: one build, shared in Redis --------------------------------------


@pytest.fixture
def redis_db() -> Iterator[tuple[str, Any]]:
    with empty_redis_db(BUILDS_DB) as found:
        yield found


@pytest.fixture
def redis_url(redis_db) -> str:
    return redis_db[0]


@pytest.fixture
def workers(threaded_app, redis_url) -> Iterator[tuple[Flask, Flask]]:
    """Two gunicorn workers: two apps on the threaded app's database and one Redis."""
    url = threaded_app.config["SQLALCHEMY_DATABASE_URI"]
    first, second = (make_app(url, JOBS_REDIS_URL=redis_url) for _ in range(2))
    yield first, second
    for app in (first, second):
        with app.app_context():
            db.engine.dispose()


def test_workers_share_one_build_through_redis(workers):
    """Two workers: two apps on one database, each with its own process-local cache
    (two CampaignCache objects of one name) and the same Redis; the value that goes
    through Redis is a real results page."""
    calls: list[str] = []
    release = threading.Event()

    def counted(worker: str) -> Callable[[Campaign], results_page.ResultsPage]:
        def build(campaign: Campaign) -> results_page.ResultsPage:
            calls.append(worker)
            assert release.wait(60)
            return results_page.build_page(campaign)

        return build

    first, second = workers
    first_cache = CampaignCache("shared", (CHANGE,), counted("first"))
    second_cache = CampaignCache("shared", (CHANGE,), counted("second"))
    assert _fetch(first, first_cache, wait=0) == Fetched(None, current=False)
    _until(lambda: calls)
    # the first worker holds the build's lock: the second does not build too
    assert _fetch(second, second_cache, wait=0.3) == Fetched(None, current=False)
    release.set()
    fetched = _fetch(second, second_cache, wait=60)  # awaited in Redis
    assert calls == ["first"]
    assert fetched.current
    assert fetched.built is not None
    kept = _fetch(first, first_cache, wait=0)
    assert kept.built is not None
    assert fetched.built.value == kept.built.value  # the first worker's page, unpickled
    assert fetched.built.value.found["county"]["verdict"] in VERDICT_LABELS
    for app in workers:
        assert isinstance(app.extensions[campaign_cache.EXTENSION], campaign_cache.Builds)


def test_a_long_build_keeps_its_lock_and_a_dead_workers_lock_expires(
    workers, redis_db, monkeypatch
):
    """The lock lives LOCK_SECONDS (here 2 s) and is renewed while its build runs (here
    for 3.5 s): the other worker does not build meanwhile.  A lock left by a worker
    that died (set and never renewed) keeps the build away only until it expires."""
    _url, connection = redis_db
    # renewed every 0.2 s, the lock outlives a renewal thread kept waiting 1.8 s
    monkeypatch.setattr(campaign_cache, "LOCK_SECONDS", 2)
    monkeypatch.setattr(campaign_cache, "RENEW_SECONDS", 0.2)
    calls: list[str] = []
    release = threading.Event()

    def slow(worker: str) -> Callable[[Campaign], str]:
        def build(campaign: Campaign) -> str:
            calls.append(worker)
            assert release.wait(60)
            return worker

        return build

    first, second = workers
    first_cache = CampaignCache("locked", (), slow("first"))
    second_cache = CampaignCache("locked", (), slow("second"))
    with first.app_context():
        campaign_id = db.session.scalars(select(Campaign.id)).one()
    lock_key = campaign_cache._lock_key(first_cache, campaign_id)
    assert _fetch(first, first_cache, wait=0) == Fetched(None, current=False)
    _until(lambda: calls)
    time.sleep(3.5)  # past the lock's 2 s: renewed
    assert connection.exists(lock_key)
    assert _fetch(second, second_cache, wait=0) == Fetched(None, current=False)
    release.set()
    fetched = _fetch(second, second_cache, wait=60)
    assert fetched.built is not None
    assert fetched.built.value == "first"
    assert calls == ["first"]
    _until(lambda: not connection.exists(lock_key), seconds=10)  # freed when built

    dead = CampaignCache("dead", (), slow("second"))
    dead_key = campaign_cache._lock_key(dead, campaign_id)
    connection.set(dead_key, "a dead worker's token", px=1000)
    assert _fetch(second, dead, wait=0) == Fetched(None, current=False)
    assert calls == ["first"]  # not built: the lock is held
    _until(lambda: not connection.exists(dead_key), seconds=10)
    assert _fetch(second, dead, wait=60).built is not None
    assert calls == ["first", "second"]


def test_a_value_shared_after_the_view_looked_is_not_built_again(workers, redis_db):
    """The first worker shares its value and frees the lock between the second worker's
    look in Redis and its claim (here: the second's build started directly, after the
    first's ended): the second takes the lock, finds the value and does not build it
    again."""
    _url, connection = redis_db
    calls: list[str] = []

    def counted(worker: str) -> Callable[[Campaign], str]:
        def build(campaign: Campaign) -> str:
            calls.append(worker)
            return worker

        return build

    first, second = workers
    first_cache = CampaignCache("raced", (), counted("first"))
    second_cache = CampaignCache("raced", (), counted("second"))
    built = _fetch(first, first_cache, wait=60).built
    assert built is not None
    with first.app_context():
        campaign_id = db.session.scalars(select(Campaign.id)).one()
    assert not connection.exists(campaign_cache._lock_key(first_cache, campaign_id))
    running = campaign_cache.builds_of(second).start(second, second_cache, campaign_id)
    assert running is not None  # the lock was free: the second worker claimed it
    assert running.result(timeout=60) == built
    assert calls == ["first"]
    assert _fetch(second, second_cache, wait=0) == Fetched(built, current=True)


def test_a_build_that_fails_before_it_starts_still_frees_its_claim():
    """Not even an app context (here: no app): the claim, and so the lock other workers
    wait on, is released all the same."""
    claim = campaign_cache.Claim(None)
    cache: CampaignCache[str] = CampaignCache("never", (), lambda campaign: "never")
    with pytest.raises(AttributeError):
        campaign_cache.Builds()._run(object(), cache, 1, claim)  # type: ignore[arg-type]
    assert claim.released


def test_an_unreachable_redis_builds_in_the_worker_unshared(threaded_app):
    url = threaded_app.config["SQLALCHEMY_DATABASE_URI"]
    worker = make_app(url, JOBS_REDIS_URL="redis://127.0.0.1:1/0")
    cache: CampaignCache[str] = CampaignCache("unshared", (), lambda campaign: "here")
    fetched = _fetch(worker, cache, wait=60)
    assert fetched.current
    assert fetched.built is not None
    assert fetched.built.value == "here"
    with worker.app_context():
        db.engine.dispose()
