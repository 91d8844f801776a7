"""Creating a campaign (one county's evaluation round at one stage, with its rule),
changing it while in preparation, moving its last day, opening and closing its fieldwork.

Dates are calendar days in China's time (Asia/Shanghai): fieldwork opens at the start
of ``opens`` and closes at the end of ``closes``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, select, update

from survey_app.extensions import db
from survey_app.models import Campaign, CampaignAccess, OneTimeCode, User
from survey_app.models.base import as_utc
from survey_app.plan import audit
from survey_app.refusals import Refusal
from survey_app.untrusted import clean_text
from survey_app.vocabulary import CAMPAIGN_KEY_PATTERN, RESPONDENT_GROUPS, STAGES, VERDICT_RULES

CHINA = ZoneInfo("Asia/Shanghai")
KEY_PATTERN = re.compile(CAMPAIGN_KEY_PATTERN)
COUNTY_CODE_PATTERN = re.compile(r"^\d{6}$")  # GB/T 2260


# Why a campaign is refused: code → the English text (the command line's; the web form
# shows the same in the staff's language, see ``plan/messages.py``).
REASONS = {
    "key_format": "1-40 lower-case letters, digits, - or _, starting with a letter or digit",
    "key_taken": "a campaign with the key %(key)s exists already",
    "county_code": "six digits (GB/T 2260 code of the county)",
    "county_name": "1-80 characters",
    "stage": f"one of {', '.join(STAGES)}",
    "population": "a whole number of residents above 0",
    "window": "the fieldwork cannot close before it opens",
    "threshold": "a share between 0 and 1, e.g. 0.85",
    "rule": f"one of {', '.join(VERDICT_RULES)}",
    "weight_group": "unknown group %(group)s",
    "weight_negative": "weights are shares of 0 or more",
    "weight_sum": "the weights add up to %(total)s, not 1",
    "not_draft": "campaign %(key)s is %(status)s: only a campaign in preparation can change",
}


class CampaignRefused(Exception):
    """A campaign cannot be created as asked: the ``field`` at fault and why (``code``)."""

    def __init__(self, field_name: str, code: str, **params: str) -> None:
        self.field = field_name
        self.code = code
        self.params = params
        self.reason = REASONS[code] % params
        super().__init__(f"{field_name}: {self.reason}")


@dataclass(frozen=True)
class CampaignSettings:
    """What a campaign is created from (the web form and the command line alike)."""

    key: str
    county_code: str
    county_name: str
    stage: str
    resident_population: int
    opens: date
    closes: date
    threshold: float = 0.85
    verdict_rule: str = "confidence"
    policy_weights: Mapping[str, float] | None = field(default=None)


def window(opens: date, closes: date) -> tuple[datetime, datetime]:
    """The fieldwork window: the start of ``opens`` to the end of ``closes``, China time,
    as UTC (every stored time is UTC: SQLite would drop any other offset)."""
    start = datetime.combine(opens, time(0), CHINA)
    end = datetime.combine(closes + timedelta(days=1), time(0), CHINA)
    return start.astimezone(UTC), end.astimezone(UTC)


def create_campaign(settings: CampaignSettings, creator: User | None = None) -> Campaign:
    """A new campaign in preparation (``draft``); a supervisor who creates one is given it."""
    _check(settings)
    opens_at, closes_at = window(settings.opens, settings.closes)
    campaign = Campaign(
        key=settings.key,
        county_code=settings.county_code,
        county_name=settings.county_name.strip(),
        stage=settings.stage,
        status="draft",
        opens_at=opens_at,
        closes_at=closes_at,
        resident_population=settings.resident_population,
        threshold=settings.threshold,
        verdict_rule=settings.verdict_rule,
        policy_weights=dict(settings.policy_weights) if settings.policy_weights else None,
    )
    db.session.add(campaign)
    db.session.flush()
    if creator is not None and creator.role != "admin":
        db.session.add(CampaignAccess(user_id=creator.id, campaign_id=campaign.id))
        db.session.flush()
    audit.record(campaign, "campaign_created", {"stage": campaign.stage})
    return campaign


class FieldworkRefused(Exception):
    """Fieldwork cannot open or close now (the message says why, in one line)."""


def open_fieldwork(campaign: Campaign) -> None:
    """Open the fieldwork: codes start to work, and the frame and the draw are frozen."""
    from survey_app.plan.draw import plan_of

    if campaign.status != "draft":
        raise FieldworkRefused(f"campaign {campaign.key} is {campaign.status}, not in preparation")
    plan = plan_of(campaign)
    if plan is None:
        raise FieldworkRefused(f"campaign {campaign.key} has not drawn its schools yet")
    campaign.status = "open"
    db.session.flush()
    audit.record(campaign, "fieldwork_opened", {"seed": plan.seed})


def close_fieldwork(campaign: Campaign) -> None:
    """Close the fieldwork early (it also closes by itself at the end of its window)."""
    if campaign.status != "open":
        raise FieldworkRefused(f"campaign {campaign.key} is {campaign.status}, not open")
    campaign.status = "closed"
    db.session.flush()
    audit.record(campaign, "fieldwork_closed", {})


class ClosingRefused(Refusal):
    """The fieldwork's last day cannot be moved as asked (``REASONS``: the command line's)."""

    REASONS = {
        "closed": "campaign %(key)s is closed: its window can no longer change",
        "before_opening": "the fieldwork cannot close before it opens (%(opens)s)",
        "past": "an open fieldwork cannot close in the past: close it now instead",
        "same": "the fieldwork already closes at the end of %(closes)s",
        **audit.REASON_TEXTS,
    }
    CONFLICTS = frozenset(("closed",))


@dataclass(frozen=True)
class ClosingMoved:
    previous: date
    closes: date
    codes: int  # the unused codes whose expiry moved with the window


# What a campaign in preparation may change: its settings but the key.
SETTINGS = (
    "county_code",
    "county_name",
    "stage",
    "resident_population",
    "opens",
    "closes",
    "threshold",
    "verdict_rule",
    "policy_weights",
)


def settings_of(campaign: Campaign) -> CampaignSettings:
    """The campaign's settings as it was made from them (its days in China's time)."""
    opens = as_utc(campaign.opens_at).astimezone(CHINA).date()
    return CampaignSettings(
        key=campaign.key,
        county_code=campaign.county_code,
        county_name=campaign.county_name,
        stage=campaign.stage,
        resident_population=campaign.resident_population,
        opens=opens,
        closes=last_day(campaign),
        threshold=campaign.threshold,
        verdict_rule=campaign.verdict_rule,
        policy_weights=dict(campaign.policy_weights) if campaign.policy_weights else None,
    )


def change_settings(campaign: Campaign, settings: CampaignSettings) -> tuple[str, ...]:
    """A campaign in preparation set to ``settings`` (its key stays); returns the names of
    what changed, recorded in the audit log with their new values. Its threshold and
    rule cannot change once the fieldwork opens: a verdict's terms are set beforehand."""
    if campaign.status != "draft":
        raise CampaignRefused("status", "not_draft", key=campaign.key, status=campaign.status)
    _check_settings(settings)
    before = settings_of(campaign)
    changed = tuple(name for name in SETTINGS if getattr(settings, name) != getattr(before, name))
    if not changed:
        return ()
    campaign.county_code = settings.county_code
    campaign.county_name = settings.county_name.strip()
    campaign.stage = settings.stage
    campaign.resident_population = settings.resident_population
    campaign.threshold = settings.threshold
    campaign.verdict_rule = settings.verdict_rule
    campaign.policy_weights = dict(settings.policy_weights) if settings.policy_weights else None
    codes = 0
    if "opens" in changed or "closes" in changed:  # else the stored window stays to the second
        old_end = as_utc(campaign.closes_at)
        campaign.opens_at, campaign.closes_at = window(settings.opens, settings.closes)
        codes = _follow_window(campaign, old_end, as_utc(campaign.closes_at))
    db.session.flush()
    details: dict[str, object] = {name: _plain(getattr(settings, name)) for name in changed}
    if codes:
        details["codes"] = codes
    audit.record(campaign, "campaign_changed", details)
    return changed


