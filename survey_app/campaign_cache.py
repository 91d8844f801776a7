"""Per-process values computed from a campaign's responses (the results page, the
integrity checks' findings): kept until a response arrives or the audit log records a
change that alters them, then computed again on the next request."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import AuditEvent, Campaign, Response

T = TypeVar("T")
Key = tuple[int, int, int]


class CampaignCache(Generic[T]):
    """Values keyed by the campaign's response count, its newest response id and its
    newest audit event among ``actions``."""

    def __init__(self, actions: tuple[str, ...]) -> None:
        self.actions = actions
        self._values: dict[int, tuple[Key, T]] = {}
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

    def get(self, campaign: Campaign, key: Key, build: Callable[[], T]) -> T:
        """The value for ``key`` (from :meth:`key`), built and kept if it is not."""
        with self._lock:
            hit = self._values.get(campaign.id)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = build()
        with self._lock:
            self._values[campaign.id] = (key, value)
        return value

    def forget(self, campaign_id: int | None = None) -> None:
        with self._lock:
            if campaign_id is None:
                self._values.clear()
            else:
                self._values.pop(campaign_id, None)
