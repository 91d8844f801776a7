"""Results from the database: the loader's weights and answers on a hand-built campaign,
and the group rates and surveyed_county score against R's survey package on the same rows."""

from __future__ import annotations

import csv
import json
import shutil
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, update

from questionnaires import load_version
from survey_app.extensions import db
from survey_app.models import PlanQuota, PlanSchool, Response
from survey_app.results.evaluation import evaluate_campaign, evaluation_json
from survey_app.results.loader import _Stored, load_campaign
from survey_app.results.page import _durations
from tests.app.conftest import same_as_r
from tests.factories import PER_SCHOOL, make_campaign

CHECK_RESULTS = Path(__file__).resolve().parents[1] / "reference" / "check_results.R"
NOW = datetime.now(UTC)


def test_the_loader_weighs_each_response_by_its_cell(surveyed_county):
    """Weights and the design's fractions by hand from the plan: a school's π and m/M of
    the group there, m/N for the list (5 of 40 deputies), 1e-300 (no fpc) and 1 for the
    open link."""
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
    rows = zip(kept, data.weights, data.pi, data.f2, data.psu, strict=True)
    for row, weight, first, second, psu in rows:
        if row.respondent_group == "deputy":
            assert weight == pytest.approx(40 / 5)
            assert first == pytest.approx(5 / 40)
            assert second == 1.0
            assert psu == -row.id  # each person a PSU of their own
        elif row.respondent_group == "resident":
            assert weight == pytest.approx(5000 / 8)
            assert first == 1e-300
            assert second == 1.0
            assert psu == -row.id
        else:
            m = PER_SCHOOL[row.respondent_group]
            big_m = population[(row.school_id, row.respondent_group)]
            assert weight == pytest.approx(big_m / m / pi[row.school_id])
            assert first == pi[row.school_id]
            assert second == pytest.approx(m / big_m)
            assert psu == row.school_id
    assert set(data.separately_drawn) == {"deputy", "resident"}
    assert set(data.strata) >= {"rural-primary", "town-junior", "list-deputy", "area-town"}


def test_the_page_gives_the_median_answering_time_of_the_responses_analysed(surveyed_county):
    data = load_campaign(surveyed_county)
    kept = set(_pi())
    stored = db.session.execute(
        select(Response.respondent_group, Response.school_id, Response.duration_seconds)
    ).all()
    by_group: dict[str, list[int]] = {}
    for group, school_id, seconds in stored:
        if seconds is not None and (school_id is None or school_id in kept):
            by_group.setdefault(group, []).append(seconds)
    assert by_group
    found = {row["group"]: row for row in _durations(data)}
    assert set(found) == set(by_group)
    for group, seconds in by_group.items():
        assert found[group]["responses"] == len(seconds)
        assert found[group]["median_minutes"] == pytest.approx(statistics.median(seconds) / 60)


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


def test_packed_answers_read_as_the_answer_table_reads(surveyed_county):
    """The packed answers and the long table are the same record: a campaign whose
    responses lost their packed form (stored before it existed) loads the same arrays,
    and so does one where only some did."""
    packed = load_campaign(surveyed_county)
    assert db.session.scalar(select(func.count()).where(Response.answer_codes.is_(None))) == 0
    ids = db.session.scalars(select(Response.id).order_by(Response.id)).all()
    db.session.execute(update(Response).where(Response.id.in_(ids[::3])).values(answer_codes=None))
    some = load_campaign(surveyed_county)
    db.session.execute(update(Response).values(answer_codes=None))
    none = load_campaign(surveyed_county)
    for other in (some, none):
        assert other.items == packed.items
        np.testing.assert_array_equal(other.codes, packed.codes)
        np.testing.assert_array_equal(other.recognised, packed.recognised)
        np.testing.assert_array_equal(other.weights, packed.weights)
    assert (packed.codes >= 0).any()
    assert (packed.codes == -1).any()


@pytest.mark.parametrize("unpacked", [0, 3])
def test_postgresqls_aggregated_read_equals_the_row_by_row_read(surveyed_county, unpacked):
    """On PostgreSQL the loader reads one packed byte string per group and version; it
    must give what reading one row per response gives (every third response without
    its packed answers: records of two lengths). On SQLite both are the row read."""
    ids = db.session.scalars(select(Response.id).order_by(Response.id)).all()
    without = ids[::unpacked] if unpacked else []
    db.session.execute(update(Response).where(Response.id.in_(without)).values(answer_codes=None))
    fast = _Stored.read(surveyed_county)
    rows = _Stored._read_rows(surveyed_county)
    assert set(fast.versions) == set(rows.versions)
    np.testing.assert_array_equal(fast.id, rows.id)
    for name in ("group", "school", "stratum", "width", "duration", "submitted"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(rows, name))
    stored = db.session.scalars(select(Response.submitted_minute).order_by(Response.id)).all()
    for minute, read in zip(stored, rows.submitted, strict=True):
        moment = minute if minute.tzinfo else minute.replace(tzinfo=UTC)
        assert read == moment.timestamp() / 60
        assert read == int(read)
    assert [fast.versions[v] for v in fast.version] == [rows.versions[v] for v in rows.version]
    for row in range(fast.id.size):
        width = int(rows.width[row])
        assert bytes(fast.packed[row, :width]) == bytes(rows.packed[row, :width])
    assert int((fast.width == 0).sum()) == len(without)


def test_group_rates_and_the_county_score_equal_rs(surveyed_county, tmp_path):
    if shutil.which("Rscript") is None:
        pytest.fail("Rscript is missing: ./dev setup installs R (r-cran-survey)")
    evaluation = evaluate_campaign(surveyed_county)
    found = evaluation_json(evaluation)
    data = evaluation.data
    rows = tmp_path / "rows.csv"
    with rows.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["group", "stratum", "psu", "w", "pi", "f2", "rec", "ans"])
        for i in range(data.n):
            answered = ~np.isnan(data.recognised[i])
            writer.writerow(
                [
                    data.groups[i],
                    data.strata[i],
                    data.psu[i],
                    repr(float(data.weights[i])),
                    repr(float(data.pi[i])),
                    repr(float(data.f2[i])),
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
