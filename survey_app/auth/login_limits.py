"""Limits on failed sign-ins, and what each one protects against.

* Per address (``LOGIN_LIMIT``, default 10 a minute and 100 an hour): one machine
  guessing passwords of many accounts.
* Per account (``LOGIN_ACCOUNT_LIMIT``, default 20 an hour): many machines guessing the
  password of one account. Past it, that account cannot sign in for the rest of the
  hour even with the right password: the price of stopping a distributed guess, and
  why the window is short.

Only failures count; a limit reached refuses the attempt before the password is
checked. Counters are keyed by keyed hashes of the address and of the e-mail.
"""

from __future__ import annotations

import contextlib

from survey_app.extensions import client_fingerprint, keyed_hash
from survey_app.rate_limits import OverLimit, rate_limits


class TooManyLogins(OverLimit):
    """Too many failed sign-ins from this address or for this account."""


def _counters(email: str) -> list[tuple[str, str, str]]:
    account = keyed_hash("login:" + email.strip().lower())
    return [
        ("LOGIN_LIMIT", "login-address", client_fingerprint()),
        ("LOGIN_ACCOUNT_LIMIT", "login-account", account),
    ]


def check_login_allowed(email: str) -> None:
    """:class:`TooManyLogins` if this address or account is at its limit."""
    for setting, counter, key in _counters(email):
        rate_limits.check(setting, counter, key, TooManyLogins)


def count_failed_login(email: str) -> None:
    for setting, counter, key in _counters(email):
        # Past the limit this failure is refused anyway; the next attempt is checked first.
        with contextlib.suppress(TooManyLogins):
            rate_limits.hit(setting, counter, key, TooManyLogins)
