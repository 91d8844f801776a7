"""Values computed from a campaign's responses (the results page, the integrity checks'
summary): kept until a response arrives or the audit log records a change that alters
them, and built again in the background.

A large campaign's value takes seconds to build (the results page of a million
responses, integrity checks included, about 20 s: bench/README.md), so a page view does
not build it in its request. :meth:`CampaignCache.fetch` starts a build, waits
``BUILD_WAIT_SECONDS`` for it (3 s by default: a county's page is ready by then and
shows as before) and otherwise answers with the value built last, marked as older than
the responses, or with none yet; the page says the figures are being computed.

Builds run in a thread of the web process, one at a time (``Builds``), each in its own
read-only transaction. With several gunicorn workers (``JOBS_REDIS_URL`` set) a built
value is also kept in Redis, so that one build serves every worker, and a lock there
keeps two workers from building the same value at once. The lock lives
``LOCK_SECONDS`` and is renewed while its worker holds it (its build queued or
running), so a build may take as long as it takes, and a worker that dies frees it
within ``LOCK_SECONDS``.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from flask import Flask, current_app
from sqlalchemy import func, select

from survey_app.extensions import db, made_once
from survey_app.models import AuditEvent, Campaign, Response

T = TypeVar("T")
R = TypeVar("R")
Key = tuple[int, int, int]
EXTENSION = "campaign_builds"
LOCK_SECONDS = 30  # a build's lock in Redis: renewed while held, so a dead worker's expires
RENEW_SECONDS = 10
KEEP_SECONDS = 7 * 24 * 3600  # a value kept in Redis; built again when asked after
POLL_SECONDS = 0.1

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Built(Generic[T]):
    """A value and what it was built from: the cache's key and when."""

    key: Key
    value: T
    built_at: datetime

    @property
    def responses(self) -> int:
        return self.key[0]


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """What a view shows: the newest value built (None: none yet), and whether it is
    built from the campaign as it is now (else a newer one is being built)."""

    built: Built[T] | None
    current: bool


class CampaignCache(Generic[T]):
    """Values keyed by the campaign's response count, its newest response id and its
    newest audit event among ``actions``; ``build`` makes one from the campaign, and may
    raise one of ``refusals`` (shown by the views as a page: not logged as an error)."""

    def __init__(
        self,
        name: str,
        actions: tuple[str, ...],
        build: Callable[[Campaign], T],
        refusals: tuple[type[Exception], ...] = (),
    ) -> None:
        self.name = name
        self.actions = actions
        self.build = build
        self.refusals = refusals
        self._values: dict[int, Built[T]] = {}
        self._failed: dict[int, tuple[Key, BaseException]] = {}
        self._lock = threading.Lock()

    def key(self, campaign: Campaign) -> Key:
        """(responses, newest response id, newest relevant audit event id)."""
        count, newest = db.session.execute(
            select(func.count(Response.id), func.coalesce(func.max(Response.id), 0)).where(
                Response.campaign_id == campaign.id
            )
        ).one()
        changed = db.session.scalar(
            select(func.coalesce(func.max(AuditEvent.id), 0)).where(
                AuditEvent.campaign_id == campaign.id, AuditEvent.action.in_(self.actions)
            )
        )
        return int(count), int(newest), int(changed or 0)

    def get(self, campaign: Campaign, key: Key | None = None) -> T:
        """The value for the campaign as it is now, built in this request if it is not
        kept (pages that must not show an older one, and the tests). ``key``: the
        campaign's :meth:`key` if the caller has read it already."""
        key = key or self.key(campaign)
        built = self._current(campaign.id, key)
        if built is None:
            built = Built(key, self.build(campaign), datetime.now(UTC))
            self.keep(campaign.id, built)
        return built.value

    def fetch(
        self, campaign: Campaign, wait: float | None = None, key: Key | None = None
    ) -> Fetched[T]:
        """The value for the campaign as it is now if it is kept or built within
        ``wait`` seconds (default ``BUILD_WAIT_SECONDS``); else the newest one kept, not
        current, while a build goes on. A build's error within the wait is raised here,
        and again to every view of the same key after it. ``key`` as for :meth:`get`
        (on a million responses reading it takes a tenth of a second)."""
        key = key or self.key(campaign)
        built = self._current(campaign.id, key)
        if built is not None:
            return Fetched(built, current=True)
        with self._lock:
            failed = self._failed.get(campaign.id)
        if failed is not None and failed[0] == key:
            raise failed[1]
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        builds = builds_of(app)
        running = builds.start(app, self, campaign.id)
        seconds = app.config["BUILD_WAIT_SECONDS"] if wait is None else wait
        built = builds.wait(self, campaign.id, key, running, seconds)
        if built is not None and built.key == key:
            return Fetched(built, current=True)
        return Fetched(self._newest(campaign.id), current=False)

    def keep(self, campaign_id: int, built: Built[T]) -> None:
        with self._lock:
            newest = self._values.get(campaign_id)
            if newest is None or newest.built_at <= built.built_at:
                self._values[campaign_id] = built
            self._failed.pop(campaign_id, None)

    def failed(self, campaign_id: int, key: Key, error: BaseException) -> None:
        """Keep the error (logged already) to raise to the views of ``key``, without its
        traceback: the build's frames hold the campaign's data (a million responses)."""
        error.__traceback__ = None
        with self._lock:
            self._failed[campaign_id] = (key, error)

    def forget(self, campaign_id: int | None = None) -> None:
        """Drop kept values of this process (tests)."""
        with self._lock:
            if campaign_id is None:
                self._values.clear()
                self._failed.clear()
            else:
                self._values.pop(campaign_id, None)
                self._failed.pop(campaign_id, None)

    def _current(self, campaign_id: int, key: Key) -> Built[T] | None:
        with self._lock:
            built = self._values.get(campaign_id)
        if built is not None and built.key == key:
            return built
        shared = builds_of(current_app).shared_value(self, campaign_id)
        if shared is not None and shared.key == key:
            self.keep(campaign_id, shared)
            return shared
        return None

    def _newest(self, campaign_id: int) -> Built[T] | None:
        with self._lock:
            built = self._values.get(campaign_id)
        shared = builds_of(current_app).shared_value(self, campaign_id)
        if shared is not None and (built is None or shared.built_at > built.built_at):
            self.keep(campaign_id, shared)
            return shared
        return built


