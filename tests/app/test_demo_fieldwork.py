"""Simulated fieldwork (``survey_app/demo_fieldwork.py``, ``flask demo fieldwork``): the
responses land in the plan's cells as planned, through the respondents' services."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from questionnaires import load_version
from survey_app import demo_fieldwork
from survey_app.auth import services as auth
from survey_app.demo import DEMO_CAMPAIGN_KEY
from survey_app.extensions import db
from survey_app.models import (
    Answer,
    Campaign,
    ListFrame,
    OneTimeCode,
    OpenLink,
    Response,
    School,
    Stratum,
)
from survey_app.plan import changes, code_batches, draw, lists
from survey_app.plan.issuing import issue_codes
from survey_app.respond import open_links as respond_links
from survey_app.respond import services
from tests.app.conftest import csrf_token
from tests.factories import make_campaign, make_plan, make_school

NOW = datetime.now(UTC).replace(microsecond=0)


def _simulate(campaign: Campaign, n: int, seed: int = 1) -> demo_fieldwork.FieldworkResult:
    return demo_fieldwork.simulate_fieldwork(campaign, n, seed=seed, now=NOW)


def _count(statement) -> int:
    return int(db.session.scalar(statement) or 0)


def _digest(campaign_id: int, *, times: bool = True) -> str:
    """The answer table and each response's cell (and when and how fast it was answered,
    unless not ``times``), in an order that names no row id."""
    timing = (Response.submitted_minute, Response.duration_seconds) if times else ()
    rows = db.session.execute(
        select(
            Response.id,
            Response.respondent_group,
            Response.school_id,
            Response.stratum_id,
            Response.reading_level,
            Response.language,
            Response.comment,
            *timing,
        ).where(Response.campaign_id == campaign_id)
    ).all()
    answers: dict[int, list[tuple[str, int]]] = {}
    for response_id, item_id, value in db.session.execute(
        select(Answer.response_id, Answer.item_id, Answer.value).where(
            Answer.campaign_id == campaign_id
        )
    ):
        answers.setdefault(response_id, []).append((item_id, value))
    lines = sorted(repr((*row[1:], sorted(answers[row[0]]))) for row in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def test_responses_are_spread_over_the_plan_as_planned(campaign):
    plan = draw.plan_of(campaign)
    assert plan is not None  # the demo is drawn when seeded
    result = _simulate(campaign, 600, seed=3)
    assert result.responses == 600
    responses = db.session.execute(
        select(Response, Stratum.code, Stratum.kind)
        .join(Stratum, Response.stratum_id == Stratum.id)
        .where(Response.campaign_id == campaign.id)
    ).all()
    assert len(responses) == 600
    by_group = Counter(response.respondent_group for response, _code, _kind in responses)
    assert dict(by_group) == result.per_group
    assert set(by_group) == {
        "student",
        "parent",
        "teacher",
        "principal",
        "deputy",
        "member",
        "resident",
    }
    # In proportion to what is planned times each group's turnout (schools' turnouts
    # differ around it): students and parents the largest shares.
    assert {by_group["student"], by_group["parent"]} == set(sorted(by_group.values())[-2:])
    cells = demo_fieldwork.planned_cells(campaign)
    expected = Counter()
    for cell in cells:
        expected[cell.respondent_group] += (
            cell.planned * demo_fieldwork.TURNOUT[cell.respondent_group]
        )
    total = sum(expected.values())
    for group, n in by_group.items():
        assert abs(n / 600 - expected[group] / total) < 0.02, (group, n, expected)
    # Every response in its cell's stratum.
    in_field = {row.school_id: row.stratum_id for row in plan.schools if row.in_field}
    schools = {s.id: s for s in db.session.scalars(select(School))}
    for response, code, kind in responses:
        if response.respondent_group in ("deputy", "member"):
            assert (kind, code, response.school_id) == (
                "list",
                f"list-{response.respondent_group}",
                None,
            )
        elif response.respondent_group == "resident":
            assert (kind, code, response.school_id) == ("area", "area-chengguan", None)
        else:
            assert kind == "school"
            assert in_field[response.school_id] == response.stratum_id
        if response.respondent_group == "student":
            school = schools[response.school_id]
            expected = {"junior": {"junior"}, "nine_year": {"primary", "junior"}}
            assert response.reading_level in expected.get(school.level, {"primary"})
        else:
            assert response.reading_level is None
    # Every school stratum of the plan answered.
    school_strata = {code for _r, code, kind in responses if kind == "school"}
    assert school_strata == {entry.stratum.code for entry in plan.strata if entry.schools_drawn}
    # Nine-year schools' students read both questionnaires.
    nine_year = {
        r.reading_level
        for r, _c, _k in responses
        if r.respondent_group == "student" and schools[r.school_id].level == "nine_year"
    }
    assert nine_year == {"primary", "junior"}
    # The plan's codes were issued, as the codes page issues them, and 600 came back; the
    # open link is within its quota.
    statuses = dict(
        db.session.execute(
            select(OneTimeCode.status, func.count())
            .where(OneTimeCode.campaign_id == campaign.id)
            .group_by(OneTimeCode.status)
        ).all()
    )
    planned_codes = sum(q.planned for q in plan.quotas) + sum(
        len(frame.drawn_positions or []) for frame in db.session.scalars(select(ListFrame))
    )
    assert statuses["used"] == 600
    assert statuses["issued"] + 600 == planned_codes + by_group["resident"]  # + link slots
    link = db.session.scalar(select(OpenLink).where(OpenLink.campaign_id == campaign.id))
    assert link.reserved == by_group["resident"] <= link.quota
    # Inside the fieldwork window, spread over the days, with realistic durations.
    minutes = [r.submitted_minute.replace(tzinfo=UTC) for r, _c, _k in responses]
    assert min(minutes) >= campaign.opens_at.replace(tzinfo=UTC) - timedelta(minutes=1)
    assert max(minutes) <= NOW
    assert len({m.date() for m in minutes}) >= 5
    durations = [r.duration_seconds for r, _c, _k in responses]
    assert all(60 <= d <= 1800 for d in durations)
    assert Counter(r.language for r, _c, _k in responses).keys() == {"zh_Hans", "ug"}


def test_the_answers_look_like_a_county_with_two_groups_below_85(campaign, capsys):
    started = time.perf_counter()
    result = _simulate(campaign, 2000, seed=20261124)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        dialect = db.engine.dialect.name
        print(f"\n2000 simulated responses on {dialect}: {elapsed:.1f} s")
    assert result.responses == 2000
    rows = db.session.execute(
        select(
            Response.respondent_group,
            Response.questionnaire_key,
            Response.questionnaire_version,
            Answer.item_id,
            Answer.value,
        )
        .join(Answer, Answer.response_id == Response.id)
        .where(Response.campaign_id == campaign.id)
    ).all()
    recognised: Counter[str] = Counter()
    known: Counter[str] = Counter()
    dont_know = 0
    options: Counter[int] = Counter()
    for group, key, version, item_id, value in rows:
        item = load_version(key, version).item(item_id)
        assert value in item.scale.codes
        if value == item.dont_know_code:
            dont_know += 1
            continue
        known[group] += 1
        recognised[group] += value in item.recognised_codes
        options[value] += 1
    rates = {group: recognised[group] / known[group] for group in known}
    assert rates["teacher"] < 0.85
    assert rates["resident"] < 0.85
    for group in ("student", "parent", "principal", "deputy", "member"):
        assert rates[group] > 0.85, (group, rates)
    assert 0.03 < dont_know / len(rows) < 0.08
    # 满意 (4) most, then 比较满意, 基本满意; 不满意 (1) the rarest.
    assert options[4] > options[3] > options[2] > options[1] > 0
    # Within the plan (./dev's demo): no list gives more than its drawn members, and no
    # school's group more than it plans
    for frame in db.session.scalars(select(ListFrame)):
        answered = _count(select(func.count()).where(Response.stratum_id == frame.stratum_id))
        assert 0 < answered <= len(frame.drawn_positions)
    plan = draw.plan_of(campaign)
    assert plan is not None
    for quota in plan.quotas:
        answered = _count(
            select(func.count()).where(
                Response.school_id == quota.school_id,
                Response.respondent_group == quota.respondent_group,
            )
        )
        assert answered <= quota.planned, (quota.school.code, quota.respondent_group)


def test_codes_come_back_at_rates_that_differ_as_in_the_field(campaign):
    """The plan's codes are issued and not all answered: response rates below 100%,
    different between schools and between groups (parents less than teachers), none
    above 100%; codes issued before the simulation are left as they are."""
    plan = draw.plan_of(campaign)
    assert plan is not None
    school = plan.quotas[0].school
    earlier = issue_codes(school, "parent", 2, expires_at=campaign.closes_at)
    _simulate(campaign, 2000, seed=20261124)
    progress = code_batches.quota_progress(plan)
    for row in progress:  # the codes issued before count towards the plan
        assert row.issued == row.planned, (row.school.code, row.respondent_group)
        assert row.used <= row.planned
    assert all(services.find_code(code).status == "issued" for code in earlier)
    rates: dict[str, list[float]] = {}
    for row in progress:
        if row.respondent_group in ("student", "parent", "teacher") and row.issued:
            rates.setdefault(row.respondent_group, []).append(row.used / row.issued)
    every = [rate for group in rates.values() for rate in group]
    assert 0.8 < sum(row.used for row in progress) / sum(row.issued for row in progress) < 0.95
    assert min(every) < 0.7  # a school that brought few in
    assert max(every) == 1.0  # and one that brought everyone
    mean = {group: sum(r) / len(r) for group, r in rates.items()}
    assert mean["parent"] < mean["student"] < mean["teacher"], mean
    for frame in lists.lists_of(campaign):
        drawn = len(frame.drawn_positions or [])
        answered = _count(select(func.count()).where(Response.stratum_id == frame.stratum_id))
        assert answered < drawn == lists.codes_of(frame)


def test_turnout_shares_the_responses_in_proportion_within_the_plan():
    cells = [demo_fieldwork.Cell("parent", 30, 500), demo_fieldwork.Cell("parent", 30, 40)]
    assert demo_fieldwork.allocate_responses(cells, 30, [0.9, 0.6]) == [18, 12]
    # the better cell is full at its plan; the rest goes to the other
    assert demo_fieldwork.allocate_responses(cells, 50, [0.9, 0.3]) == [30, 20]
    # past the plan: by room, as without turnout
    assert demo_fieldwork.allocate_responses(cells, 100, [0.9, 0.3])[1] <= 40


def test_responses_past_the_plan_go_to_schools_never_past_a_list_or_a_link():
    """More responses than planned (the benches fill large campaigns): shares as planned
    while there is room, a list's cell never past its drawn members nor a link's past its
    free slots, the rest where the schools have people."""
    cells = [
        demo_fieldwork.Cell("parent", 30, 500),
        demo_fieldwork.Cell("parent", 30, 40),
        demo_fieldwork.Cell("deputy", 40, 40),
        demo_fieldwork.Cell("resident", 300, 150),
    ]
    assert demo_fieldwork.allocate_responses(cells, 200) == [15, 15, 20, 150]  # as planned
    assert demo_fieldwork.allocate_responses(cells, 500) == [270, 40, 40, 150]
    assert demo_fieldwork.allocate_responses(cells, 700) == [470, 40, 40, 150]
    with pytest.raises(demo_fieldwork.FieldworkRefused, match="room for 730 responses"):
        demo_fieldwork.allocate_responses(cells, 731)


def test_the_same_seed_gives_the_same_answers(campaign):
    def run(seed: int) -> str:
        savepoint = db.session.begin_nested()
        _simulate(db.session.get(Campaign, campaign.id), 150, seed=seed)
        digest = _digest(campaign.id)
        savepoint.rollback()
        return digest

    first = run(7)
    assert _count(select(func.count()).select_from(Response)) == 0  # rolled back
    assert run(7) == first
    assert run(8) != first


def test_the_answers_do_not_depend_on_when_the_fieldwork_is_simulated(campaign):
    """A longer window moves the start times (drawn until one falls in the daytime)
    but not the answers: a test of a seed's answers holds whatever day it runs."""

    def run(now: datetime) -> tuple[str, str]:
        savepoint = db.session.begin_nested()
        c = db.session.get(Campaign, campaign.id)
        demo_fieldwork.simulate_fieldwork(c, 150, seed=7, now=now)
        digests = _digest(campaign.id, times=False), _digest(campaign.id)
        savepoint.rollback()
        return digests

    answers, timed = run(NOW)
    earlier_answers, earlier_timed = run(NOW - timedelta(days=2, hours=5, minutes=17))
    assert earlier_answers == answers
    assert earlier_timed != timed  # the times did move


