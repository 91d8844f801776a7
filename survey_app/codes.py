"""One-time access codes: random, short enough to type, stored only as digests.

A code is 15 symbols from Crockford's base-32 alphabet (no I, L, O, U), shown in three
groups of five: ``7KQ2M-9XWPD-H3RTA``. That is 75 bits of randomness from
:mod:`secrets`. Typing is forgiving: case, spaces, dashes and the look-alikes
O→0, I/L→1 are normalised before the lookup.
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 15
GROUP_SIZE = 5
RANDOM_BITS = CODE_LENGTH * 5  # log2(32) bits a symbol

_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def new_code() -> str:
    """A fresh code in its display form (grouped with dashes)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return format_code(raw)


def format_code(raw: str) -> str:
    """Group a normalised code for display: ``ABCDE-FGHJK-MNPQR``."""
    return "-".join(raw[i : i + GROUP_SIZE] for i in range(0, len(raw), GROUP_SIZE))


def normalise_code(typed: str) -> str | None:
    """The canonical form of what someone typed, or None if it cannot be a code."""
    if len(typed) > 4 * CODE_LENGTH:  # spaces and dashes aside, far too long to be one
        return None
    cleaned = "".join(ch for ch in typed.upper() if ch.isalnum()).translate(_LOOKALIKES)
    if len(cleaned) != CODE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def code_digest(canonical: str) -> bytes:
    """What the database stores: SHA-256 of the canonical code (the code has 75 random bits,
    so a plain hash cannot be reversed by guessing)."""
    return hashlib.sha256(canonical.encode("ascii")).digest()