class Builds:
    """Where a process builds cached values: a thread, one build at a time, and a build
    per (cache, campaign) at once; with ``redis_url`` values and locks shared in Redis."""

    def __init__(self, redis_url: str = "") -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="campaign-build")
        self._running: dict[tuple[str, int], Future[Built[Any]]] = {}
        self._lock = threading.Lock()
        self._redis: Any = None
        if redis_url:
            from redis import Redis

            self._redis = Redis.from_url(redis_url)

    def start(
        self, app: Flask, cache: CampaignCache[Any], campaign_id: int
    ) -> Future[Built[Any]] | None:
        """This process's build of the campaign's value, started now or already
        running; None when another process holds the build's lock."""
        with self._lock:
            running = self._running.get((cache.name, campaign_id))
            if running is not None and not running.done():
                return running
            claim = self._claim(cache, campaign_id)
            if claim is None:
                return None
            future = self._executor.submit(self._run, app, cache, campaign_id, claim)
            self._running[(cache.name, campaign_id)] = future
        # outside the lock: a build already finished calls back at once, in this thread
        future.add_done_callback(lambda done: self._done(cache.name, campaign_id, done))
        return future

    def _done(self, name: str, campaign_id: int, future: Future[Built[Any]]) -> None:
        """A finished build is no longer kept here (the views that wait hold it)."""
        with self._lock:
            if self._running.get((name, campaign_id)) is future:
                del self._running[(name, campaign_id)]

    def wait(
        self,
        cache: CampaignCache[Any],
        campaign_id: int,
        key: Key,
        running: Future[Built[Any]] | None,
        seconds: float,
    ) -> Built[Any] | None:
        """This process's build's value if it ends within ``seconds`` (its error raised),
        else None; another process's is awaited in Redis until a value of ``key`` is."""
        if running is not None:
            try:
                return running.result(timeout=seconds)
            except FutureTimeout:
                return None
        deadline = time.monotonic() + seconds
        while True:
            built = self.shared_value(cache, campaign_id)
            if built is not None and built.key == key:
                return built
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_SECONDS)

    def shared_value(self, cache: CampaignCache[Any], campaign_id: int) -> Built[Any] | None:
        blob = self._redis_call(lambda redis: redis.get(_value_key(cache, campaign_id)), None)
        return pickle.loads(blob) if blob else None  # noqa: S301 (our own Redis)

    def _claim(self, cache: CampaignCache[Any], campaign_id: int) -> Claim | None:
        """The build's lock taken in Redis and renewed until released; None when another
        process holds it.  Without Redis, or when it cannot be reached, a claim without
        a lock: the build is then made here, unshared."""
        if self._redis is None:
            return Claim(None)
        lock = self._redis.lock(
            _lock_key(cache, campaign_id), timeout=LOCK_SECONDS, thread_local=False
        )
        taken = self._redis_call(lambda _redis: lock.acquire(blocking=False), None)
        if taken is None:
            return Claim(None)
        return Claim(lock) if taken else None

    def _share(self, cache: CampaignCache[Any], campaign_id: int, built: Built[Any]) -> None:
        self._redis_call(
            lambda redis: redis.set(
                _value_key(cache, campaign_id), pickle.dumps(built), ex=KEEP_SECONDS
            ),
            None,
        )

    def _redis_call(self, call: Callable[[Any], R], unavailable: R) -> R:
        """``call`` on the shared Redis; ``unavailable`` without one, or when it cannot
        be reached (logged: the values are then this process's own)."""
        if self._redis is None:
            return unavailable
        from redis.exceptions import RedisError

        try:
            return call(self._redis)
        except RedisError as error:
            logger.warning("campaign cache: Redis unavailable (%s)", error)
            return unavailable

    def _run(
        self, app: Flask, cache: CampaignCache[Any], campaign_id: int, claim: Claim
    ) -> Built[Any]:
        from survey_app.transactions import read_only

        built = None
        try:
            with app.app_context():
                try:
                    read_only()
                    campaign = db.session.get_one(Campaign, campaign_id)
                    key = cache.key(campaign)
                    shared = self.shared_value(cache, campaign_id)
                    if shared is not None and shared.key == key:
                        # another worker shared it between this view's look and the claim
                        cache.keep(campaign_id, shared)
                        return shared
                    try:
                        built = Built(key, cache.build(campaign), datetime.now(UTC))
                    except Exception as error:
                        if not isinstance(error, cache.refusals):
                            logger.exception(
                                "building the %s of campaign %s", cache.name, campaign_id
                            )
                        cache.failed(campaign_id, key, error)
                        raise
                    cache.keep(campaign_id, built)
                    return built
                finally:
                    db.session.rollback()
                    if built is not None:
                        self._share(cache, campaign_id, built)
        finally:
            claim.release()  # whatever failed: a held lock would keep every worker waiting


