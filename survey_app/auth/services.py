"""Staff accounts: creating them, checking passwords, and the campaigns each may see.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second
recommended profile); a hash made with older parameters is replaced at the next
successful sign-in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import Campaign, User
from survey_app.untrusted import clean_text
from survey_app.vocabulary import CAMPAIGN_KEY_PATTERN, STAFF_ROLES

MIN_PASSWORD_LENGTH = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KEY = re.compile(CAMPAIGN_KEY_PATTERN)
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified when no account has the e-mail, so a wrong e-mail takes as long as a
    wrong password and the answer time does not tell which accounts exist. Made on the
    first use, not at import: a hash costs a third of a second, and every command line
    start imported it."""
    return _hasher.hash("no account has this password")


class AccountRefused(Exception):
    """An account cannot be created as asked; the message says why, in one line."""


class LoginRefused(Exception):
    """Wrong e-mail or password, or a disabled account (deliberately not told apart)."""


class CampaignNotFound(Exception):
    """No campaign with this key, or not one this member of staff may see."""


def normalise_email(text: str) -> str:
    """The login name as stored: trimmed and in lower case; AccountRefused if it is not
    an e-mail address."""
    email = text.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email) or clean_text(email) != email:
        raise AccountRefused(f"not an e-mail address: {text.strip()[:60]!r}")
    return email


def hash_password(password: str) -> str:
    """An argon2id hash of a password long enough (AccountRefused otherwise)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountRefused(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def create_user(email: str, role: str, password: str, campaign_keys: Iterable[str] = ()) -> User:
    """A new account with access to the campaigns named (admins see all campaigns)."""
    if role not in STAFF_ROLES:
        raise AccountRefused(f"unknown role {role!r}: one of {', '.join(STAFF_ROLES)}")
    email = normalise_email(email)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountRefused(f"an account for {email} exists already")
    user = User(email=email, role=role, password_hash=hash_password(password), active=True)
    user.campaigns = [campaign_by_key(key) for key in dict.fromkeys(campaign_keys)]
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """A new password; sessions signed in with the old one end (``User.get_id``)."""
    user.password_hash = hash_password(password)
    db.session.flush()


def password_matches(user: User, password: str) -> bool:
    try:
        return bool(_hasher.verify(user.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def campaign_by_key(key: str) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.key == key))
    if campaign is None:
        raise AccountRefused(f"no campaign with the key {key!r}")
    return campaign


def authenticate(email: str, password: str) -> User:
    """The active account with this e-mail and password, else :class:`LoginRefused`."""
    login = email.strip().lower()
    if len(login) > 254 or clean_text(login) != login:
        login = ""  # cannot be an account's (NUL would not even reach PostgreSQL)
    user = db.session.scalar(select(User).where(User.email == login)) if login else None
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError) as error:
        raise LoginRefused from error
    if user is None or not user.active:
        raise LoginRefused
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        db.session.flush()
    return user


def visible_campaigns(user: User) -> list[Campaign]:
    """The campaigns this member of staff may see, newest window first."""
    if user.role == "admin":
        return list(db.session.scalars(select(Campaign).order_by(Campaign.opens_at.desc())))
    return list(user.campaigns)


def visible_campaign(user: User, key: str) -> Campaign:
    """The campaign ``key`` if this member of staff may see it; CampaignNotFound (shown
    as 404, so a key of someone else's campaign is not confirmed) otherwise."""
    if not _KEY.match(key):
        raise CampaignNotFound(key[:40])
    campaign = db.session.scalar(select(Campaign).where(Campaign.key == key))
    if campaign is None or (user.role != "admin" and campaign not in user.campaigns):
        raise CampaignNotFound(key)
    return campaign