def test_the_open_link_never_fills_past_its_quota(campaign):
    link = db.session.scalar(select(OpenLink).where(OpenLink.campaign_id == campaign.id))
    state = respond_links.find_link(link.token)
    for _index in range(link.quota - 4):  # real residents answering right now
        respond_links.reserve_slot(state, NOW)
    db.session.flush()
    result = _simulate(campaign, 1000)
    db.session.refresh(link)
    # Half of the 4 free slots at most: the link stays open for real phones.
    assert link.reserved == link.quota - 2
    assert result.per_group["resident"] == 2
    assert result.responses == 1000  # the rest went to the other cells
    left = _count(
        select(func.count()).where(
            OneTimeCode.stratum_id == link.stratum_id, OneTimeCode.status == "issued"
        )
    )
    assert left == link.quota - 4  # only the real residents' slots are still open


def test_a_refused_school_gets_no_responses_its_substitute_does(campaign):
    plan = draw.plan_of(campaign)
    undrawn = {row.stratum_id for row in plan.schools if not row.selected and row.size}
    refused = next(row for row in plan.schools if row.selected and row.stratum_id in undrawn)
    refused = refused.school
    done = changes.replace_school(campaign, refused.code, "closed for repairs")
    _simulate(campaign, 800)
    at = {
        school_id: n
        for school_id, n in db.session.execute(
            select(Response.school_id, func.count()).group_by(Response.school_id)
        )
    }
    assert refused.id not in at
    assert at[done.substitute.school.id] > 0


