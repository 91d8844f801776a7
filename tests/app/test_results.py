"""Results from the database: the loader's weights and answers on a hand-built campaign,
and the group rates and surveyed_county score against R's survey package on the same rows."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from questionnaires import load_version
from survey_app.extensions import db
from survey_app.models import PlanQuota, PlanSchool, Response
from survey_app.results.evaluation import evaluate_campaign, evaluation_json
from survey_app.results.loader import load_campaign
from tests.app.conftest import same_as_r
from tests.factories import PER_SCHOOL, make_campaign

CHECK_RESULTS = Path(__file__).resolve().parents[1] / "reference" / "check_results.R"
NOW = datetime.now(UTC)


def test_the_loader_weighs_each_response_by_its_cell(surveyed_county):
    data = load_campaign(surveyed_county)
    assert data.set_aside == {"school_not_in_plan": 1}
    responses = db.session.execute(
        select(Response.id, Response.respondent_group, Response.school_id).order_by(Response.id)
    ).all()
    kept = [r for r in responses if r.school_id is None or r.school_id in _pi()]
    assert data.n == len(kept)
    pi = _pi()
    population = {
        (q.school_id, q.respondent_group): q.population
        for q in db.session.scalars(select(PlanQuota))
    }
    for row, weight, fpc, psu in zip(kept, data.weights, data.fpc, data.psu, strict=True):
        if row.respondent_group == "deputy":
            assert weight == pytest.approx(40 / 5)
            assert fpc == 40
            assert psu == f"response-{row.id}"
        elif row.respondent_group == "resident":
            assert weight == pytest.approx(5000 / 8)
            assert math.isinf(fpc)
        else:
            m = PER_SCHOOL[row.respondent_group]
            expected = population[(row.school_id, row.respondent_group)] / m / pi[row.school_id]
            assert weight == pytest.approx(expected)
            assert math.isinf(fpc)
            assert psu == f"school-{row.school_id}"
    assert set(data.separately_drawn) == {"deputy", "resident"}
    assert set(data.strata) >= {"rural-primary", "town-junior", "list-deputy", "area-town"}


def test_the_loader_reads_recognised_not_and_dont_know(surveyed_county):
    data = load_campaign(surveyed_county)
    first = db.session.scalars(select(Response).order_by(Response.id)).first()
    questionnaire = load_version(first.questionnaire_key, first.questionnaire_version)
    row = 0
    for answer in first.answers:
        column = data.items.index(f"{first.questionnaire_key}.{answer.item_id}")
        item = questionnaire.item(answer.item_id)
        value = data.recognised[row, column]
        if answer.value == item.dont_know_code:
            assert np.isnan(value)
        else:
            assert value == (1.0 if answer.value in item.recognised_codes else 0.0)
        assert data.item_areas[column] == item.area
    asked = {f"{first.questionnaire_key}.{a.item_id}" for a in first.answers}
    for column, item in enumerate(data.items):
        if item not in asked:
            assert np.isnan(data.recognised[row, column])


def test_group_rates_and_the_county_score_equal_rs(surveyed_county, tmp_path):
    if shutil.which("Rscript") is None:
        pytest.fail("Rscript is missing: ./dev setup installs R (r-cran-survey)")
    evaluation = evaluate_campaign(surveyed_county)
    found = evaluation_json(evaluation)
    data = evaluation.data
    rows = tmp_path / "rows.csv"
    with rows.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["group", "stratum", "psu", "w", "fpc", "rec", "ans"])
        for i in range(data.n):
            answered = ~np.isnan(data.recognised[i])
            writer.writerow(
                [
                    data.groups[i],
                    data.strata[i],
                    data.psu[i],
                    repr(float(data.weights[i])),
                    "Inf" if math.isinf(data.fpc[i]) else int(data.fpc[i]),
                    int(np.nansum(data.recognised[i])),
                    int(answered.sum()),
                ]
            )
    policy = tmp_path / "weights.json"
    policy.write_text(json.dumps({g["group"]: g["policy_weight"] for g in found["groups"]}))
    ran = subprocess.run(  # noqa: S603 - our own script on our own files
        ["Rscript", str(CHECK_RESULTS), str(rows), str(policy)],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    )
    r = json.loads(ran.stdout)
    same_as_r(found, r)
    assert found["county"]["verdict"] in ("met", "not_met", "inconclusive")


def test_the_command_prints_the_contract(surveyed_county, runner):
    db.session.commit()
    done = runner.invoke(args=["results", "--campaign", surveyed_county.key, "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.output)
    assert set(found["county"]) >= {"estimate", "se", "ci_low", "ci_high", "p_value", "verdict"}
    keys = {"group", "policy_weight", "estimate", "se", "ci_low", "ci_high", "n", "n_eff"}
    for group in found["groups"]:
        assert set(group) >= keys | {"verdict"}
    assert found["areas"]
    assert all("area" in a and "estimate" in a for a in found["areas"])
    assert all("item" in i and "verdict" in i for i in found["items"])
    assert sum(g["policy_weight"] for g in found["groups"]) == pytest.approx(1)


def test_the_command_refuses_what_it_cannot_evaluate(runner, app_ctx):
    assert runner.invoke(args=["results", "--campaign", "nope"]).exit_code == 2
    empty = make_campaign()
    db.session.commit()
    done = runner.invoke(args=["results", "--campaign", empty.key])
    assert done.exit_code == 2
    assert "no responses" in done.output


def _pi() -> dict[int, float]:
    return {
        row.school_id: row.inclusion_probability
        for row in db.session.scalars(select(PlanSchool))
        if row.selected
    }