def _plain(value: object) -> object:
    """A setting as the audit log's JSON keeps it (days as ISO dates)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _follow_window(campaign: Campaign, old_end: datetime, new_end: datetime) -> int:
    """The unused codes issued to expire with the window expire at its new end; returns
    how many."""
    moved: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
        update(OneTimeCode)
        .where(
            OneTimeCode.campaign_id == campaign.id,
            OneTimeCode.status == "issued",
            OneTimeCode.expires_at.between(
                old_end - timedelta(seconds=1), old_end + timedelta(seconds=1)
            ),
        )
        .values(expires_at=new_end)
        .execution_options(synchronize_session=False)
    )
    return int(moved.rowcount)


def last_day(campaign: Campaign) -> date:
    """The fieldwork's last day, China time (the window ends at the start of the next)."""
    return (as_utc(campaign.closes_at).astimezone(CHINA) - timedelta(seconds=1)).date()


def move_closing(campaign: Campaign, closes: date, reason: str, now: datetime) -> ClosingMoved:
    """Move the fieldwork's last day (to extend it, usually), with a reason for the audit
    log. The codes issued to expire with the window expire with the new one, so that
    slips in the field keep working to the end."""
    cleaned = audit.checked_reason(reason, ClosingRefused)
    if campaign.status == "closed":
        raise ClosingRefused("closed", key=campaign.key)
    previous = last_day(campaign)
    if closes == previous:
        raise ClosingRefused("same", closes=closes.isoformat())
    opens_at = as_utc(campaign.opens_at)
    _start, closes_at = window(opens_at.astimezone(CHINA).date(), closes)
    if closes_at <= opens_at:
        raise ClosingRefused("before_opening", opens=opens_at.astimezone(CHINA).date().isoformat())
    if campaign.status == "open" and closes_at <= now:
        raise ClosingRefused("past")
    moved = _follow_window(campaign, as_utc(campaign.closes_at), closes_at)
    campaign.closes_at = closes_at
    db.session.flush()
    audit.record(
        campaign,
        "closing_moved",
        {"previous": previous.isoformat(), "closes": closes.isoformat(), "codes": moved},
        cleaned,
    )
    return ClosingMoved(previous, closes, moved)


