"""The certification report made as a background job: started by a POST, followed on a
progress page, downloaded when done, and its status shown to no one else.

Three ways the job runs: in the request's thread (the rolled-back test database is one
connection, which a second thread must not use), in a real thread of the embedded
default on a SQLite file of its own, and on RQ with a real Redis (db 13 of
``TEST_REDIS_URL``'s server; skipped without it, never passed).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select

from survey_app.auth import services as staff
from survey_app.extensions import db
from survey_app.models import AuditEvent, Campaign, CertificationReport
from survey_app.results import report, report_jobs
from survey_app.transactions import read_only
from tests.app.conftest import (
    EVALUATOR_PASSWORD,
    SIGNING_PASSWORD,
    committed_county_app,
    csrf_token,
    empty_redis_db,
)
from tests.factories import make_campaign, make_surveyed_county

JOBS_DB = 13  # the report jobs' tests only: the rate-limit tests use 15, the benches 14
_PROGRESS = re.compile(r"/results/[^/]+/report/jobs/([A-Za-z0-9_-]+)$")


class InlineJobs(report_jobs.InProcessJobs):
    """The in-process backend running each job at once, in the request's thread."""

    def start(self, app: Flask, job: report_jobs.ReportJob) -> None:
        self._put(job)
        self._run(app, job)


@pytest.fixture
def inline_jobs(
    app: Flask, signing: report.SigningKey, monkeypatch: pytest.MonkeyPatch
) -> InlineJobs:
    backend = InlineJobs()
    monkeypatch.setitem(app.extensions, report_jobs.EXTENSION, backend)
    return backend


def _sign_in(client: FlaskClient, email: str) -> None:
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": email, "password": EVALUATOR_PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 302


def _start(client: FlaskClient, key: str) -> str:
    """Press the results page's button; the job's id, from the 303's location."""
    token = csrf_token(client.get(f"/results/{key}/").text)
    reply = client.post(f"/results/{key}/report", data={"csrf_token": token})
    assert reply.status_code == 303, reply.text[:500]
    found = _PROGRESS.search(reply.location)
    assert found, reply.location
    return found.group(1)


def _download(client: FlaskClient, key: str, page: str) -> bytes:
    """Press the progress page's download button (its form, its token, its field)."""
    public_id = re.search(r'name="report" value="([^"]+)"', page)
    assert public_id, page[:2000]
    data = {"csrf_token": csrf_token(page), "report": public_id.group(1)}
    reply = client.post(f"/results/{key}/reports/download", data=data)
    assert reply.status_code == 200
    assert reply.mimetype == "application/pdf"
    return reply.data


def _audit(campaign_id: int) -> list[tuple[str, str, dict[str, object]]]:
    rows = db.session.execute(
        select(AuditEvent.action, AuditEvent.actor, AuditEvent.details)
        .where(AuditEvent.campaign_id == campaign_id)
        .order_by(AuditEvent.id)
    ).all()
    return [(action, actor, details) for action, actor, details in rows]


def _check_issued_and_downloaded(campaign_id: int, pdf: bytes) -> None:
    stored = db.session.scalar(
        select(CertificationReport).where(CertificationReport.campaign_id == campaign_id)
    )
    assert stored is not None
    assert stored.issued_by == "eval@example.org"
    assert pdf == stored.pdf
    assert report.sha256_hex(pdf) == stored.sha256
    events = _audit(campaign_id)
    issued = [(who, d) for a, who, d in events if a == report.ISSUED]
    assert issued == [
        (
            "eval@example.org",
            {"report": stored.public_id, "sha256": stored.sha256, "bytes": len(pdf)},
        )
    ]
    downloads = [(who, d) for a, who, d in events if a == report.DOWNLOADED]
    assert downloads == [("eval@example.org", {"report": stored.public_id})]


def test_start_progress_done_download_in_process(evaluator, surveyed_county, inline_jobs):
    key = surveyed_county.key
    job = _start(evaluator, key)
    page = evaluator.get(f"/results/{key}/report/jobs/{job}")
    assert page.status_code == 200
    assert 'data-stage="done"' in page.text
    assert 'http-equiv="refresh"' not in page.text  # finished: no more refreshing
    status = evaluator.get(f"/results/{key}/report/jobs/{job}.json").get_json()
    assert status["stage"] == "done"
    assert status["finished"] is True
    assert status["error"] is None
    assert status["report"] in page.text
    pdf = _download(evaluator, key, page.text)
    _check_issued_and_downloaded(surveyed_county.id, pdf)
    listed = evaluator.get(f"/results/{key}/").text
    assert status["report"] in listed  # the results page lists it for downloading again