def _signed_in(client, role: str):
    auth.create_user(f"{role}@example.org", role, f"{role} password", [DEMO_CAMPAIGN_KEY])
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": f"{role}@example.org", "password": f"{role} password"}
    assert client.post("/staff/login", data=data).status_code == 302
    return client


def test_the_staff_pages_show_the_simulated_fieldwork(campaign, client):
    _simulate(campaign, 300)
    db.session.commit()
    supervisor = _signed_in(client, "supervisor")
    for path in ("/plan/demo/", "/plan/demo/fieldwork", "/plan/demo/fieldwork.csv"):
        assert supervisor.get(path).status_code == 200, path


def test_the_results_page_shows_the_simulated_fieldwork(campaign, client):
    _simulate(campaign, 300)
    db.session.commit()
    assert _signed_in(client, "evaluator").get("/results/demo/").status_code == 200


def test_the_command_fills_the_demo_once_with_if_empty(runner, campaign):
    args = ["demo", "fieldwork", "--campaign", DEMO_CAMPAIGN_KEY, "--responses", "40"]
    result = runner.invoke(args=[*args, "--seed", "5", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Stored 40 simulated responses in demo: ")
    assert "parent " in result.output
    assert _count(select(func.count()).select_from(Response)) == 40
    again = runner.invoke(args=[*args, "--if-empty"])
    assert again.exit_code == 0, again.output
    assert "nothing simulated" in again.output
    assert _count(select(func.count()).select_from(Response)) == 40
    more = runner.invoke(args=args)  # without --if-empty: as many more
    assert more.exit_code == 0, more.output
    assert _count(select(func.count()).select_from(Response)) == 80


@pytest.mark.parametrize(
    ("setup", "arguments", "message"),
    [
        ("none", ["--campaign", "nope", "--responses", "5"], "no campaign 'nope'"),
        ("undrawn", ["--responses", "5"], "has no drawn plan"),
        ("draft", ["--responses", "5"], "is draft, not open"),
        ("demo", ["--responses", "0"], "--responses is 1 to 200000"),
        ("demo", ["--responses", "200001"], "--responses is 1 to 200000"),
        ("demo", ["--responses", "5", "--seed", "-1"], "--seed"),
        ("demo", ["--responses", "5", "--coach", "-1"], "--coach is 0 to 1000"),
        ("demo", ["--responses", "50", "--coach", "3"], "cannot coach 3"),
    ],
)
def test_the_command_refuses_in_one_line(runner, app_ctx, setup, arguments, message):
    key = DEMO_CAMPAIGN_KEY
    if setup == "demo":
        from survey_app.demo import seed_demo_county

        seed_demo_county(now=NOW)
    elif setup in ("undrawn", "draft"):
        county = make_campaign(open_now=setup == "undrawn")
        make_school(county)
        make_school(county)
        if setup == "draft":
            make_plan(county)
        key = county.key
    db.session.commit()
    result = runner.invoke(args=["demo", "fieldwork", "--campaign", key, *arguments])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert _count(select(func.count()).select_from(Response)) == 0
