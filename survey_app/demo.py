"""A realistic demo county: about 40 schools, enrolments, staff and group populations.

The numbers are invented but shaped like a county of ~420,000 residents in western
China: a few large urban schools, town schools, many small rural schools and 教学点.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import Campaign, GroupPopulation, OpenLink, School, Stratum, User
from survey_app.plan import draw, lists, open_links
from survey_app.plan.issuing import issue_list_codes, new_codes
from survey_app.vocabulary import LIST_GROUPS, STUDENT, area_stratum_code

DEMO_COUNTY_CODE = "659999"
DEMO_CAMPAIGN_KEY = "demo"
DEMO_COUNTY_NAME = "示范县"
DEMO_AREA = "chengguan"  # the open link of the county town's residents
DEMO_DRAW_SEED = 20261201  # the demo plan's seed (README: plan draw --seed)
# Respondents per drawn school: enough that the demo's simulated fieldwork (2,000
# responses, ./dev) stays within the plan, and a school's group has enough answers for
# the integrity checks to examine.
DEMO_RESPONDENTS = {"student": 30, "parent": 30, "teacher": 10, "principal": 1}


@dataclass(frozen=True)
class SchoolShape:
    level: str
    location: str
    count: int
    enrolment: tuple[int, int]
    pupils_per_teacher: float


# 41 schools in all.
SHAPES = (
    SchoolShape("primary", "urban", 6, (1400, 2600), 17.0),
    SchoolShape("junior", "urban", 3, (1200, 2200), 12.5),
    SchoolShape("nine_year", "urban", 2, (1800, 2800), 14.0),
    SchoolShape("primary", "town", 8, (500, 1300), 16.0),
    SchoolShape("junior", "town", 5, (600, 1500), 12.0),
    SchoolShape("nine_year", "town", 3, (700, 1400), 13.0),
    SchoolShape("primary", "rural", 7, (90, 420), 13.0),
    SchoolShape("nine_year", "rural", 2, (250, 600), 11.0),
    SchoolShape("teaching_point", "rural", 5, (12, 60), 8.0),
)

LEVEL_NAMES = {
    "primary": "小学",
    "junior": "中学",
    "nine_year": "九年一贯制学校",
    "teaching_point": "教学点",
}
PLACE_NAMES = (
    "城关",
    "东城",
    "西城",
    "南关",
    "北街",
    "新华",
    "解放",
    "团结",
    "幸福",
    "和平",
    "红旗",
    "光明",
    "英阿瓦提",
    "托万",
    "阿克然",
    "库木",
    "喀拉",
    "巴格",
    "吐格曼",
    "铁热克",
)


class DemoExists(Exception):
    """The demo county is already in the database."""


def seed_demo_county(now: datetime | None = None, seed: int = 20261124) -> Campaign:
    """Create the demo campaign with its school frame, lists and open link, draw its
    plan (:data:`DEMO_DRAW_SEED`) and open it: open for a week before ``now`` (so
    simulated fieldwork has days to spread over) and for 30 days from it."""
    if db.session.scalar(select(Campaign).where(Campaign.county_code == DEMO_COUNTY_CODE)):
        raise DemoExists(DEMO_COUNTY_CODE)
    now = now or datetime.now(UTC)
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    campaign = Campaign(
        key=DEMO_CAMPAIGN_KEY,
        county_code=DEMO_COUNTY_CODE,
        county_name=DEMO_COUNTY_NAME,
        stage="self",
        status="draft",  # drawn in preparation, then opened (below)
        opens_at=now - timedelta(days=7),
        closes_at=now + timedelta(days=30),
        resident_population=418_600,
    )
    db.session.add(campaign)
    db.session.flush()
    strata: dict[tuple[str, str], Stratum] = {}
    schools: list[School] = []
    serial = 0
    for shape in SHAPES:
        key = (shape.location, shape.level)
        if key not in strata:
            strata[key] = Stratum.of_schools(campaign.id, shape.location, shape.level)
            db.session.add(strata[key])
            db.session.flush()
        for _index in range(shape.count):
            serial += 1
            enrolment = rng.randint(*shape.enrolment)
            place = PLACE_NAMES[serial % len(PLACE_NAMES)]
            schools.append(
                School(
                    campaign_id=campaign.id,
                    stratum_id=strata[key].id,
                    code=f"2{DEMO_COUNTY_CODE}{serial:03d}",
                    name=f"{DEMO_COUNTY_NAME}{place}第{serial}{LEVEL_NAMES[shape.level]}",
                    level=shape.level,
                    location=shape.location,
                    enrolment=enrolment,
                    teachers=max(2, round(enrolment / shape.pupils_per_teacher)),
                )
            )
    db.session.add_all(schools)
    enrolled = sum(s.enrolment for s in schools)
    populations = {
        # Students from grade 3 up: about 7 of 9 grades.
        "student": round(enrolled * 7 / 9),
        # One answering parent per family, some families with two children at school.
        "parent": round(enrolled * 0.85),
        "teacher": sum(s.teachers for s in schools) - len(schools),
        "principal": len(schools),
        "deputy": 212,
        "member": 187,
        "resident": 418_600 - enrolled - round(enrolled * 1.7),
    }
    db.session.add_all(
        GroupPopulation(campaign_id=campaign.id, respondent_group=group, population=count)
        for group, count in populations.items()
    )
    db.session.flush()
    # Deputies and members are drawn from their own lists, residents answer through an
    # open link of the county town: strata of their own, not attached to any school.
    for group in LIST_GROUPS:
        lists.set_list(campaign, group, list_size=populations[group], now=now)
    open_links.create_open_link(
        campaign,
        slug=DEMO_AREA,
        label="城关镇",
        quota=300,
        population=round(populations["resident"] * 0.3),
        now=now,
    )
    # The staff pages show a drawn plan: the schools and list members of the fieldwork.
    draw.draw_schools(campaign, DEMO_DRAW_SEED, now, respondents=DEMO_RESPONDENTS)
    campaign.status = "open"
    db.session.flush()
    return campaign


DEMO_ACCOUNTS = (
    ("admin", "admin@demo.invalid"),
    ("supervisor", "supervisor@demo.invalid"),
    ("evaluator", "evaluator@demo.invalid"),
)


def reset_demo_accounts() -> list[tuple[str, str, str]]:
    """(role, e-mail, password) of the demo's accounts, each with a new random password;
    the supervisor and the evaluator are given the demo campaign."""
    from survey_app.auth.services import create_user, set_password

    logins = []
    for role, email in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            keys = () if role == "admin" else (DEMO_CAMPAIGN_KEY,)
            create_user(email, role, password, keys)
        else:
            set_password(user, password)
        logins.append((role, email, password))
    return logins


def demo_campaign() -> Campaign | None:
    return db.session.scalar(select(Campaign).where(Campaign.county_code == DEMO_COUNTY_CODE))


def demo_open_link(campaign: Campaign) -> OpenLink | None:
    return db.session.scalar(
        select(OpenLink)
        .join(Stratum, OpenLink.stratum_id == Stratum.id)
        .where(OpenLink.campaign_id == campaign.id, Stratum.code == area_stratum_code(DEMO_AREA))
    )


def demo_outreach_codes(campaign: Campaign, respondent_group: str, n: int) -> list[str]:
    """Codes of a group not reached through schools: a list's people (deputies,
    members), or residents of the demo's open-link area (a demo shortcut: real
    residents take a slot of the open link itself)."""
    if respondent_group in LIST_GROUPS:
        frame = lists.list_of(campaign, respondent_group)
        assert frame is not None  # noqa: S101 - seeded with the county
        return issue_list_codes(frame, n, expires_at=campaign.closes_at)
    link = demo_open_link(campaign)
    assert link is not None  # noqa: S101 - seeded with the county
    made = new_codes(campaign.id, link.stratum_id, respondent_group, n)
    return [display for display, _row in made]


def schools_for_group(campaign: Campaign, respondent_group: str) -> list[School]:
    """Schools through which a group is reached: those in the field when the campaign
    has a drawn plan (else its whole frame), students not at the tiniest 教学点."""
    schools = list(
        db.session.scalars(
            select(School).where(School.campaign_id == campaign.id).order_by(School.id)
        )
    )
    plan = draw.plan_of(campaign)
    if plan is not None:
        in_field = {row.school_id for row in plan.schools if row.in_field}
        schools = [school for school in schools if school.id in in_field]
    if respondent_group == STUDENT:
        return [s for s in schools if s.level != "teaching_point" or s.enrolment >= 20]
    return schools
