"""``python -m analysis estimate``: JSON out, one-line errors with exit status 2."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from analysis.cli import main

REFERENCE_DIR = Path(__file__).parents[1] / "reference"
APISTRAT = str(REFERENCE_DIR / "apistrat.csv")
STRAT_ARGS = ["--strata", "stype", "--fpc", "fpc", "--weight", "pw"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m analysis estimate ARGS`` in a new process."""
    command = [sys.executable, "-m", "analysis", "estimate", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603


def test_subprocess_prints_json_matching_r() -> None:
    reference = json.loads((REFERENCE_DIR / "survey_reference.json").read_text("utf-8"))
    r_mean = next(
        c
        for c in reference["means"]
        if c["design"] == "apistrat" and c["variable"] == "sch_wide_yes" and c["by"] is None
    )
    r_ci = next(
        c
        for c in reference["ciprop"]
        if c["design"] == "apistrat"
        and c["variable"] == "sch_wide_yes"
        and c["by"] is None
        and c["method"] == "logit"
        and c["level"] == 0.95
    )
    done = run_cli(
        "--data", APISTRAT, "--y", "sch_wide_yes", *STRAT_ARGS, "--ci", "logit", "--by", "stype"
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["domain"] for r in rows] == [None, "E", "H", "M"]
    overall = rows[0]
    assert set(overall) >= {
        "variable",
        "domain",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "deff",
        "n",
        "df",
        "p_value",
    }
    assert overall["estimate"] == pytest.approx(r_mean["estimate"], rel=1e-9)
    assert overall["se"] == pytest.approx(r_mean["se"], rel=1e-9)
    assert overall["deff"] == pytest.approx(r_mean["deff"], rel=1e-9)
    assert overall["df"] == r_mean["df"]
    assert overall["ci_low"] == pytest.approx(r_ci["ci_low"], abs=1e-7)
    assert overall["ci_high"] == pytest.approx(r_ci["ci_high"], abs=1e-7)
    assert 0 < overall["p_value"] < 1


def test_main_with_several_variables_and_missing_cells(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "estimate",
            "--data",
            APISTRAT,
            "--y",
            "api00",
            "--y",
            "hi_na",
            *STRAT_ARGS,
            "--threshold",
            "0.3",
            "--ci",
            "beta",
            "--level",
            "0.9",
        ]
    )
    assert status == 0
    rows = json.loads(capsys.readouterr().out)
    api00, hi = rows
    assert api00["p_value"] is None  # not a proportion: t interval, no test
    assert api00["ci_low"] < api00["estimate"] < api00["ci_high"]
    blank = sum(
        1
        for line in Path(APISTRAT).read_text("utf-8").splitlines()[1:]
        if line.split(",")[-1] == ""
    )
    assert 0 < blank < 100
    assert hi["n"] == 200 - blank  # empty cells are missing, not zero
    assert hi["p_value"] is not None


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("school,y\n1,1\n2,x\n", ["--y", "y", "--cluster", "school"], "column 'y', line 3: 'x'"),
        ("school,y\n1,1\n2,0\n", ["--y", "z"], "no column 'z'"),
        ("school,y\n1,1\n,0\n", ["--y", "y", "--cluster", "school"], "column 'school', line 3"),
        ("w,y\n1,1\n-,0\n", ["--y", "y", "--weight", "w"], "column 'w', line 3: '-'"),
        ("", ["--y", "y"], "empty file"),
        ("school,y\n1,1,7\n", ["--y", "y"], "line 2: 3 fields"),
        (
            "s,c,y\na,1,1\nb,2,0\nb,3,1\n",
            ["--y", "y", "--strata", "s", "--cluster", "c"],
            "Stratum \\(a\\) has only one PSU",
        ),
        ("w,y\n1,1\n-1,0\n-2,1\n", ["--y", "y", "--weight", "w"], "column 'w', line 3: -1"),
        ("w,y\n1,1\ninf,0\n", ["--y", "y", "--weight", "w"], "column 'w', line 3: 'inf'"),
        (
            "w,y\n1e308,1\n1e308,0\n1e308,1\n",
            ["--y", "y", "--weight", "w"],
            "column 'w': weights must have a finite, positive total",
        ),
        (
            "w,y\n1e200,1\n1e200,0\n1e200,1\n",
            ["--y", "y", "--weight", "w"],
            "column 'w': weight total 3e\\+200 is too large",
        ),
        (
            "w,y\n0,1\n0,0\n",
            ["--y", "y", "--weight", "w"],
            "column 'w': weights must have a finite, positive total",
        ),
        (
            "c,f,y\n1,0,1\n2,0,0\n",
            ["--y", "y", "--cluster", "c", "--fpc", "f"],
            "column 'f', line 2: 0",
        ),
        (
            "c,f,y\n1,10,1\n2,-10,0\n",
            ["--y", "y", "--cluster", "c", "--fpc", "f"],
            "column 'f', line 3: -10",
        ),
        (
            "c,d,f,g,y\n1,1,10,0,1\n1,2,10,0,0\n2,1,10,0,1\n",
            ["--y", "y", "--cluster", "c", "--fpc", "f", "--cluster2", "d", "--fpc2", "g"],
            "column 'g', line 2: 0",
        ),
        ("y\n1\n0\n", ["--y", "y", "--threshold", "85"], "--threshold must be between 0 and 1"),
        ("y\n1\n0\n", ["--y", "y", "--threshold", "0"], "--threshold must be between 0 and 1"),
        ("y\n1\n0\n", ["--y", "y", "--threshold", "nan"], "--threshold must be between 0 and 1"),
        ("y\n1\n0\n", ["--y", "y", "--level", "95"], "--level must be between 0 and 1"),
        ("y\n1\n0\n", ["--y", "y", "--level", "1"], "--level must be between 0 and 1"),
        ("y\n1\n0\n", ["--y", "y", "--level", "nan"], "--level must be between 0 and 1"),
    ],
)
def test_bad_input_gives_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, args: list[str], message: str
) -> None:
    status = main(["estimate", "--data", write(tmp_path, text), *args])
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert capsys.readouterr().out == ""

    assert re.search(message, err)