class Claim:
    """A build's claim: its Redis lock (redis-py's, checked by token), renewed every
    ``RENEW_SECONDS`` by a thread of its own until released, or no lock (no Redis)."""

    def __init__(self, lock: Any) -> None:
        self._lock = lock
        self._released = threading.Event()
        if lock is not None:
            threading.Thread(target=self._renew, name="campaign-build-lock", daemon=True).start()

    def _renew(self) -> None:
        while not self._released.wait(RENEW_SECONDS):
            if not self._lock_step(self._lock.reacquire, "renewed"):
                return

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def release(self) -> None:
        """Stops the renewal and frees the lock (if it is still this claim's)."""
        self._released.set()
        if self._lock is not None:
            self._lock_step(self._lock.release, "released")

    @staticmethod
    def _lock_step(step: Callable[[], object], done: str) -> bool:
        """``step`` on the lock; False (logged) when Redis or the lock's token refuse it."""
        from redis.exceptions import LockError, RedisError

        try:
            step()
        except (LockError, RedisError) as error:
            logger.warning("campaign cache: a build's lock not %s (%s)", done, error)
            return False
        return True


def _value_key(cache: CampaignCache[Any], campaign_id: int) -> str:
    return f"campaign-cache:{cache.name}:{campaign_id}"


def _lock_key(cache: CampaignCache[Any], campaign_id: int) -> str:
    return f"campaign-cache:{cache.name}:{campaign_id}:building"


def builds_of(app: Flask) -> Builds:
    """The app's builds, made on first use (``JOBS_REDIS_URL``: shared in Redis)."""
    return made_once(app, EXTENSION, lambda: Builds(app.config.get("JOBS_REDIS_URL") or ""))
