"""Recording what is done to a campaign's plan (the append-only audit log)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import AuditEvent, Campaign

COMMAND_LINE = "command line"


def actor() -> str:
    """Who is acting: the signed-in member of staff, else the command line."""
    if has_request_context() and current_user.is_authenticated:
        return str(current_user.email)
    return COMMAND_LINE


def record(
    campaign: Campaign,
    action: str,
    details: dict[str, Any],
    reason: str | None = None,
    *,
    by: str | None = None,
) -> AuditEvent:
    """Append an event; ``by`` names the actor where there is no request to tell (a
    background job acting for a member of staff), else :func:`actor`."""
    event = AuditEvent(
        campaign_id=campaign.id,
        at=datetime.now(UTC),
        actor=by or actor(),
        action=action,
        details=details,
        reason=reason,
    )
    db.session.add(event)
    db.session.flush()
    return event


def events(campaign: Campaign) -> list[AuditEvent]:
    """Newest first."""
    query = select(AuditEvent).where(AuditEvent.campaign_id == campaign.id)
    return list(db.session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())))