def test_large_weights_below_the_limit_give_finite_results_without_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = 3.3e149  # total 9.9e149, just under the limit
    data = write(tmp_path, f"w,y\n{big},1\n{big},0\n{big},1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        status = main(["estimate", "--data", data, "--y", "y", "--weight", "w"])
    assert status == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["estimate"] == pytest.approx(2 / 3)
    assert row["se"] == pytest.approx(1 / 3)


def test_zero_fpc_subprocess_prints_only_the_error_line(tmp_path: Path) -> None:
    done = run_cli(
        "--data",
        write(tmp_path, "c,f,y\n1,0,1\n2,0,0\n"),
        "--y",
        "y",
        "--cluster",
        "c",
        "--fpc",
        "f",
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: ")
    assert "column 'f', line 2" in done.stderr
    assert done.stdout == ""


def test_missing_file_subprocess_status_2(tmp_path: Path) -> None:
    done = run_cli("--data", str(tmp_path / "none.csv"), "--y", "y")
    assert done.returncode == 2
    assert "cannot read" in done.stderr
    assert done.stdout == ""


def test_lonely_psu_option_is_passed_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "s,c,y\na,1,1\nb,2,0\nb,3,1\nb,4,1\n")
    status = main(
        [
            "estimate",
            "--data",
            path,
            "--y",
            "y",
            "--strata",
            "s",
            "--cluster",
            "c",
            "--lonely-psu",
            "remove",
        ]
    )
    assert status == 0
    assert json.loads(capsys.readouterr().out)[0]["n"] == 4


@pytest.mark.parametrize("method", ["beta", "logit", "asin", "xlogit", "mean", "likelihood"])
def test_default_intervals_equal_rs_svyciprop_overall_and_by_domain(
    method: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --nchs the CLI reproduces svyciprop (and svyby(svyciprop)) exactly."""
    reference = json.loads((REFERENCE_DIR / "survey_reference.json").read_text("utf-8"))
    expected = {
        c["domain"]: c
        for c in reference["ciprop"]
        if c["design"] == "apistrat"
        and c["variable"] == "sch_wide_yes"
        and c["by"] in (None, "stype")
        and c["method"] == method
        and c["level"] == 0.95
    }
    args = ["estimate", "--data", APISTRAT, "--y", "sch_wide_yes", *STRAT_ARGS, "--by", "stype"]
    assert main([*args, "--ci", method]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["domain"] for r in rows} == set(expected) == {None, "E", "H", "M"}
    tolerance = 2e-3 if method == "likelihood" else 1e-7  # R's likelihood bounds are a grid
    for row in rows:
        r = expected[row["domain"]]
        assert row["ci_low"] == pytest.approx(r["ci_low"], abs=tolerance)
        assert row["ci_high"] == pytest.approx(r["ci_high"], abs=tolerance)
        assert row["df"] == r["df"]


def test_nchs_option_caps_the_effective_n(capsys: pytest.CaptureFixture[str]) -> None:
    # apistrat's design effect is below 1 overall, so the NCHS cap widens the interval.
    args = ["estimate", "--data", APISTRAT, "--y", "sch_wide_yes", *STRAT_ARGS, "--ci", "beta"]
    assert main(args) == 0
    plain = json.loads(capsys.readouterr().out)[0]
    assert main([*args, "--nchs"]) == 0
    capped = json.loads(capsys.readouterr().out)[0]
    assert capped["ci_low"] < plain["ci_low"]
    assert capped["ci_high"] > plain["ci_high"]
    assert capped["estimate"] == plain["estimate"]
