"""Issuing the certification report as a background job, with its progress.

A large county's report takes seconds to evaluate, lay out and sign: the results page's
button starts a job and the browser follows a progress page (``report_views``) that
shows the stage (``STAGES``) until the report is stored, then offers its download.

Where the job runs is chosen by ``JOBS_REDIS_URL``:

* set (production): RQ on that Redis, queue ``reports``; a worker runs the jobs
  (``flask --app wsgi report worker``, README) and keeps each job's stage in the job's
  meta, where every web worker reads it;
* unset (the embedded default): a thread of the web process runs the jobs one at a
  time and the stages live in the process's memory; gunicorn.conf.py refuses several
  web workers without it.

A job is visible only to the member of staff who started it, under its campaign
(``job_for``); anything else is "no such job". The job reads in one transaction
(``transactions.read_only``: on SQLite no write lock while it works) and stores the
report with its audit record in a second one, committed once.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from flask import Flask, current_app, has_app_context

from survey_app.extensions import db, made_once
from survey_app.models import Campaign
from survey_app.results import report
from survey_app.results.evaluation import NoResponses
from survey_app.results.report_signing import SigningKeyMissing
from survey_app.transactions import committed, read_only
from survey_app.untrusted import is_url_token

QUEUE = "reports"
STAGES = ("queued", "loading", "computing", "laying_out", "signing", "done", "failed")
FINISHED = ("done", "failed")
JOB_ID_BYTES = 16
MAX_JOB_ID = 64  # a longer one names no job (and is not looked up)
KEEP_SECONDS = 24 * 3600  # a finished job's status (and link to its report) stays this long
JOB_TIMEOUT_SECONDS = 600
EXTENSION = "report_jobs"

logger = logging.getLogger(__name__)


class JobsUnavailable(Exception):
    """The job queue cannot be reached (Redis is down): no job was started."""


@dataclass(frozen=True)
class ReportJob:
    """One report being made: who asked for which campaign, and how far it has got."""

    id: str
    campaign_id: int
    user_id: int
    issued_by: str  # the audit log's actor of the issue (the user's e-mail)
    stage: str = "queued"
    report: str | None = None  # the report's public id, once stored
    error: str | None = None  # why it failed: no_responses, no_signing_key, failed

    @property
    def finished(self) -> bool:
        return self.stage in FINISHED


Record = Callable[..., None]  # record(stage=..., report=..., error=...)


class JobBackend(Protocol):
    def start(self, app: Flask, job: ReportJob) -> None: ...

    def get(self, job_id: str) -> ReportJob | None: ...


def new_job(campaign: Campaign, user_id: int, issued_by: str) -> ReportJob:
    return ReportJob(secrets.token_urlsafe(JOB_ID_BYTES), campaign.id, user_id, issued_by)


def start_job(app: Flask, campaign: Campaign, user_id: int, issued_by: str) -> ReportJob:
    """Queue the campaign's report; raises ``JobsUnavailable`` when Redis is down."""
    job = new_job(campaign, user_id, issued_by)
    backend_of(app).start(app, job)
    return job


def job_for(app: Flask, job_id: str, campaign: Campaign, user_id: int) -> ReportJob | None:
    """The job, if it exists, is this campaign's and was started by this user."""
    if not is_url_token(job_id, max_length=MAX_JOB_ID):
        return None
    found = backend_of(app).get(job_id)
    if found is None or found.campaign_id != campaign.id or found.user_id != user_id:
        return None
    return found


def make_report(job: ReportJob, record: Record) -> None:
    """The job itself, in an app context: make the report and store it, telling
    ``record`` each stage. A refusal (no responses, no signing key) ends the job as
    failed with its reason; any other error too, and is raised again after."""
    config = current_app.config
    try:
        read_only()
        campaign = db.session.get(Campaign, job.campaign_id)
        if campaign is None:
            raise NoResponses(f"campaign {job.campaign_id} is gone")
        prepared = report.prepare_report(
            campaign,
            report.SigningKey.from_config(config),
            base_url=config["PUBLIC_BASE_URL"],
            min_n=config["RESULTS_MIN_N"],
            now=datetime.now(UTC),
            issued_by=job.issued_by,
            progress=lambda stage: record(stage=stage),
        )
        db.session.rollback()  # the reads end here; nothing was written
        with committed():
            campaign = db.session.get(Campaign, job.campaign_id)
            if campaign is None:
                raise NoResponses(f"campaign {job.campaign_id} is gone")
            report.store_report(campaign, prepared)
    except NoResponses:
        db.session.rollback()
        record(stage="failed", error="no_responses")
        return
    except SigningKeyMissing:
        db.session.rollback()
        logger.error("report signing key missing or unreadable")
        record(stage="failed", error="no_signing_key")
        return
    except Exception:
        db.session.rollback()
        logger.exception("report job %s failed", job.id)
        record(stage="failed", error="failed")
        raise
    record(stage="done", report=prepared.public_id)