def _check(settings: CampaignSettings) -> None:
    if not KEY_PATTERN.match(settings.key):
        raise CampaignRefused("key", "key_format")
    if db.session.scalar(select(Campaign.id).where(Campaign.key == settings.key)) is not None:
        raise CampaignRefused("key", "key_taken", key=settings.key)
    _check_settings(settings)


def _check_settings(settings: CampaignSettings) -> None:
    """Everything but the key (which never changes once a campaign is made)."""
    if not COUNTY_CODE_PATTERN.match(settings.county_code):
        raise CampaignRefused("county_code", "county_code")
    name = settings.county_name.strip()
    if not name or len(name) > 80 or clean_text(name) != name:  # no NUL or control bytes
        raise CampaignRefused("county_name", "county_name")
    if settings.stage not in STAGES:
        raise CampaignRefused("stage", "stage")
    if not 0 < settings.resident_population <= 100_000_000:
        raise CampaignRefused("population", "population")
    if settings.closes < settings.opens:
        raise CampaignRefused("closes", "window")
    if not (math.isfinite(settings.threshold) and 0 < settings.threshold < 1):
        raise CampaignRefused("threshold", "threshold")
    if settings.verdict_rule not in VERDICT_RULES:
        raise CampaignRefused("rule", "rule")
    if settings.policy_weights:
        _check_weights(settings.policy_weights)


def _check_weights(weights: Mapping[str, float]) -> None:
    unknown = sorted(set(weights) - set(RESPONDENT_GROUPS))
    if unknown:
        raise CampaignRefused("weight", "weight_group", group=unknown[0])
    if any(not math.isfinite(w) or w < 0 for w in weights.values()):
        raise CampaignRefused("weight", "weight_negative")
    if abs(sum(weights.values()) - 1) > 1e-9:
        raise CampaignRefused("weight", "weight_sum", total=f"{sum(weights.values()):g}")
