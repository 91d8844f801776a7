"""The first-stage-only fpc caveat (statistics.md, "Finite population correction pitfall")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.design import SurveyDesign
from analysis.design_caveats import FPC_CAVEAT_MIN_FRACTION
from analysis.estimators import mean
from analysis.recognition import evaluate_recognition

REFERENCE_DIR = Path(__file__).parents[1] / "reference"
N_SCHOOLS, PER_SCHOOL = 6, 5
SCHOOL = np.repeat(np.arange(N_SCHOOLS), PER_SCHOOL)
RESP = np.tile(np.arange(PER_SCHOOL), N_SCHOOLS)
Y = np.random.default_rng(7).integers(0, 2, size=SCHOOL.size).astype(float)


def census(**kwargs: object) -> SurveyDesign:
    """All 6 schools of the county sampled (first-stage fpc = 6)."""
    return SurveyDesign.from_arrays(cluster=SCHOOL, fpc=np.full(SCHOOL.size, 6.0), **kwargs)  # type: ignore[arg-type]


def test_census_of_schools_with_first_stage_fpc_only_is_flagged_and_has_se_zero() -> None:
    design = census()
    assert design.fpc_caveat is not None
    assert design.fpc_caveat.code == "fpc_first_stage_only"
    assert design.fpc_caveat.largest_fraction == 1.0
    assert "100%" in design.fpc_caveat.message
    assert "second stage" in design.fpc_caveat.message
    # why: a census stage contributes nothing, and there is no second stage.
    assert mean(design, Y).se == 0.0


def test_same_census_with_second_stage_has_no_caveat_and_positive_se() -> None:
    design = census(cluster2=RESP, fpc2=np.full(SCHOOL.size, 50.0))
    assert design.fpc_caveat is None
    assert mean(design, Y).se > 0


def test_second_stage_without_fpc2_also_counts_as_second_stage() -> None:
    design = census(cluster2=RESP, weights=np.ones(SCHOOL.size))
    assert design.two_stage
    assert design.fpc_caveat is None


@pytest.mark.parametrize(
    ("population", "flagged"),
    [
        (N_SCHOOLS / FPC_CAVEAT_MIN_FRACTION, True),  # exactly 10%: flagged
        (N_SCHOOLS / 0.099, False),
        (1000.0, False),
    ],
)
def test_threshold_on_the_school_sampling_fraction(population: float, flagged: bool) -> None:
    design = SurveyDesign.from_arrays(cluster=SCHOOL, fpc=np.full(SCHOOL.size, population))
    assert (design.fpc_caveat is not None) is flagged


def test_any_stratum_over_the_threshold_flags_the_design() -> None:
    strata = np.where(SCHOOL < 3, "a", "b")
    fpc = np.where(strata == "a", 1000.0, 10.0)  # 3/1000 and 3/10
    design = SurveyDesign.from_arrays(strata=strata, cluster=SCHOOL, fpc=fpc)
    assert design.fpc_caveat is not None
    assert "30%" in design.fpc_caveat.message
    small = SurveyDesign.from_arrays(strata=strata, cluster=SCHOOL, fpc=np.full(SCHOOL.size, 1e3))
    assert small.fpc_caveat is None


def test_no_fpc_no_caveat() -> None:
    assert SurveyDesign.from_arrays(cluster=SCHOOL).fpc_caveat is None


def test_unclustered_design_has_no_caveat() -> None:
    """apistrat: each row its own PSU, large fpc fractions are then correct."""
    data = pd.read_csv(REFERENCE_DIR / "apistrat.csv")
    design = SurveyDesign.from_arrays(
        strata=data["stype"].to_numpy(), fpc=data["fpc"].to_numpy(), weights=data["pw"].to_numpy()
    )
    assert design.fpc_caveat is None
    # even a census of single-row PSUs is a correct zero variance, not the pitfall
    rows = SurveyDesign.from_arrays(fpc=np.full(20, 20.0))
    assert rows.fpc_caveat is None


def test_recognition_report_carries_the_caveat_without_changing_estimates() -> None:
    recognised = np.column_stack([Y, Y[::-1]])
    recognised[::7, 1] = np.nan  # 不了解
    groups = np.where(RESP < 3, "parent", "student")
    flagged = evaluate_recognition(census(), groups, recognised, ["a", "b"])
    assert flagged.design_caveats == (census().fpc_caveat,)
    assert flagged.rate.se == 0.0
    two_stage = census(cluster2=RESP, fpc2=np.full(SCHOOL.size, 50.0))
    clean = evaluate_recognition(two_stage, groups, recognised, ["a", "b"])
    assert clean.design_caveats == ()
    assert clean.rate.estimate == pytest.approx(flagged.rate.estimate)
    assert clean.rate.se > 0


def write_census_csv(tmp_path: Path) -> str:
    lines = ["school,resp,N,y"]
    lines += [f"{s},{r},6,{int(y)}" for s, r, y in zip(SCHOOL, RESP, Y, strict=True)]
    path = tmp_path / "census.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_cli_prints_one_warning_line_and_unchanged_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_census_csv(tmp_path)
    args = ["estimate", "--data", data, "--y", "y", "--cluster", "school"]
    assert main([*args, "--fpc", "N"]) == 0
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0] == f"warning: {census().fpc_caveat.message}"
    rows = json.loads(out)
    assert rows[0]["se"] == 0.0
    assert main(args) == 0  # no fpc: no warning
    assert capsys.readouterr().err == ""


def test_cli_subprocess_exits_0_with_valid_json_and_warning(tmp_path: Path) -> None:
    data = write_census_csv(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "estimate", "--data", data, "--y", "y"]
        + ["--cluster", "school", "--fpc", "N"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stderr.startswith("warning: ")
    assert len(done.stderr.splitlines()) == 1
    rows = json.loads(done.stdout)
    assert rows[0]["variable"] == "y"
    assert rows[0]["estimate"] == pytest.approx(Y.mean())
