"""Two-stage designs whose second-stage units are single rows (respondents within
schools; ``cluster2=np.arange(n)``): the evaluation sums the second stage per
(PSU, group) cell (:class:`analysis.recognition_tables.RowMoments`) and equals the
path over one score total per row, and R."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analysis.design import SurveyDesign
from analysis.recognition_tables import AnswerPositions, DomainTables
from tests.analysis.report_figures import evaluate, figures

GROUPS = np.array(["parent", "student", "teacher", "resident", "deputy"])


def campaign(seed: int) -> dict[str, Any]:
    """Schools in 3 strata (one stratum of a single school), an open link of one-row
    PSUs, a list stratum of one-row PSUs and a list stratum with a single PSU."""
    rng = np.random.default_rng(seed)
    n_school, n_link, n_list = 240, 25, 7
    school_stratum = np.array([0, 0, 0, 1, 1, 1, 1, 2])
    school = rng.integers(0, school_stratum.size, n_school)
    school[: school_stratum.size] = np.arange(school_stratum.size)  # every school sampled
    group = np.concatenate([rng.integers(0, 3, n_school), np.full(n_link, 3), np.full(n_list, 4)])
    n = group.size
    strata = np.concatenate(
        [school_stratum[school], np.full(n_link, 3), np.full(n_list - 1, 4), [5]]
    ).astype(str)
    psu = np.concatenate([school, 100 + np.arange(n_link + n_list)])
    items = 9
    x = (rng.random((n, items)) < 0.83).astype(float)
    x[group == 1, 6:] = np.nan  # students are not asked the last items
    x[group == 2, :2] = np.nan
    x[rng.random(x.shape) < 0.1] = np.nan
    x[rng.random(n) < 0.03] = np.nan
    x[group == 4, 3] = 1.0  # deputies all recognise item 3 (p = 1)
    weights = rng.uniform(1, 30, n)
    weights[rng.random(n) < 0.02] = 0.0
    n_psu = psu.max() + 1
    pi_psu = rng.uniform(0.2, 0.9, n_psu)
    pi_psu[[1, 4]] = 1.0  # certainty schools
    pi = pi_psu[psu]
    pi[strata == "3"] = 1e-300  # open link
    pi[strata == "4"] = (n_list - 1) / 60.0
    pi[strata == "5"] = 1.0 / 3.0
    f2_cell = rng.uniform(0.3, 1.0, 5 * n_psu)  # by (school, group): varies within a school
    f2 = np.where(strata < "3", f2_cell[psu * 5 + group], 1.0)
    f2[(psu == 2) & (group == 0)] = 1.0  # a whole group taken in one school
    return {
        "weights": weights,
        "strata": strata,
        "psu": psu,
        "groups": GROUPS[group],
        "x": x,
        "areas": ["a", "b", "c"] * 3,
        "pi": pi,
        "f2": f2,
    }


def brewer(data: dict[str, Any], lonely: str) -> SurveyDesign:
    return SurveyDesign.from_arrays(
        weights=data["weights"],
        strata=data["strata"],
        cluster=data["psu"],
        cluster2=np.arange(data["weights"].size),
        fpc=data["pi"],
        fpc2=data["f2"],
        pps="brewer",
        lonely_psu=lonely,  # type: ignore[arg-type]
    )


def two_stage(data: dict[str, Any], lonely: str) -> SurveyDesign:
    """Without PPS: N per stratum and M per school."""
    n = data["weights"].size
    return SurveyDesign.from_arrays(
        weights=data["weights"],
        strata=data["strata"],
        cluster=data["psu"],
        cluster2=np.arange(n)[::-1],
        fpc=np.where(data["strata"] < "3", 40.0, 500.0),
        fpc2=np.where(data["strata"] < "3", 200.0, 1.0),
        lonely_psu=lonely,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("make", [brewer, two_stage])
@pytest.mark.parametrize("lonely", ["adjust", "remove", "certainty"])
def test_row_ssu_path_equals_the_unit_path(
    monkeypatch: pytest.MonkeyPatch, seed: int, make: Any, lonely: str
) -> None:
    data = campaign(seed)
    design = make(data, lonely)
    assert design.ssu_is_row
    location = np.where(data["strata"] < "3", np.array(["urban", "rural"])[data["psu"] % 2], "")
    domains = [data["groups"], np.where(location == "", "outside", location)]
    answers = AnswerPositions.find(data["x"])
    new = [figures(evaluate(design, data, d)) for d in domains]
    tables = DomainTables.build(design, np.zeros(design.n, np.intp), 1, answers, np.eye(9)[:, :3])
    assert tables.rows is not None  # the fast path was taken
    with monkeypatch.context() as patch:
        patch.setattr(SurveyDesign, "ssu_is_row", False)
        old = [figures(evaluate(design, data, d)) for d in domains]
    for got, want in zip(new, old, strict=True):
        assert got.keys() == want.keys()
        for key, values in got.items():
            np.testing.assert_allclose(
                values, want[key], rtol=1e-12, atol=1e-15, equal_nan=True, err_msg=key
            )


def test_lonely_fail_is_raised_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    data = campaign(4)
    design = brewer(data, "fail")
    with pytest.raises(ValueError, match="only one PSU"):
        evaluate(design, data, data["groups"])
    with monkeypatch.context() as patch:
        patch.setattr(SurveyDesign, "ssu_is_row", False)
        with pytest.raises(ValueError, match="only one PSU"):
            evaluate(design, data, data["groups"])


def test_ssu_of_several_rows_keeps_the_unit_path() -> None:
    data = campaign(5)
    n = data["weights"].size
    design = SurveyDesign.from_arrays(
        weights=data["weights"],
        strata=data["strata"],
        cluster=data["psu"],
        cluster2=np.arange(n) // 2,
        fpc=data["pi"],
        pps="brewer",
        lonely_psu="adjust",
    )
    assert not design.ssu_is_row
    tables = DomainTables.build(
        design, np.zeros(n, np.intp), 1, AnswerPositions.find(data["x"]), np.eye(9)[:, :3]
    )
    assert tables.rows is None


R_SCRIPT = r"""
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
d <- read.csv(commandArgs(TRUE)[1])
des <- svydesign(ids = ~psu + resp, strata = ~stratum, weights = ~w, fpc = ~pi + f2,
                 pps = "brewer", data = d)