def test_the_progress_page_refreshes_while_the_job_runs(evaluator, surveyed_county, signing):
    """A job not yet started: its stage, the stages to come, and a <meta refresh>."""

    class Waiting(report_jobs.InProcessJobs):
        def start(self, app: Flask, job: report_jobs.ReportJob) -> None:
            self._put(job)

    app = evaluator.application
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(app.extensions, report_jobs.EXTENSION, Waiting())
        job = _start(evaluator, surveyed_county.key)
        page = evaluator.get(f"/results/{surveyed_county.key}/report/jobs/{job}")
        status = evaluator.get(f"/results/{surveyed_county.key}/report/jobs/{job}.json")
    assert page.status_code == 200
    assert 'data-stage="queued"' in page.text
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert 'aria-current="step"' in page.text
    assert status.get_json() == {
        "stage": "queued",
        "label": status.get_json()["label"],
        "finished": False,
        "report": None,
        "sha256": None,
        "error": None,
        "message": None,
    }
    assert db.session.scalar(select(CertificationReport)) is None


def test_a_job_without_responses_fails_with_its_reason(app, evaluator, inline_jobs):
    empty = make_campaign()
    staff.create_user("other-eval@example.org", "evaluator", EVALUATOR_PASSWORD, [empty.key])
    db.session.commit()
    client = app.test_client()
    _sign_in(client, "other-eval@example.org")
    token = csrf_token(client.get(f"/results/{empty.key}/").text)
    reply = client.post(f"/results/{empty.key}/report", data={"csrf_token": token})
    assert reply.status_code == 409  # refused before any job: nothing to evaluate
    job = report_jobs.new_job(empty, 1, "x")
    failed: dict[str, object] = {}
    with app.app_context():
        report_jobs.make_report(job, failed.update)
    assert failed == {"stage": "failed", "error": "no_responses"}


def test_the_status_is_shown_only_to_whoever_started_the_job(
    app, evaluator, surveyed_county, inline_jobs
):
    key = surveyed_county.key
    job = _start(evaluator, key)
    assert evaluator.get(f"/results/{key}/report/jobs/{job}").status_code == 200
    # Another evaluator of the same campaign, and an admin: no such job for them.
    staff.create_user("colleague@example.org", "evaluator", EVALUATOR_PASSWORD, [key])
    staff.create_user("admin@example.org", "admin", EVALUATOR_PASSWORD, [])
    # The same evaluator's other campaign: the job is not under it.
    other = make_surveyed_county()
    staff.create_user("both@example.org", "evaluator", EVALUATOR_PASSWORD, [key, other.key])
    db.session.commit()
    for email in ("colleague@example.org", "admin@example.org"):
        client = app.test_client()
        _sign_in(client, email)
        assert client.get(f"/results/{key}/report/jobs/{job}").status_code == 404
        assert client.get(f"/results/{key}/report/jobs/{job}.json").status_code == 404
    assert evaluator.get(f"/results/{other.key}/report/jobs/{job}").status_code == 404
    # Made-up, malformed and overlong ids: 404, never an error.
    for bad in ("nope", "x" * 300, "%00", "..%2f..", "a.b"):
        assert evaluator.get(f"/results/{key}/report/jobs/{bad}").status_code == 404
        assert evaluator.get(f"/results/{key}/report/jobs/{bad}.json").status_code == 404
    # Signed out: to the sign-in page; a supervisor of the campaign: refused.
    staff.create_user("sup@example.org", "supervisor", EVALUATOR_PASSWORD, [key])
    db.session.commit()
    anonymous = app.test_client()
    reply = anonymous.get(f"/results/{key}/report/jobs/{job}")
    assert reply.status_code == 302
    assert reply.location.startswith("/staff/login")
    supervisor = app.test_client()
    _sign_in(supervisor, "sup@example.org")
    assert supervisor.get(f"/results/{key}/report/jobs/{job}.json").status_code == 403


def test_starting_a_job_needs_the_csrf_token(evaluator, surveyed_county, inline_jobs):
    reply = evaluator.post(f"/results/{surveyed_county.key}/report")
    assert reply.status_code == 400
    assert db.session.scalar(select(CertificationReport)) is None


@pytest.fixture
def backend_from_config(app: Flask) -> Iterator[None]:
    """The app makes its job backend from the config on first use, and forgets it after."""
    app.extensions.pop(report_jobs.EXTENSION, None)
    yield
    app.extensions.pop(report_jobs.EXTENSION, None)


def test_an_unreachable_queue_is_a_503_not_an_error(
    app, evaluator, surveyed_county, signing, backend_from_config, monkeypatch
):
    monkeypatch.setitem(app.config, "JOBS_REDIS_URL", "redis://127.0.0.1:1/0")
    token = csrf_token(evaluator.get(f"/results/{surveyed_county.key}/").text)
    reply = evaluator.post(f"/results/{surveyed_county.key}/report", data={"csrf_token": token})
    assert reply.status_code == 503
    assert evaluator.get(f"/results/{surveyed_county.key}/report/jobs/abc").status_code == 503


