"""The link a school's contact (校方联系人) is given: their school's counts, nothing else.

The link carries a token signed with the app's ``SECRET_KEY`` (its own salt, so no other
signed value of the app is accepted as one): it names the campaign and the school, and
cannot be made or altered without the key. No row is stored (the schema is unchanged),
so a link is revoked only with the fieldwork: it stops working when the campaign closes.
The counts are the supervisor's (``code_batches.quota_progress``), for one school: codes
planned, issued and answered per group, never an answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadData, URLSafeSerializer

from survey_app.extensions import db
from survey_app.models import Campaign, School
from survey_app.models.base import as_utc
from survey_app.plan import code_batches, draw
from survey_app.vocabulary import SCHOOL_GROUPS

SALT = "school-contact-link"
PATH = "/contact"  # the contact blueprint's prefix; links are printed outside requests
MAX_TOKEN_LENGTH = 200  # a real token is about 60 characters


class LinkRefused(Exception):
    """The token is not one this app signed, or its school or campaign is gone or closed."""


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def token_for(secret_key: str, campaign: Campaign, school: School) -> str:
    """The same token every time (the sheet can be printed again)."""
    return str(_serializer(secret_key).dumps([campaign.id, school.id]))


def link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{PATH}/{token}"


def is_open(campaign: Campaign, now: datetime) -> bool:
    """A link works until the fieldwork closes (before it opens, counts are zero)."""
    return campaign.status != "closed" and now < as_utc(campaign.closes_at)


@dataclass(frozen=True)
class GroupCounts:
    """One group at the school: codes planned, issued (not revoked), answered."""

    respondent_group: str
    planned: int
    issued: int
    answered: int

    @property
    def response_rate(self) -> float | None:
        """Answered over issued (None before any code is issued)."""
        return self.answered / self.issued if self.issued else None


@dataclass(frozen=True)
class SchoolCounts:
    campaign: Campaign
    school: School
    groups: tuple[GroupCounts, ...]


def _read(secret_key: str, token: str) -> tuple[int, int]:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkRefused("no such link")
    try:
        payload = _serializer(secret_key).loads(token)
    except (BadData, ValueError, UnicodeError) as error:
        raise LinkRefused("no such link") from error
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not all(type(value) is int for value in payload)
    ):
        raise LinkRefused("no such link")
    return payload[0], payload[1]


def school_counts(secret_key: str, token: str, now: datetime) -> SchoolCounts:
    """The counts a contact link shows, or :class:`LinkRefused` (every refusal is alike:
    the page says nothing about why)."""
    campaign_id, school_id = _read(secret_key, token)
    campaign = db.session.get(Campaign, campaign_id)
    school = db.session.get(School, school_id)
    if campaign is None or school is None or school.campaign_id != campaign.id:
        raise LinkRefused("no such link")
    if not is_open(campaign, now):
        raise LinkRefused("the fieldwork is closed")
    plan = draw.plan_of(campaign)
    rows = [
        row
        for row in (code_batches.quota_progress(plan) if plan else [])
        if row.school is not None and row.school.id == school.id
    ]
    if not rows:
        raise LinkRefused("the school is not in the plan")
    order = {group: index for index, group in enumerate(SCHOOL_GROUPS)}
    rows.sort(key=lambda row: order.get(row.respondent_group, len(order)))
    return SchoolCounts(
        campaign,
        school,
        tuple(GroupCounts(row.respondent_group, row.planned, row.issued, row.used) for row in rows),
    )
