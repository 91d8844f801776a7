"""Test data: campaigns, frames, plans and codes built the one way, instead of rows written by
hand in each test file. Each factory adds to ``db.session`` and flushes (the test's
transaction is rolled back afterwards); any column can be given to override a default.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import Campaign, PlanSchool, SamplingPlan, School, Stratum
from survey_app.plan import changes, draw, lists, open_links
from survey_app.plan.draw import draw_schools
from survey_app.plan.issuing import issue_codes, issue_list_codes
from survey_app.respond import open_links as phone_links
from survey_app.respond import services
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


# -- a county surveyed through the real respondent path ----------------------------------

NOW = datetime.now(UTC)
PER_SCHOOL = {"student": 5, "parent": 6, "teacher": 2, "principal": 1}


def answer_as_phone(code: services.CodeState, rng: random.Random, favour: float) -> None:
    """A phone's way through: claim, save every answer, submit."""
    services.claim_draft(code, NOW)
    questionnaire = services.questionnaire_of(code)
    answers = {}
    for item in questionnaire.items_for(code.respondent_group):
        options = [option.code for option in item.all_options()]
        answers[item.id] = options[0] if rng.random() < favour else rng.choice(options)
    services.save_draft(code, answers, NOW)
    services.submit_response(code.id, NOW, "zh_Hans")


def make_surveyed_county() -> Campaign:
    """Two school strata (2 of 4 schools drawn in each), a list of 40 deputies (5 of 6
    drawn answer), an open link of 5,000 residents (8 answer), and one response from a
    school that was not drawn."""
    rng = random.Random(11)  # noqa: S311 - reproducible test answers, not a secret
    campaign = make_campaign(open_now=False)
    schools = [
        make_school(campaign, location=location, level=level, enrolment=size, teachers=size // 15)
        for location, level in (("rural", "primary"), ("town", "junior"))
        for size in (180, 260, 420, 640)
    ]
    lists.set_list(campaign, "deputy", list_size=40, planned=6, now=NOW)
    link = open_links.create_open_link(
        campaign, slug="town", label="镇区", quota=50, population=5000, now=NOW
    )
    draw.draw_schools(campaign, 5, NOW, {"rural-primary": 2, "town-junior": 2})
    campaign.status = "open"
    db.session.flush()
    selected = {row.school_id for row in db.session.scalars(select(PlanSchool)) if row.selected}
    for school in schools:
        if school.id not in selected:
            continue
        favour = rng.uniform(0.3, 0.8)  # a school effect
        for group, n in PER_SCHOOL.items():
            for typed in issue_codes(school, group, n):
                answer_as_phone(services.find_code(typed), rng, favour)
    outside = next(school for school in schools if school.id not in selected)
    (typed,) = issue_codes(outside, "parent", 1)
    answer_as_phone(services.find_code(typed), rng, 0.5)
    frame = lists.list_of(campaign, "deputy")
    for typed in issue_list_codes(frame, 5, expires_at=None):
        answer_as_phone(services.find_code(typed), rng, 0.6)
    state = phone_links.find_link(link.token)
    for _ in range(8):
        code_id = phone_links.reserve_slot(state, NOW)
        answer_as_phone(services.usable_code(code_id, NOW), rng, 0.4)
    db.session.flush()
    return campaign


def replace_a_drawn_school(campaign: Campaign, stratum: str, reason: str) -> changes.Replacement:
    """The first drawn school of ``stratum`` refuses and is replaced (``changes``): the
    stratum is left with one answering school until its substitute answers."""
    plan = draw.plan_of(campaign)
    assert plan is not None  # noqa: S101 - a test helper on a drawn campaign
    refused = next(
        row.school for row in plan.schools if row.selected and row.school.stratum.code == stratum
    )
    return changes.replace_school(campaign, refused.code, reason)