class InProcessJobs:
    """Jobs in a thread of this process, one at a time (the embedded default)."""

    def __init__(self) -> None:
        self._jobs: dict[str, tuple[float, ReportJob]] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-job")

    def start(self, app: Flask, job: ReportJob) -> None:
        self._forget_old()
        self._put(job)
        self._executor.submit(self._run, app, job)

    def get(self, job_id: str) -> ReportJob | None:
        with self._lock:
            found = self._jobs.get(job_id)
        return found[1] if found else None

    def _put(self, job: ReportJob) -> None:
        with self._lock:
            self._jobs[job.id] = (time.monotonic(), job)

    def _record(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            _at, job = self._jobs[job_id]
            self._jobs[job_id] = (time.monotonic(), replace(job, **changes))

    def _run(self, app: Flask, job: ReportJob) -> None:
        # An error is logged and recorded as the job's failure by make_report.
        with app.app_context(), contextlib.suppress(Exception):
            make_report(job, lambda **changes: self._record(job.id, **changes))

    def _forget_old(self) -> None:
        limit = time.monotonic() - KEEP_SECONDS
        with self._lock:
            for job_id in [k for k, (at, job) in self._jobs.items() if job.finished and at < limit]:
                del self._jobs[job_id]


class RedisJobs:
    """Jobs on RQ's queue ``reports`` in Redis; their stages in the jobs' meta."""

    def __init__(self, url: str) -> None:
        from redis import Redis
        from rq import Queue

        self._redis = Redis.from_url(url)
        self._queue = Queue(QUEUE, connection=self._redis)

    def start(self, app: Flask, job: ReportJob) -> None:
        from redis.exceptions import RedisError

        try:
            self._queue.enqueue_call(
                run_queued,
                args=(asdict(job),),
                job_id=job.id,
                meta=asdict(job),
                timeout=JOB_TIMEOUT_SECONDS,
                result_ttl=KEEP_SECONDS,
                failure_ttl=KEEP_SECONDS,
                description=f"certification report of campaign {job.campaign_id}",
            )
        except RedisError as error:
            raise JobsUnavailable(str(error)) from error

    def get(self, job_id: str) -> ReportJob | None:
        from redis.exceptions import RedisError
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            queued = Job.fetch(job_id, connection=self._redis)
            meta = queued.get_meta(refresh=True)
            broken = queued.is_failed or queued.is_stopped or queued.is_canceled
        except NoSuchJobError:
            return None
        except RedisError as error:
            raise JobsUnavailable(str(error)) from error
        try:
            job = ReportJob(**{name: meta[name] for name in ReportJob.__dataclass_fields__})
        except (KeyError, TypeError):
            return None  # not one of ours
        if broken and not job.finished:  # the worker died, or the job timed out
            job = replace(job, stage="failed", error="failed")
        return job


def run_queued(job: dict[str, Any]) -> str | None:
    """RQ's entry point (in the worker): the job in the current app, or in one made from
    the environment as ``wsgi.py`` makes it (a plain ``rq worker``)."""
    from rq import get_current_job

    queued = get_current_job()
    found = ReportJob(**job)
    outcome: dict[str, Any] = {}

    def record(**changes: Any) -> None:
        outcome.update(changes)
        if queued is not None:
            queued.meta.update(changes)
            queued.save_meta()

    app = current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]
    with app.app_context():
        make_report(found, record)
    return outcome.get("report")


_worker_app: Flask | None = None
_worker_app_lock = threading.Lock()


def worker_app() -> Flask:
    """The app of an RQ worker started without one (made once per process)."""
    global _worker_app
    with _worker_app_lock:
        if _worker_app is None:
            from survey_app import create_app

            _worker_app = create_app()
        return _worker_app


def backend_of(app: Flask) -> JobBackend:
    """The app's job backend, made on first use (no connection is opened here)."""

    def make() -> JobBackend:
        url = app.config.get("JOBS_REDIS_URL") or ""
        return RedisJobs(url) if url else InProcessJobs()

    return made_once(app, EXTENSION, make)
