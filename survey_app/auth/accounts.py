"""Staff accounts after they are made: the campaigns each is given, its role, disabling
and enabling, new passwords (an administrator's reset, or one's own change).

Every change of who may see a campaign, or in what role, goes into that campaign's audit
log (granted, withdrawn or role changed, to whom, by whom); changes to an account itself
are logged by the app's logger (``survey_app.accounts``), naming the staff member, never
a password.  A new password, set or reset, ends every session signed in with the old one
(``User.get_id`` holds a fingerprint of the hash), and disabling an account ends them
all.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from survey_app.auth import services
from survey_app.extensions import db
from survey_app.models import Campaign, User
from survey_app.plan import audit
from survey_app.refusals import Refusal
from survey_app.vocabulary import STAFF_ROLES

log = logging.getLogger("survey_app.accounts")

# A new password: 16 letters and digits without look-alikes (0/o, 1/l/i), in groups of
# four so that it can be read out on the phone: 31^16, about 2^79.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 - letters, not a password


class AccountChangeRefused(Refusal):
    """An account cannot be changed as asked (``REASONS``: the command line's text)."""

    REASONS = {
        "no_account": "no staff account %(account)s",
        "own_account": "you cannot disable your own account",
        "own_role": "you cannot change your own role",
        "role": "unknown role %(role)s: one of admin, supervisor, evaluator",
        "last_admin": "%(account)s is the last active administrator: it stays one",
        "admin_sees_all": "an administrator sees every campaign: nothing to grant",
        "wrong_password": "the current password is not right",
        "password_length": "the password needs at least %(n)d characters",
    }
    CONFLICTS = frozenset(("own_account", "own_role", "last_admin", "admin_sees_all"))


@dataclass(frozen=True)
class AccessChange:
    """What a change of an account's campaigns did."""

    granted: tuple[str, ...]
    withdrawn: tuple[str, ...]


def create(
    email: str, role: str, password: str, keys: Iterable[str] = (), by: User | None = None
) -> User:
    """A new account (``services.create_user``: AccountRefused if it cannot be made),
    its campaigns granted in their audit logs."""
    user = services.create_user(email, role, password)
    _change(user, grant=_campaigns(keys), withdraw=[])
    log.info("account %s (%s) created by %s", user.email, user.role, _by(by))
    return user


def account(email_or_id: str | int) -> User:
    """The account with this id (an int) or login name, else ``no_account``."""
    if isinstance(email_or_id, int):
        user = db.session.get(User, email_or_id)
    else:
        email = services.normalise_email(email_or_id)
        user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        raise AccountChangeRefused("no_account", account=str(email_or_id)[:254])
    return user


def accounts() -> list[User]:
    """Every account, administrators first, then by login name."""
    order = {role: rank for rank, role in enumerate(("admin", "supervisor", "evaluator"))}
    users = list(db.session.scalars(select(User).order_by(User.email)))
    return sorted(users, key=lambda user: order.get(user.role, len(order)))


def set_campaigns(user: User, keys: Iterable[str]) -> AccessChange:
    """Give the account exactly the campaigns named (others withdrawn)."""
    wanted = _campaigns(keys)
    current = list(user.campaigns)
    return _change(
        user,
        grant=[c for c in wanted if c not in current],
        withdraw=[c for c in current if c not in wanted],
    )


def grant(user: User, keys: Iterable[str]) -> AccessChange:
    current = list(user.campaigns)
    return _change(user, grant=[c for c in _campaigns(keys) if c not in current], withdraw=[])


def withdraw(user: User, keys: Iterable[str]) -> AccessChange:
    current = list(user.campaigns)
    return _change(user, grant=[], withdraw=[c for c in _campaigns(keys) if c in current])


def _campaigns(keys: Iterable[str]) -> list[Campaign]:
    """The campaigns named, once each (AccountRefused for a key of none)."""
    return [services.campaign_by_key(key) for key in dict.fromkeys(keys)]


def _change(user: User, *, grant: list[Campaign], withdraw: list[Campaign]) -> AccessChange:
    if user.role == "admin" and grant:
        raise AccountChangeRefused("admin_sees_all")
    for campaign in grant:
        user.campaigns.append(campaign)
        audit.record(campaign, "access_granted", {"account": user.email, "role": user.role})
    for campaign in withdraw:
        user.campaigns.remove(campaign)
        audit.record(campaign, "access_withdrawn", {"account": user.email, "role": user.role})
    db.session.flush()
    return AccessChange(tuple(c.key for c in grant), tuple(c.key for c in withdraw))


def set_active(user: User, active: bool, by: User | None = None) -> None:
    """Enable or disable the account (``by``: who acts, on the web; never oneself, and
    never the last active administrator)."""
    if active == user.active:
        return
    if not active:
        if by is not None and by.id == user.id:
            raise AccountChangeRefused("own_account")
        if user.role == "admin" and _active_admins() <= 1:
            raise AccountChangeRefused("last_admin", account=user.email)
    user.active = active
    db.session.flush()
    log.info("account %s %s by %s", user.email, "enabled" if active else "disabled", _by(by))


def set_role(user: User, role: str, by: User | None = None) -> None:
    """Give the account another role (never one's own, and never the last active
    administrator's). Each campaign it has records the change; an administrator sees
    every campaign, so one made administrator gives up its grants (withdrawn, recorded)
    and starts with none if it is ever made something else again."""
    if role not in STAFF_ROLES:
        raise AccountChangeRefused("role", role=repr(role[:20]))
    if role == user.role:
        return
    if by is not None and by.id == user.id:
        raise AccountChangeRefused("own_role")
    if user.role == "admin" and user.active and _active_admins() <= 1:
        raise AccountChangeRefused("last_admin", account=user.email)
    previous, user.role = user.role, role
    for campaign in list(user.campaigns):
        details = {"account": user.email, "role": role, "previous_role": previous}
        audit.record(campaign, "role_changed", details)
    if role == "admin":
        _change(user, grant=[], withdraw=list(user.campaigns))
    db.session.flush()
    log.info("account %s made %s (was %s) by %s", user.email, role, previous, _by(by))


def _active_admins() -> int:
    counted = select(func.count()).where(User.role == "admin", User.active.is_(True))
    return int(db.session.scalar(counted) or 0)


def new_password() -> str:
    """A random password of about 79 bits, as ``abcd-efgh-jkmn-pqrs``."""
    letters = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(16))
    return "-".join(letters[i : i + 4] for i in range(0, 16, 4))


def set_password(user: User, password: str, by: User | None = None) -> None:
    """A password chosen for the account (the command line's); its sessions end."""
    services.set_password(user, password)
    log.info("password of %s set by %s", user.email, _by(by))


def reset_password(user: User, by: User | None = None) -> str:
    """Give the account a new random password (returned once, to be handed over; only
    its hash is kept); its sessions end."""
    password = new_password()
    services.set_password(user, password)
    log.info("password of %s reset by %s", user.email, _by(by))
    return password


def change_own_password(user: User, current: str, new: str) -> None:
    """A member of staff's own new password, after the current one is checked."""
    if not services.password_matches(user, current):
        raise AccountChangeRefused("wrong_password")
    if len(new) < services.MIN_PASSWORD_LENGTH:
        raise AccountChangeRefused("password_length", n=services.MIN_PASSWORD_LENGTH)
    services.set_password(user, new)
    log.info("password of %s changed by its owner", user.email)


def _by(user: User | None) -> str:
    return user.email if user is not None else audit.COMMAND_LINE
