"""Rate limits on looking up one-time codes, and what each one protects against.

Who shares an address: the parents of a school on its Wi-Fi, a village behind a
carrier's NAT. A limit that refuses *everyone* behind an address once it is exceeded
lets one guesser (or one child mashing keys) lock a whole school out of the survey.
So the two limits here are built so that a valid code is refused only in a flood.

* **Wrong codes** (``CODE_ENTRY_LIMIT``, default 30 a minute and 300 an hour per
  address): counted only when a look-up fails. Past the limit, a wrong code from that
  address is answered 429 ("too many wrong codes from this network") instead of 404,
  but a **valid code still opens**: the respondent with their slip in hand gets in
  whatever their neighbours typed. It slows and makes visible a person or script
  trying codes, at no cost to anyone else.
* **Floods** (``CODE_FLOOD_LIMIT``, default 3,000 look-ups a minute per address, valid
  or not): refused before any database work, so one address cannot tie up the
  workers. A school's rush stays well below it (2,000 parents scanning their slips in
  two minutes is 1,000 a minute).

Why enumeration is not what these limits must stop: a code has 75 random bits. With
10⁵ codes outstanding in a county, one guess finds one with probability 10⁵/2⁷⁵ ≈
2.6·10⁻¹⁸; at the flood limit, an address gets 1.6·10⁹ guesses a year, so about 4·10⁻⁹
chance per address-year. The limits keep that rate bounded; the code length makes it
hopeless. Both counters are keyed by a keyed hash of the address (no raw IP is
stored) and live in ``RATELIMIT_STORAGE_URI``: Redis in production, so all workers
share one count (``gunicorn.conf.py`` refuses several workers on a per-process store).
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from flask import Flask, current_app
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from survey_app.extensions import client_fingerprint


class TooManyLookUps(Exception):
    """This address has gone past one of the limits; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class TooManyWrongCodes(TooManyLookUps):
    """This address has tried more wrong codes than ``CODE_ENTRY_LIMIT`` allows."""


class CodeEntryLimits:
    """The two counters, on the ``limits`` library (the engine of Flask-Limiter).

    Only the two code-entry views consult it: unlike Flask-Limiter's extension, it adds
    no work to every other request of the questionnaire.
    """

    def init_app(self, app: Flask) -> None:
        storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
        app.extensions["code_entry_limits"] = (storage, FixedWindowRateLimiter(storage))

    @staticmethod
    def _state() -> tuple[Storage, FixedWindowRateLimiter]:
        return current_app.extensions["code_entry_limits"]  # type: ignore[no-any-return]

    def reset(self) -> None:
        """Forget every count (tests)."""
        self._state()[0].reset()

    def _hit(self, setting: str, counter: str, error: type[TooManyLookUps]) -> None:
        _storage, strategy = self._state()
        prefix = current_app.config["RATELIMIT_KEY_PREFIX"]
        key = client_fingerprint()
        for item in _parsed(current_app.config[setting]):
            if not strategy.hit(item, prefix, counter, key):
                reset_at = strategy.get_window_stats(item, prefix, counter, key).reset_time
                raise error(max(1, math.ceil(reset_at - time.time())))

    def count_look_up(self) -> None:
        """Count one look-up of any outcome; :class:`TooManyLookUps` past
        ``CODE_FLOOD_LIMIT``. Called before the database is touched."""
        self._hit("CODE_FLOOD_LIMIT", "look-up", TooManyLookUps)

    def count_wrong_code(self) -> None:
        """Count one failed look-up; :class:`TooManyWrongCodes` past ``CODE_ENTRY_LIMIT``.
        Valid look-ups never come here."""
        self._hit("CODE_ENTRY_LIMIT", "wrong-code", TooManyWrongCodes)


@lru_cache(maxsize=8)
def _parsed(limits: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limits))


code_entry_limits = CodeEntryLimits()
