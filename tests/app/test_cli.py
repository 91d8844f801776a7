from __future__ import annotations

import re

from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import GroupPopulation, OneTimeCode, School, Stratum
from survey_app.vocabulary import LOCATIONS, RESPONDENT_GROUPS, SCHOOL_LEVELS


def test_demo_seed_builds_a_realistic_county(runner, app_ctx):
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    schools = db.session.scalars(select(School)).all()
    assert 35 <= len(schools) <= 45
    assert {s.level for s in schools} == set(SCHOOL_LEVELS)
    assert {s.location for s in schools} == set(LOCATIONS)
    assert all(s.enrolment > 0 and s.teachers > 0 for s in schools)
    rows = db.session.execute(select(GroupPopulation.respondent_group, GroupPopulation.population))
    populations = {group: count for group, count in rows}
    assert set(populations) == set(RESPONDENT_GROUPS)
    assert all(count > 0 for count in populations.values())
    assert db.session.scalar(select(func.count()).select_from(Stratum)) >= 6
    again = runner.invoke(args=["demo", "seed"])
    assert again.exit_code == 0
    assert "already" in again.output


def test_demo_codes_prints_working_links(runner, client, app_ctx):
    runner.invoke(args=["demo", "seed"])
    result = runner.invoke(args=["demo", "codes", "--group", "parent", "--n", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 3
    pattern = re.compile(r"^([0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5})  http://survey\.test/r/\1$")
    assert all(pattern.match(line) for line in lines), lines
    assert db.session.scalar(select(func.count()).select_from(OneTimeCode)) == 3
    code = lines[0].split()[0]
    assert client.get(f"/r/{code}").status_code == 302


def test_demo_codes_needs_a_seeded_county(runner, app_ctx):
    result = runner.invoke(args=["demo", "codes", "--group", "parent"])
    assert result.exit_code != 0
    assert "demo seed" in result.output


def test_questionnaires_check_passes_on_shipped_files(runner):
    result = runner.invoke(args=["questionnaires", "check"])
    assert result.exit_code == 0, result.output


def test_questionnaires_publish_is_idempotent_for_published_versions(runner):
    result = runner.invoke(args=["questionnaires", "publish", "public"])
    assert result.exit_code == 0, result.output
    assert "public.v" in result.output


def test_questionnaires_publish_unknown_key_is_a_clear_error(runner):
    result = runner.invoke(args=["questionnaires", "publish", "nope"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
