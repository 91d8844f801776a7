"""The draw of schools: recorded, reproducible from its seed, as R's sampling package
computes it (the export is checked by R itself when Rscript is installed, as ./dev
setup does), and frozen once codes are issued."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from analysis.pps import inclusion_probabilities, stratum_start, systematic_sample
from survey_app.extensions import db
from survey_app.models import SamplingPlan
from survey_app.plan import draw
from survey_app.plan.frame_import import FrameLocked, import_frame
from tests.app.test_frame_import import GOOD
from tests.factories import make_campaign, make_codes, make_school

CHECK_DRAW = Path(__file__).resolve().parents[1] / "reference" / "check_draw.R"
NOW = datetime(2026, 12, 2, tzinfo=UTC)
# rural-primary sizes of the R reference frame (tests/reference/sampling_reference.R)
RURAL = [420, 388, 265, 240, 212, 198, 150, 96, 90, 61]


@pytest.fixture
def county(app_ctx):
    """A campaign in preparation: ten rural primary schools and five urban ones."""
    campaign = make_campaign(open_now=False)
    for n, size in enumerate(RURAL):
        make_school(campaign, code=f"R{n:02d}", enrolment=size)
    for n, size in enumerate([2600, 1800, 1500, 1200, 900]):
        make_school(campaign, code=f"U{n:02d}", location="urban", enrolment=size)
    return campaign


def _selected(plan) -> list[str]:
    return sorted(row.school.code for row in plan.schools if row.selected)


def test_the_draw_is_pps_systematic_from_the_seed(county):
    plan = draw.draw_schools(county, 42, NOW, {"rural-primary": 4, "urban-primary": 2})
    rows = [row for row in plan.schools if row.school.code.startswith("R")]
    assert [row.frame_order for row in rows] == list(range(1, 11))  # by 学校标识码
    pik = inclusion_probabilities(RURAL, 4)
    assert [row.inclusion_probability for row in rows] == pytest.approx(list(pik), abs=1e-15)
    start = stratum_start(42, "rural-primary")
    expected = systematic_sample(pik, start)
    assert [row.selected for row in rows] == expected.tolist()
    entries = {entry.stratum.code: entry for entry in plan.strata}
    assert entries["rural-primary"].random_start == start
    assert len(_selected(plan)) == 6


def test_the_same_seed_draws_the_same_schools(county):
    allocation = {"rural-primary": 4, "urban-primary": 2}
    first = _selected(draw.draw_schools(county, 2026, NOW, allocation))
    again = _selected(draw.draw_schools(county, 2026, NOW, allocation))  # drawn again
    assert first == again
    plans = select(func.count()).select_from(SamplingPlan).filter_by(campaign_id=county.id)
    assert db.session.scalar(plans) == 1  # the second draw replaced the first
    others = {
        tuple(_selected(draw.draw_schools(county, seed, NOW, allocation))) for seed in range(8)
    }
    assert len(others) > 1  # other seeds, other samples


def test_the_default_allocation_shares_schools_by_enrolment(county):
    # 2 strata: max(4, 22) = 22 schools > the 15 of the frame: every school
    plan = draw.draw_schools(county, 1, NOW)
    assert {entry.stratum.code: entry.schools_drawn for entry in plan.strata} == {
        "rural-primary": 10,
        "urban-primary": 5,
    }
    assert all(row.inclusion_probability == 1 for row in plan.schools)


@pytest.mark.parametrize(
    ("allocation", "message"),
    [
        ({"town-primary": 2}, "no stratum 'town-primary' in this frame"),
        ({"urban-primary": 6}, "stratum urban-primary has 5 schools with pupils: cannot draw 6"),
    ],
)
def test_an_impossible_allocation_is_refused(county, allocation, message):
    with pytest.raises(draw.DrawRefused, match=message):
        draw.draw_schools(county, 1, NOW, allocation)
    assert draw.plan_of(county) is None


def test_the_draw_is_frozen_once_codes_are_issued_and_freezes_the_frame(county):
    plan = draw.draw_schools(county, 7, NOW)
    with pytest.raises(FrameLocked, match="has drawn its schools"):
        import_frame(county, "frame.csv", GOOD.encode())
    make_codes(plan.schools[0].school)
    with pytest.raises(draw.DrawRefused, match="1 codes issued: its draw is frozen"):
        draw.draw_schools(county, 8, NOW)


def test_no_draw_without_a_frame_or_in_fieldwork(app_ctx):
    with pytest.raises(draw.DrawRefused, match="no school frame"):
        draw.draw_schools(make_campaign(open_now=False), 1, NOW)
    open_campaign = make_campaign(open_now=True)
    make_school(open_campaign)
    with pytest.raises(draw.DrawRefused, match="is open: its draw is frozen"):
        draw.draw_schools(open_campaign, 1, NOW)


def test_draw_and_export_on_the_command_line(runner, county, tmp_path):
    result = runner.invoke(
        args=[
            "plan",
            "draw",
            "--campaign",
            county.key,
            "--seed",
            "20261202",
            "--schools-per-stratum",
            "rural-primary=4",
            "--schools-per-stratum",
            "urban-primary=2",
        ]
    )
    assert result.exit_code == 0, result.output
    assert f"Drew 6 schools for {county.key} with seed 20261202." in result.output
    out = tmp_path / "draw.csv"
    exported = runner.invoke(args=["plan", "export", "--campaign", county.key, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == list(draw.EXPORT_COLUMNS)
    assert len(rows) == 15
    rural = [row for row in rows if row["stratum"] == "rural-primary"]
    assert [float(row["pi"]) for row in rural] == list(inclusion_probabilities(RURAL, 4))
    assert float(rural[0]["start"]) == stratum_start(20261202, "rural-primary")
    assert sum(int(row["selected"]) for row in rows) == 6
    if shutil.which("Rscript") is None:
        pytest.fail("Rscript is missing: ./dev setup installs R (r-cran-sampling)")
    checked = subprocess.run(  # noqa: S603 - our own script on our own file
        ["Rscript", str(CHECK_DRAW), str(out)], capture_output=True, text=True, check=True
    )
    report = json.loads(checked.stdout)
    assert set(report) == {"rural-primary", "urban-primary"}
    for stratum in report.values():
        assert stratum["same_selection"] is True
        assert stratum["max_pi_difference"] < 1e-15


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--schools-per-stratum", "rural-primary"], "give NAME=N, e.g. rural-primary=4"),
        (["--schools-per-stratum", "mars=2"], "no stratum 'mars' in this frame"),
    ],
)
def test_plan_draw_refuses_bad_input_in_one_line(runner, county, arguments, message):
    result = runner.invoke(
        args=["plan", "draw", "--campaign", county.key, "--seed", "1", *arguments]
    )
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert message in line


def test_plan_export_before_the_draw(runner, county, tmp_path):
    result = runner.invoke(
        args=["plan", "export", "--campaign", county.key, "--out", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 2
    assert "has not drawn its schools yet" in result.output