def test_the_worker_needs_the_queue_configured(runner):
    refused = runner.invoke(args=["report", "worker", "--burst"])
    assert refused.exit_code == 2
    assert "JOBS_REDIS_URL" in refused.output


# -- the embedded default: a real thread, on a SQLite file of its own ------------------


@pytest.fixture
def threaded_app(tmp_path, key_file: str) -> Iterator[Flask]:
    """An app whose requests and job commit for real (the job's thread has its own
    connection), with the surveyed county and an evaluator."""
    app = committed_county_app(
        f"{tmp_path}/jobs.sqlite3",
        REPORT_SIGNING_P12=key_file,
        REPORT_SIGNING_PASSWORD=SIGNING_PASSWORD,
        JOBS_REDIS_URL="",
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def test_the_embedded_default_makes_the_report_in_a_thread(threaded_app):
    client = threaded_app.test_client()
    with threaded_app.app_context():
        campaign = db.session.scalars(select(Campaign)).one()
        key, campaign_id = campaign.key, campaign.id
    _sign_in(client, "eval@example.org")
    job = _start(client, key)
    assert isinstance(threaded_app.extensions[report_jobs.EXTENSION], report_jobs.InProcessJobs)
    seen = set()
    deadline = time.monotonic() + 120
    while True:
        status = client.get(f"/results/{key}/report/jobs/{job}.json").get_json()
        seen.add(status["stage"])
        if status["finished"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status["stage"] == "done", status
    assert seen <= set(report_jobs.STAGES) - {"failed"}
    page = client.get(f"/results/{key}/report/jobs/{job}")
    pdf = _download(client, key, page.text)
    with threaded_app.app_context():
        _check_issued_and_downloaded(campaign_id, pdf)


def test_a_read_only_transaction_takes_no_write_lock_on_sqlite(threaded_app):
    """The job's reads (seconds for a large county) must not make respondents' saves
    wait: on SQLite its transaction begins DEFERRED, not IMMEDIATE."""
    path = threaded_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")

    def another_writer_gets_in() -> bool:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:  # database is locked
            return False
        finally:
            other.close()

    with threaded_app.app_context():
        read_only()
        db.session.scalars(select(Campaign)).all()
        assert another_writer_gets_in()
        db.session.rollback()
        db.session.scalars(select(Campaign)).all()  # an ordinary transaction
        assert not another_writer_gets_in()
        db.session.rollback()


# -- production: RQ on Redis -----------------------------------------------------------


@pytest.fixture
def rq_redis(
    app: Flask,
    signing: report.SigningKey,
    backend_from_config: None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[redis.Redis]:
    with empty_redis_db(JOBS_DB) as (url, connection):
        monkeypatch.setitem(app.config, "JOBS_REDIS_URL", url)
        yield connection


def test_the_rq_path_queues_the_job_and_a_worker_makes_it(
    evaluator, runner, surveyed_county, rq_redis
):
    key = surveyed_county.key
    job = _start(evaluator, key)
    waiting = evaluator.get(f"/results/{key}/report/jobs/{job}")
    assert 'data-stage="queued"' in waiting.text
    assert 'http-equiv="refresh"' in waiting.text
    queue = Queue(report_jobs.QUEUE, connection=rq_redis)
    assert queue.job_ids == [job]
    # The documented worker (README), in burst mode: RQ's SimpleWorker in this app.
    worked = runner.invoke(args=["report", "worker", "--burst"])
    assert worked.exit_code == 0, worked.output
    assert queue.job_ids == []
    status = evaluator.get(f"/results/{key}/report/jobs/{job}.json").get_json()
    assert status["stage"] == "done", status
    page = evaluator.get(f"/results/{key}/report/jobs/{job}")
    pdf = _download(evaluator, key, page.text)
    _check_issued_and_downloaded(surveyed_county.id, pdf)


def test_an_rq_job_of_another_campaign_or_user_is_not_found(
    app, evaluator, surveyed_county, rq_redis
):
    key = surveyed_county.key
    job = _start(evaluator, key)
    staff.create_user("colleague@example.org", "evaluator", EVALUATOR_PASSWORD, [key])
    db.session.commit()
    colleague = app.test_client()
    _sign_in(colleague, "colleague@example.org")
    assert colleague.get(f"/results/{key}/report/jobs/{job}.json").status_code == 404
    # A job in the queue that is not a report job is no job either.
    Queue("reports", connection=rq_redis).enqueue_call(print, job_id="not-a-report-job")
    assert evaluator.get(f"/results/{key}/report/jobs/not-a-report-job").status_code == 404