out <- c(SE(svyratio(~y0, ~d0, des)), SE(svyratio(~ya, ~da, des)),
         SE(svyby(~y0, ~g, des, svyratio, denominator = ~d0)),
         SE(svyby(~ya, ~g, des, svyratio, denominator = ~da)))
cat(sprintf("%.17g", out), sep = "\n")
"""


def test_brewer_row_ssu_matches_r(tmp_path: Path) -> None:
    if shutil.which("Rscript") is None:
        pytest.fail("Rscript is missing: ./dev setup installs R (r-cran-survey)")
    data = campaign(6)
    keep = data["strata"] != "5"  # R's PPS lonely-PSU handling aside: no single-PSU stratum
    data = {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in data.items()}
    data["pi"][data["strata"] == "3"] = 1e-6
    # f2 varies by group within a school.  R's onestrat pairs each unit's (1 - f2) in
    # order of appearance with rowsum()'s units sorted by id: respondent ids of one
    # width (10000 + i) keep both orders the same; with ids 1..n R mismatches them
    design = brewer(data, "adjust")
    report = evaluate(design, data, data["groups"])
    x = data["x"]
    rows = ["psu,resp,stratum,w,pi,f2,g,y0,d0,ya,da"]
    for i in range(x.shape[0]):
        y0, d0 = np.nan_to_num(x[i, 0]), float(~np.isnan(x[i, 0]))
        ya, da = np.nansum(x[i]), float(np.sum(~np.isnan(x[i])))
        rows.append(
            f"{data['psu'][i]},{10000 + i},{data['strata'][i]},{float(data['weights'][i])!r},"
            f"{float(data['pi'][i])!r},{float(data['f2'][i])!r},{data['groups'][i]},"
            f"{y0},{d0},{ya},{da}"
        )
    csv = tmp_path / "d.csv"
    csv.write_text("\n".join(rows) + "\n")
    script = tmp_path / "r.R"
    script.write_text(R_SCRIPT)
    run = subprocess.run(
        ["Rscript", str(script), str(csv)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-300:]
    r = np.array([float(v) for v in run.stdout.split()])
    labels = sorted(set(data["groups"].tolist()))
    ours = [report.items[0].se, report.rate.se]
    ours += [report.groups[g].items[0].se for g in labels]
    ours += [report.groups[g].rate.se for g in labels]
    answered = ~np.isnan(r)  # R: NaN for teachers' item 0, which no teacher was asked
    assert answered.sum() == r.size - 1
    np.testing.assert_allclose(np.array(ours)[answered], r[answered], rtol=1e-9)
