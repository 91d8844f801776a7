"""Recording what is done to a campaign's plan (the append-only audit log)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import select

from survey_app.downloads import spreadsheet_text
from survey_app.extensions import db
from survey_app.models import AuditEvent, Campaign
from survey_app.models.base import as_utc
from survey_app.refusals import Refusal
from survey_app.untrusted import clean_text

COMMAND_LINE = "command line"
MAX_REASON = 500
# the codes under which ``checked_reason`` refuses, in every REASONS that uses it
REASON_TEXTS = {
    "reason": "give a reason (it is kept in the audit log)",
    "reason_length": "the reason is longer than %(limit)s characters",
}


def actor() -> str:
    """Who is acting: the signed-in member of staff, else the command line."""
    if has_request_context() and current_user.is_authenticated:
        return str(current_user.email)
    return COMMAND_LINE


def checked_reason(reason: str | None, refused: type[Refusal]) -> str:
    """The reason a person gives for a change, as it is kept: cleaned, not empty, at most
    ``MAX_REASON`` characters; else ``refused("reason" | "reason_length")``."""
    cleaned = clean_text(reason or "").strip()
    if not cleaned:
        raise refused("reason")
    if len(cleaned) > MAX_REASON:
        raise refused("reason_length", limit=MAX_REASON)
    return cleaned


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


def events_of(campaign: Campaign, actions: tuple[str, ...]) -> list[AuditEvent]:
    """The campaign's events of these actions, oldest first (a report's account of them)."""
    query = select(AuditEvent).where(
        AuditEvent.campaign_id == campaign.id, AuditEvent.action.in_(actions)
    )
    return list(db.session.scalars(query.order_by(AuditEvent.at, AuditEvent.id)))


AUDIT_COLUMNS = ("at", "actor", "action", "details", "reason")


def events_csv(campaign: Campaign) -> bytes:
    """The whole log, oldest first, as codes (``details`` as JSON): for scripts and for
    keeping beside the report. UTF-8 with a byte-order mark, for Excel (zh-CN)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_COLUMNS)
    for event in reversed(events(campaign)):
        details = json.dumps(event.details, ensure_ascii=False, sort_keys=True)
        writer.writerow(
            [
                as_utc(event.at).isoformat(timespec="seconds"),
                spreadsheet_text(event.actor),
                event.action,
                spreadsheet_text(details),
                spreadsheet_text(event.reason or ""),
            ]
        )
    return out.getvalue().encode("utf-8-sig")
