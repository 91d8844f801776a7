"""Answering through an open link (residents): a slot of the link's quota per person.

The quota cannot overfill, however many phones tap at once: a slot is taken by one
conditional UPDATE (``reserved = reserved + 1 WHERE reserved < quota``), which the
database applies to the link's row one transaction at a time (PostgreSQL re-checks the
condition on the row as the previous transaction left it; SQLite writes one at a time).
Each slot is a one-time code of the link, made on the spot and held in the phone's
session like a scanned slip's; it keeps its slot while ``held_until`` lies ahead (moved
on at every save). When the quota is full, slots whose response was abandoned (held
time passed, not submitted) are given back first: their codes are voided and their
drafts erased in the same transaction, with the link's row locked.

Duplicates are controlled softly, storing nothing about the person: a phone that has
answered through a link keeps the link's id in its own session cookie, and is asked to
confirm that someone else is answering before a new slot is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, select, update

from survey_app.extensions import db
from survey_app.models import Campaign, OneTimeCode, OpenLink
from survey_app.models.campaign import is_collecting
from survey_app.plan.issuing import new_codes
from survey_app.untrusted import is_url_token

DEFAULT_HOLD = timedelta(minutes=60)

_link = cast(Table, OpenLink.__table__)
_code = cast(Table, OneTimeCode.__table__)
_campaign = cast(Table, Campaign.__table__)


class LinkRefused(Exception):
    """The link cannot give a slot: ``reason`` unknown, closed or full."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkState:
    id: int
    campaign_id: int
    stratum_id: int
    respondent_group: str
    label: str
    county_name: str
    quota: int
    reserved: int
    closed: bool
    campaign_status: str
    opens_at: datetime
    closes_at: datetime

    def collecting(self, now: datetime) -> bool:
        return not self.closed and is_collecting(
            self.campaign_status, self.opens_at, self.closes_at, now
        )


_LINK = select(
    _link.c.id,
    _link.c.campaign_id,
    _link.c.stratum_id,
    _link.c.respondent_group,
    _link.c.label,
    _campaign.c.county_name,
    _link.c.quota,
    _link.c.reserved,
    _link.c.closed,
    _campaign.c.status.label("campaign_status"),
    _campaign.c.opens_at,
    _campaign.c.closes_at,
).join_from(_link, _campaign, _link.c.campaign_id == _campaign.c.id)


def find_link(token: str) -> LinkState:
    """The open link of a token, or :class:`LinkRefused` ('unknown')."""
    if not is_url_token(token, min_length=8, max_length=40):
        raise LinkRefused("unknown")
    row = db.session.execute(_LINK.where(_link.c.token == token)).first()
    if row is None:
        raise LinkRefused("unknown")
    return LinkState(**row._mapping)


def reserve_slot(link: LinkState, now: datetime, hold: timedelta = DEFAULT_HOLD) -> int:
    """Take one slot of the link for a new respondent; returns the new code's row id."""
    if not link.collecting(now):
        raise LinkRefused("closed")
    if not _take_slot(link.id) and not (release_abandoned(link.id, now) and _take_slot(link.id)):
        raise LinkRefused("full")
    ((_display, code),) = new_codes(
        link.campaign_id,
        link.stratum_id,
        link.respondent_group,
        1,
        expires_at=link.closes_at,
        open_link_id=link.id,
        held_until=now + hold,
    )
    return code.id


def _take_slot(link_id: int) -> bool:
    taken: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
        update(_link)
        .where(_link.c.id == link_id, _link.c.reserved < _link.c.quota)
        .values(reserved=_link.c.reserved + 1)
    )
    return taken.rowcount == 1


def release_abandoned(link_id: int, now: datetime) -> int:
    """Give back the slots of responses abandoned past their hold; returns how many.

    The link's row is locked first, as :func:`_take_slot` locks it, so two releases
    cannot both count the same codes, and no lock order can cross."""
    db.session.execute(select(_link.c.id).where(_link.c.id == link_id).with_for_update())
    released: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
        update(_code)
        .where(
            _code.c.open_link_id == link_id,
            _code.c.status == "issued",
            _code.c.held_until < now,
        )
        .values(status="void", draft=None, resume_digest=None, held_until=None)
    )
    count = int(released.rowcount)
    if count:
        db.session.execute(
            update(_link).where(_link.c.id == link_id).values(reserved=_link.c.reserved - count)
        )
    return count
