"""``flask --app wsgi campaign create`` and ``flask --app wsgi plan import-frame``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Campaign, School
from tests.app.test_frame_import import GOOD

CREATE = [
    "campaign",
    "create",
    "--key",
    "2026-hx-self",
    "--county-code",
    "659001",
    "--county-name",
    "和县",
    "--stage",
    "self",
    "--population",
    "420000",
    "--opens",
    "2026-12-10",
    "--closes",
    "2026-12-24",
]


def test_campaign_create(runner, app_ctx):
    result = runner.invoke(args=CREATE)
    assert result.exit_code == 0, result.output
    assert "Created campaign 2026-hx-self: 和县 (self)." in result.output
    campaign = db.session.scalar(select(Campaign).filter_by(key="2026-hx-self"))
    assert (campaign.status, campaign.threshold, campaign.verdict_rule) == (
        "draft",
        0.85,
        "confidence",
    )
    assert campaign.policy_weights is None
    # Whole days in China's time: opens at 00:00 on the 10th, closes at 24:00 on the 24th.
    opens = campaign.opens_at.replace(tzinfo=campaign.opens_at.tzinfo or UTC)
    closes = campaign.closes_at.replace(tzinfo=campaign.closes_at.tzinfo or UTC)
    assert opens == datetime(2026, 12, 9, 16, 0, tzinfo=UTC)
    assert closes == datetime(2026, 12, 24, 16, 0, tzinfo=UTC)


def test_campaign_create_with_a_rule_and_weights(runner, app_ctx):
    weights = ["--weight", "parent=0.6", "--weight", "student=0.2", "--weight", "teacher=0.2"]
    result = runner.invoke(args=[*CREATE, "--threshold", "0.9", "--rule", "point", *weights])
    assert result.exit_code == 0, result.output
    campaign = db.session.scalar(select(Campaign).filter_by(key="2026-hx-self"))
    assert (campaign.threshold, campaign.verdict_rule) == (0.9, "point")
    assert campaign.policy_weights == {"parent": 0.6, "student": 0.2, "teacher": 0.2}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--key": "Bad Key"}, "--key: 1-40 lower-case letters"),
        ({"--county-code": "65900"}, "--county-code: six digits"),
        ({"--population": "0"}, "--population: a whole number of residents above 0"),
        ({"--closes": "2026-12-01"}, "--closes: the fieldwork cannot close before it opens"),
        ({"--threshold": "1.5"}, "--threshold: a share between 0 and 1"),
        ({"--weight": "parent=0.7"}, "--weight: the weights add up to 0.7, not 1"),
        ({"--weight": "parent"}, "--weight parent: give GROUP=SHARE"),
        ({"--weight": "boss=1"}, "--weight boss=1: the group is one of"),
    ],
)
def test_campaign_create_refuses_bad_input_in_one_line(runner, app_ctx, change, message):
    arguments = list(CREATE)
    for option, value in change.items():
        if option in arguments:
            arguments[arguments.index(option) + 1] = value
        else:
            arguments += [option, value]
    result = runner.invoke(args=arguments)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"Error: {message}"), line
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_a_key_is_taken_once(runner, app_ctx):
    assert runner.invoke(args=CREATE).exit_code == 0
    again = runner.invoke(args=CREATE)
    assert again.exit_code == 2
    assert "--key: a campaign with the key 2026-hx-self exists already" in again.output


def test_import_frame(runner, app_ctx, tmp_path):
    runner.invoke(args=CREATE)
    frame = tmp_path / "frame.csv"
    frame.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(args=["plan", "import-frame", "--campaign", "2026-hx-self", str(frame)])
    assert result.exit_code == 0, result.output
    assert "Imported 4 schools in 4 strata into 2026-hx-self." in result.output
    again = runner.invoke(args=["plan", "import-frame", "--campaign", "2026-hx-self", str(frame)])
    assert "(replacing 4)" in again.output


def test_import_frame_prints_one_line_per_problem_and_exits_2(runner, app_ctx, tmp_path):
    runner.invoke(args=CREATE)
    frame = tmp_path / "frame.csv"
    frame.write_text(GOOD + "x,甲,primary,urban,-1,1\ny,乙,primary,nowhere,1,1\n", "utf-8")
    result = runner.invoke(args=["plan", "import-frame", "--campaign", "2026-hx-self", str(frame)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "line 6, enrolment: not a whole number ≥ 0",
        "line 7, location: one of urban, town, rural (or 城区, 镇区, 乡村)",
    ]
    assert db.session.scalar(select(func.count()).select_from(School)) == 0


def test_import_frame_refusals(runner, app_ctx, campaign, tmp_path):
    frame = tmp_path / "frame.csv"
    frame.write_text(GOOD, encoding="utf-8")
    unknown = runner.invoke(args=["plan", "import-frame", "--campaign", "nope", str(frame)])
    assert (unknown.exit_code, unknown.output.strip()) == (
        2,
        "Error: no campaign with the key 'nope'",
    )
    locked = runner.invoke(args=["plan", "import-frame", "--campaign", campaign.key, str(frame)])
    assert locked.exit_code == 2
    assert "its frame can no longer be replaced" in locked.output


def test_plan_size_for_a_margin_beside_the_national_practice(runner, app_ctx, campaign):
    arguments = ["plan", "size", "--p", "0.85", "--margin", "0.05", "--m", "15", "--rho", "0.05"]
    result = runner.invoke(args=[*arguments, "--cv-weights", "0.3", "--campaign", campaign.key])
    assert result.exit_code == 0, result.output
    assert "n0 = 363.0 → 364" in result.output
    assert (
        "national practice (1.5‰ of 418600 residents): 628, parents at least 314" in result.output
    )
    assert result.output.strip().endswith("required: 628")


def test_plan_size_json_for_the_test_of_the_85_percent_line(runner, app_ctx):
    arguments = ["plan", "size", "--p1", "0.90", "--deff", "1.853", "--population", "2000"]
    result = runner.invoke(args=[*arguments, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["n0"] == pytest.approx(522.762, abs=1e-3)
    assert (payload["n"], payload["required"], payload["national"]) == (415, 415, None)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--p", "0.85"], "give --p and --margin"),
        (["--p", "0.85", "--margin", "0.05", "--p1", "0.9"], "give --p and --margin"),
        (["--p1", "0.9", "--power", "2"], "--power: between 0.5 and 1"),
        (["--p1", "0.9", "--deff", "0.4"], "--deff: a design effect of 1 or more"),
        (["--p1", "0.9", "--campaign", "nope"], "no campaign with the key 'nope'"),
    ],
)
def test_plan_size_refuses_bad_input_in_one_line(runner, app_ctx, arguments, message):
    result = runner.invoke(args=["plan", "size", *arguments])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line == f"Error: {message}" or line.startswith(f"Error: {message}")
