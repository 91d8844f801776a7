"""Test data: campaigns, frames, plans and codes built the one way, instead of rows written by
hand in each test file. Each factory adds to ``db.session`` and flushes (the test's
transaction is rolled back afterwards); any column can be given to override a default.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import Campaign, SamplingPlan, School, Stratum
from survey_app.plan.draw import draw_schools
from survey_app.plan.issuing import issue_codes
from survey_app.vocabulary import stratum_code

_serial = itertools.count(1)


def make_campaign(*, open_now: bool = True, **columns: Any) -> Campaign:
    """A campaign of a test county; open for fieldwork now unless ``open_now`` is false."""
    now = datetime.now(UTC)
    serial = next(_serial)
    values: dict[str, Any] = {
        "key": f"test-{serial}",
        "county_code": f"T{serial:05d}",
        "county_name": "测试县",
        "stage": "self",
        "status": "open" if open_now else "draft",
        "opens_at": now - timedelta(days=1),
        "closes_at": now + timedelta(days=14),
        "resident_population": 100_000,
    }
    campaign = Campaign(**(values | columns))
    db.session.add(campaign)
    db.session.flush()
    return campaign


def make_stratum(campaign: Campaign, location: str = "rural", level: str = "primary") -> Stratum:
    """The campaign's school stratum ``location-level``, made if it does not exist yet."""
    code = stratum_code(location, level)
    found = db.session.scalar(select(Stratum).filter_by(campaign_id=campaign.id, code=code))
    if found is not None:
        return found
    stratum = Stratum.of_schools(campaign.id, location, level)
    db.session.add(stratum)
    db.session.flush()
    return stratum


def make_school(
    campaign: Campaign, *, location: str = "rural", level: str = "primary", **columns: Any
) -> School:
    """A school of the campaign's frame, in the stratum of its location and level."""
    serial = next(_serial)
    values: dict[str, Any] = {
        "campaign_id": campaign.id,
        "stratum_id": make_stratum(campaign, location, level).id,
        "code": f"S{serial:09d}",
        "name": f"第{serial}小学",
        "level": level,
        "location": location,
        "enrolment": 300,
        "teachers": 20,
    }
    school = School(**(values | columns))
    db.session.add(school)
    db.session.flush()
    return school


def make_codes(school: School, group: str = "parent", n: int = 1, **options: Any) -> list[str]:
    """``n`` fresh codes for one school and group (their printed forms)."""
    return issue_codes(school, group, n, **options)


def make_plan(campaign: Campaign, seed: int = 1, **schools_per_stratum: int) -> SamplingPlan:
    """A draw of the campaign's frame (made as in preparation, whatever its status now)."""
    status, campaign.status = campaign.status, "draft"
    try:
        return draw_schools(campaign, seed, datetime.now(UTC), schools_per_stratum)
    finally:
        campaign.status = status
        db.session.flush()
