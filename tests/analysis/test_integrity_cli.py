"""``python -m analysis integrity``: JSON out, one-line errors with exit status 2."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.cli import main
from analysis.integrity.simulation import Coaching, simulate_county

ITEMS = [f"q{j:02d}" for j in range(1, 15)]
HEADER = "school,group,stratum,duration_seconds,submitted_at," + ",".join(ITEMS)


def write_county(path: Path, seed: int = 4, coaching: tuple[Coaching, ...] = ()) -> Path:
    county = simulate_county(np.random.default_rng(seed), schools=30, coaching=list(coaching))
    b = county.block
    lines = [HEADER]
    for i in range(b.n):
        when = datetime.fromtimestamp(b.submitted_minute[i] * 60, UTC).strftime("%Y-%m-%dT%H:%M")
        codes = ",".join("" if a < 0 else str(a) for a in b.answers[i])
        lines.append(
            f"{b.school[i]},{b.group[i]},{b.stratum[i]},{round(b.duration_seconds[i])},{when},{codes}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["integrity", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def small_file(
    tmp_path: Path,
    rows: list[str],
    header: str = "school,group,stratum,duration_seconds,submitted_at,a,b,c",
) -> str:
    path = tmp_path / "data.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


GOOD_ROW = "S1,parent,urban,90,2026-05-12T20:31,4,3,0"


def test_json_shape_lines_and_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_county(tmp_path / "county.csv", coaching=(Coaching("template_mixed", 0.5),))
    status, out, err = run(capsys, "--data", str(data), "--items", *ITEMS)
    assert status == 0, err
    assert err == ""
    result = json.loads(out)
    assert set(result) == {"settings", "cells", "responses"}
    assert result["settings"]["reading_seconds"] == 15 * 14
    assert result["settings"]["fdr"] == 0.05
    assert result["settings"]["scale_max"] == 4
    assert result["settings"]["min_n"] == 10
    keys = {"school", "group", "stratum", "n", "flagged", "reasons", "statistics", "explanation"}
    assert all(set(cell) == keys for cell in result["cells"])
    text = data.read_text("utf-8").splitlines()
    assert sum(cell["n"] for cell in result["cells"]) == len(text) - 1
    flagged = [c for c in result["cells"] if c["flagged"]]
    assert [c["reasons"] for c in flagged] == [["template_copying"]]
    assert flagged[0]["explanation"].endswith(".")
    small = [c for c in result["cells"] if c["statistics"]["too_small"]]
    assert small
    assert all(c["group"] == "principal" or c["n"] < 10 for c in small)
    assert all(not c["flagged"] and c["reasons"] == [] for c in small)
    for response in result["responses"]:
        assert set(response) == {"line", "school", "group", "flags"}
        fields = text[response["line"] - 1].split(",")  # line 1 is the header
        assert (fields[0], fields[1]) == (response["school"], response["group"])
        if "speeding" in response["flags"]:
            assert float(fields[3]) < 70
        else:
            assert float(fields[3]) >= 70


def test_reading_seconds_option_and_named_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        "s,g,h,dur,when,a,b,c",
        "S1,parent,urban,40,2026-05-12T20:31,4,4,4",
        "",  # a blank line is skipped, and counted in line numbers
        "S1,parent,urban,20,2026-05-12 20:35+08:00,4,3,2",
    ]
    path = tmp_path / "named.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    names = [
        "--school",
        "s",
        "--group",
        "g",
        "--stratum",
        "h",
        "--duration",
        "dur",
        "--time",
        "when",
    ]
    status, out, err = run(capsys, "--data", str(path), "--items", "a", "b", "c", *names)
    assert status == 0, err
    result = json.loads(out)
    assert result["settings"]["reading_seconds"] == 45
    assert result["responses"] == []  # 15 s per item: speeding is under 15 s
    status, out, _ = run(
        capsys, "--data", str(path), "--items", "a", "b", "c", *names, "--reading-seconds", "150"
    )
    assert status == 0
    assert [r["line"] for r in json.loads(out)["responses"]] == [2, 4]
    assert json.loads(out)["cells"][0]["statistics"] == {"n": 2, "too_small": True, "min_n": 10}


def test_subprocess_prints_json(tmp_path: Path) -> None:
    data = write_county(tmp_path / "county.csv", seed=5)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "analysis", "integrity", "--data", str(data), "--items", *ITEMS],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["settings"]["examined_cells"] > 50


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        ([GOOD_ROW], ["--items", "a", "z"], r"no column 'z'"),
        ([GOOD_ROW], ["--items", "a", "--school", "sch"], r"no column 'sch'"),
        (
            [GOOD_ROW, "S1,parent,urban,90,2026-05-12T20:31,2.5,3,0"],
            [],
            r"column 'a', line 3: '2.5' is not an option code",
        ),
        ([GOOD_ROW, "S1,parent,urban,90,2026-05-12T20:31,4,x,0"], [], r"column 'b', line 3: 'x'"),
        (
            [GOOD_ROW, "S1,parent,urban,90,2026-05-12T20:31,4,5,0"],
            [],
            r"column 'b', line 3: '5' is not an option code \(0..4",
        ),
        ([GOOD_ROW, "S1,parent,urban,90,2026-05-12T20:31,4,-1,0"], [], r"column 'b', line 3: '-1'"),
        (
            [GOOD_ROW, "S1,parent,urban,90,2026-05-12T20:31,4,4,4"],
            ["--scale-max", "3"],
            r"column 'a', line 2: '4'",
        ),
        (
            [GOOD_ROW, "S1,parent,urban,90,12 May 2026,4,3,0"],
            [],
            r"column 'submitted_at', line 3: '12 May 2026' is not an ISO 8601 time",
        ),
        (
            [GOOD_ROW, "S1,parent,urban,-3,2026-05-12T20:31,4,3,0"],
            [],
            r"column 'duration_seconds', line 3: -3 must be >= 0",
        ),
        (
            [GOOD_ROW, "S1,parent,urban,fast,2026-05-12T20:31,4,3,0"],
            [],
            r"column 'duration_seconds', line 3: 'fast' is not a number",
        ),
        (
            [GOOD_ROW, ",parent,urban,90,2026-05-12T20:31,4,3,0"],
            [],
            r"column 'school', line 3: missing value",
        ),
        (
            [GOOD_ROW, "S1,parent,rural,90,2026-05-12T20:31,4,3,0"],
            [],
            r"column 'stratum', line 3: school 'S1' is in stratum 'urban' on line 2 and 'rural'",
        ),
        ([GOOD_ROW, "S1,parent,urban,90"], [], r"line 3: 4 fields, header has 8"),
        ([], [], r"no data rows"),
        ([GOOD_ROW], ["--fdr", "0"], r"--fdr must be between 0 and 1"),
        ([GOOD_ROW], ["--fdr", "1"], r"--fdr must be between 0 and 1"),
        ([GOOD_ROW], ["--fdr", "1.5"], r"--fdr must be between 0 and 1"),
        ([GOOD_ROW], ["--fdr", "nan"], r"--fdr must be between 0 and 1"),
        ([GOOD_ROW], ["--scale-max", "1"], r"--scale-max must be between 2 and 20"),
        ([GOOD_ROW], ["--min-n", "1"], r"--min-n must be at least 2"),
        ([GOOD_ROW], ["--reading-seconds", "0"], r"--reading-seconds must be a positive number"),
        ([GOOD_ROW], ["--reading-seconds", "nan"], r"--reading-seconds must be a positive number"),
        ([GOOD_ROW], ["--items", "a", "b", "a"], r"--items: 'a' given twice"),
    ],
)
def test_bad_input_gives_one_line_and_status_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rows: list[str],
    args: list[str],
    message: str,
) -> None:
    items = [] if "--items" in args else ["--items", "a", "b", "c"]
    status, out, err = run(capsys, "--data", small_file(tmp_path, rows), *items, *args)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert re.search(message, err), err


def test_missing_and_empty_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "--data", str(tmp_path / "none.csv"), "--items", "a")
    assert status == 2
    assert "cannot read" in err
    assert err.count("\n") == 1
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    status, _, err = run(capsys, "--data", str(empty), "--items", "a")
    assert status == 2
    assert "empty file" in err
    assert err.count("\n") == 1


CSV_TEXT = st.text(alphabet=st.sampled_from(list('0123456789,\n-.:T xaNS"')), max_size=300)
FIELD = {
    "school": st.sampled_from(["S1", "S2", "S3", "", "学校"]),
    "group": st.sampled_from(["parent", "student", ""]),
    "stratum": st.sampled_from(["urban", "rural", ""]),
    "duration": st.sampled_from(["90", "12", "0", "", "NA", "-1", "x", "inf", "1e400"]),
    "time": st.sampled_from(
        ["2026-05-12T20:31", "2026-05-12 20:39", "2026-05-12T20:31Z", "", "20:31", "2026-13-01"]
    ),
    "code": st.sampled_from(["0", "1", "2", "3", "4", "4", "4", "", "NA", "5", "2.0", "x", "-1"]),
}
ROW = st.tuples(
    FIELD["school"],
    FIELD["group"],
    FIELD["stratum"],
    FIELD["duration"],
    FIELD["time"],
    FIELD["code"],
    FIELD["code"],
    FIELD["code"],
).map(",".join)
ROWS = st.lists(ROW, max_size=40).map("\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(CSV_TEXT, ROWS),
    header=st.sampled_from(
        ["school,group,stratum,duration_seconds,submitted_at,a,b,c", "a,b,c", ""]
    ),
)
def test_any_csv_text_gives_json_or_one_error_line(body: str, header: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        path.write_text(header + "\n" + body if header else body, encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(
                ["integrity", "--data", str(path), "--items", "a", "b", "c", "--min-n", "2"]
            )
    assert status in (0, 2)
    if status == 2:
        assert out.getvalue() == ""
        assert err.getvalue().count("\n") == 1
        assert err.getvalue().startswith("error: ")
    else:
        assert err.getvalue() == ""
        result = json.loads(out.getvalue())
        assert set(result) == {"settings", "cells", "responses"}
