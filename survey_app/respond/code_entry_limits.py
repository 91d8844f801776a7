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
stored) and live in the shared store of ``survey_app/rate_limits.py``.
"""

from __future__ import annotations

from survey_app.extensions import client_fingerprint
from survey_app.rate_limits import OverLimit, rate_limits


class TooManyLookUps(OverLimit):
    """This address has gone past one of the limits; ``retry_after`` is in seconds."""


class TooManyWrongCodes(TooManyLookUps):
    """This address has tried more wrong codes than ``CODE_ENTRY_LIMIT`` allows."""


def count_look_up() -> None:
    """Count one look-up of any outcome; :class:`TooManyLookUps` past
    ``CODE_FLOOD_LIMIT``. Called before the database is touched."""
    rate_limits.hit("CODE_FLOOD_LIMIT", "look-up", client_fingerprint(), TooManyLookUps)


def count_wrong_code() -> None:
    """Count one failed look-up; :class:`TooManyWrongCodes` past ``CODE_ENTRY_LIMIT``.
    Valid look-ups never come here."""
    rate_limits.hit("CODE_ENTRY_LIMIT", "wrong-code", client_fingerprint(), TooManyWrongCodes)
