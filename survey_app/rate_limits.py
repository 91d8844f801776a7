"""Counters of the app's rate limits (code entry, staff login), on the ``limits`` library
(the engine of Flask-Limiter) in ``RATELIMIT_STORAGE_URI``: Redis in production, so all
workers share one count (``gunicorn.conf.py`` refuses several workers on a per-process
store). Only the views that need a limit consult it: no work is added to other requests.

Counters are keyed by keyed hashes (of the client address, of an e-mail address), so no
raw address is stored.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from flask import Flask, current_app
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter


class OverLimit(Exception):
    """A counter has gone past its limit; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class RateLimits:
    """The shared store and fixed-window counters over it."""

    def init_app(self, app: Flask) -> None:
        storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
        app.extensions["rate_limits"] = (storage, FixedWindowRateLimiter(storage))

    @staticmethod
    def _state() -> tuple[Storage, FixedWindowRateLimiter]:
        return current_app.extensions["rate_limits"]  # type: ignore[no-any-return]

    def reset(self) -> None:
        """Forget every count (tests)."""
        self._state()[0].reset()

    def hit(self, setting: str, counter: str, key: str, error: type[OverLimit]) -> None:
        """Count one event of ``counter`` for ``key`` against the limits in config
        ``setting`` (e.g. ``"30 per minute;300 per hour"``); ``error`` past any of them."""
        _storage, strategy = self._state()
        prefix = current_app.config["RATELIMIT_KEY_PREFIX"]
        for item in _parsed(current_app.config[setting]):
            if not strategy.hit(item, prefix, counter, key):
                raise error(_retry_after(strategy, item, prefix, counter, key))

    def check(self, setting: str, counter: str, key: str, error: type[OverLimit]) -> None:
        """``error`` if ``key`` is already at a limit of ``setting``, without counting."""
        _storage, strategy = self._state()
        prefix = current_app.config["RATELIMIT_KEY_PREFIX"]
        for item in _parsed(current_app.config[setting]):
            if not strategy.test(item, prefix, counter, key):
                raise error(_retry_after(strategy, item, prefix, counter, key))


def _retry_after(strategy: FixedWindowRateLimiter, item: RateLimitItem, *identifiers: str) -> int:
    reset_at = strategy.get_window_stats(item, *identifiers).reset_time
    return max(1, math.ceil(reset_at - time.time()))


@lru_cache(maxsize=8)
def _parsed(limits: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limits))


rate_limits = RateLimits()
