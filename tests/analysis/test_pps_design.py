"""PPS without replacement at the first stage (R's ``pps="brewer"``) against R.

Numbers: tests/reference/pps_reference.R -> pps_reference.json; data: pps_county.csv
(schools drawn with sampling::UPsystematic, a certainty school beside drawn ones, a
stratum that is one certainty school, deputies from their own list). Designs:
``brewer1`` ids=~school, fpc=~pi; ``brewer2`` ids=~school+resp, fpc=~pi+f2; ``wr`` the
with-replacement approximation (no fpc). Estimates, SEs and deffs to 1e-9 (relative),
interval bounds to 1e-7 (absolute; likelihood 2e-3, as in test_against_r.py).

R's ``svyciprop(method="beta")`` takes n from ``nrow(design)``; R's ``subset`` keeps
every row of a PPS design, so R's n there is the whole sample (``r_nrow``), where the
platform uses the domain's answered rows (what R uses for the same domain of a
design without PPS). The beta bounds are checked with R's n, and the platform's n is
checked against R's Korn–Graubard formula with the domain's rows (recognition part).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis import SurveyDesign, ciprop, mean, mean_many, proportion_interval, ratio
from analysis.cli import main
from analysis.estimators import domain_codes
from analysis.recognition import RecognitionRule, evaluate_recognition

REFERENCE_DIR = Path(__file__).parents[1] / "reference"
DATA_PATH = REFERENCE_DIR / "pps_county.csv"
DATA = pd.read_csv(DATA_PATH)
REF: dict[str, Any] = json.loads((REFERENCE_DIR / "pps_reference.json").read_text("utf-8"))
RTOL = 1e-9
CI_ATOL = 1e-7
LIKELIHOOD_ATOL = 2e-3
DESIGNS = ("brewer1", "brewer2", "wr")


def estimate_rtol(method: str) -> float:
    """R's logit and likelihood estimates come from svyglm's IRLS, which stops ~1e-9
    short of the weighted mean (test_against_r.py allows 1e-8 for all methods)."""
    return 1e-8 if method in ("logit", "likelihood") else RTOL


def make_design(name: str, data: pd.DataFrame = DATA) -> SurveyDesign:
    common = {
        "weights": data.w.to_numpy(),
        "strata": data.stratum.to_numpy(),
        "cluster": data.school.to_numpy(),
    }
    if name == "brewer1":
        return SurveyDesign.from_arrays(**common, fpc=data.pi.to_numpy(), pps="brewer")
    if name == "brewer2":
        return SurveyDesign.from_arrays(
            **common,
            cluster2=data.resp.to_numpy(),
            fpc=data.pi.to_numpy(),
            fpc2=data.f2.to_numpy(),
            pps="brewer",
        )
    assert name == "wr"  # the special stratum is one school: lonely without pi
    return SurveyDesign.from_arrays(**common, lonely_psu="certainty")


@cache
def design(name: str) -> SurveyDesign:
    return make_design(name)


def domain_mask(case: dict[str, Any]) -> np.ndarray | None:
    return None if case["domain"] is None else (DATA.group == case["domain"]).to_numpy()


def case_id(case: dict[str, Any]) -> str:
    parts = [case["design"], case.get("variable", "rec/ans"), case.get("domain") or "all"]
    if "method" in case:
        parts += [case["method"], str(case["level"])]
    return "-".join(str(p) for p in parts)


def test_reference_is_a_pps_county_with_certainty_schools() -> None:
    assert REF["survey_version"]
    assert REF["sampling_version"]
    schools = DATA.groupby("school").agg(stratum=("stratum", "first"), pi=("pi", "first"))
    town = schools[schools.stratum == "town-middle"]
    assert (town.pi == 1).sum() == 1
    assert (town.pi < 1).sum() >= 2
    assert schools[schools.stratum == "special"].pi.tolist() == [1.0]


@pytest.mark.parametrize("case", REF["means"], ids=case_id)
def test_svymean_matches_r(case: dict[str, Any]) -> None:
    y = DATA[case["variable"]].to_numpy(dtype=float)
    est = mean(design(case["design"]), y, domain_mask(case))
    assert est.estimate == pytest.approx(case["estimate"], rel=RTOL)
    assert est.se == pytest.approx(case["se"], rel=RTOL)
    assert est.deff == pytest.approx(case["deff"], rel=RTOL)
    assert est.df == case["df"]
    assert est.n == case["n"]


@pytest.mark.parametrize("case", REF["covmats"], ids=case_id)
def test_group_covariance_matches_r(case: dict[str, Any]) -> None:
    y = DATA[case["variable"]].to_numpy(dtype=float)
    codes, labels = domain_codes(DATA.group.to_numpy())
    table = mean_many(design(case["design"]), y, codes, domain_labels=labels)
    assert list(table.domains) == case["domains"]
    assert table.covariance is not None
    r_vcov = np.array(case["vcov"], dtype=float)
    np.testing.assert_allclose(table.covariance, r_vcov, rtol=RTOL, atol=1e-12 * abs(r_vcov).max())


@pytest.mark.parametrize("case", REF["ratios"], ids=case_id)
def test_svyratio_matches_r(case: dict[str, Any]) -> None:
    est = ratio(
        design(case["design"]),
        DATA.rec.to_numpy(dtype=float),
        DATA.ans.to_numpy(dtype=float),
        domain_mask(case),
    )
    assert est.estimate == pytest.approx(case["estimate"], rel=RTOL)
    assert est.se == pytest.approx(case["se"], rel=RTOL)
    assert est.deff == pytest.approx(case["deff"], rel=RTOL)
    assert est.df == case["df"]


@pytest.mark.parametrize("case", REF["ciprop"], ids=case_id)
def test_svyciprop_matches_r(case: dict[str, Any]) -> None:
    y = DATA[case["variable"]].to_numpy(dtype=float)
    des = design(case["design"])
    kwargs = {"method": case["method"], "level": case["level"], "nchs": False}
    ci = ciprop(des, y, domain_mask(case), **kwargs)
    assert ci.estimate == pytest.approx(case["estimate"], rel=estimate_rtol(case["method"]))
    assert ci.se == pytest.approx(case["se"], rel=RTOL)
    assert ci.df == case["df"]
    assert ci.n == case["n"]
    if case["method"] == "beta":
        # R's n: the whole sample on a PPS design (subset keeps the rows)
        assert (case["r_nrow"] == case["n"]) is (case["design"] == "wr")
        ci = proportion_interval(ci.estimate, ci.se, case["r_nrow"], ci.df, **kwargs)
    atol = LIKELIHOOD_ATOL if case["method"] == "likelihood" else CI_ATOL
    assert ci.ci_low == pytest.approx(case["ci_low"], abs=atol)
    assert ci.ci_high == pytest.approx(case["ci_high"], abs=atol)


def test_brewer_lies_between_first_stage_only_and_with_replacement() -> None:
    """On this county: Brewer without its second stage < Brewer two-stage < WR."""
    y = DATA.y1.to_numpy(dtype=float)
    se = {name: mean(design(name), y).se for name in DESIGNS}
    assert se["brewer1"] < se["brewer2"] < se["wr"]


def test_tiny_inclusion_probabilities_give_the_with_replacement_variance() -> None:
    tiny = DATA.assign(pi=1e-12)
    # the special stratum is one certainty school in the WR design, one PSU with
    # pi ~ 0 here: lonely, so compare without it
    keep = (DATA.stratum != "special").to_numpy()
    sub = DATA[keep]
    brewer = mean(make_design("brewer1", tiny[keep]), sub.y1.to_numpy(dtype=float))
    wr = mean(make_design("wr", sub), sub.y1.to_numpy(dtype=float))
    assert brewer.se == pytest.approx(wr.se, rel=1e-9)


@pytest.mark.parametrize("name", ["brewer1", "brewer2"])
def test_rows_in_any_order_give_the_same_answer(name: str) -> None:
    """Each school keeps its own pi (R pairs them by row order: sort rows for R)."""
    shuffled = DATA.sample(frac=1.0, random_state=7)
    y = DATA.y1.to_numpy(dtype=float)
    ours = mean(design(name), y, (DATA.group == "parent").to_numpy())
    again = mean(
        make_design(name, shuffled),
        shuffled.y1.to_numpy(dtype=float),
        (shuffled.group == "parent").to_numpy(),
    )
    assert again.se == pytest.approx(ours.se, rel=1e-12)


@pytest.mark.parametrize("name", ["brewer1", "brewer2"])
def test_sparse_cells_equal_the_dense_table(name: str) -> None:
    des = design(name)
    codes, _ = domain_codes(DATA.group.to_numpy())
    rng = np.random.default_rng(3)
    z = rng.normal(size=(DATA.shape[0], 2))
    cell_unit = des.unit
    cell_block = codes
    dense = des.variance_of_cells(z, cell_unit, cell_block, 4)
    sparse = des.variance_of_cells(z, cell_unit, cell_block, 4, dense_limit=0)
    np.testing.assert_allclose(sparse, dense, rtol=1e-10, atol=1e-12 * abs(dense).max())


def test_first_stage_only_pps_is_flagged_and_two_stage_is_not() -> None:
    caveat = design("brewer1").fpc_caveat
    assert caveat is not None
    assert caveat.code == "pps_first_stage_only"
    assert caveat.largest_fraction == 1.0
    assert "second stage" in caveat.message
    assert design("brewer2").fpc_caveat is None


def test_without_pps_nothing_changes() -> None:
    """pps=None is the design as before: the same variance as leaving it out."""
    kw = {"weights": DATA.w.to_numpy(), "strata": DATA.stratum.to_numpy()}
    y = DATA.y1.to_numpy(dtype=float)
    plain = SurveyDesign.from_arrays(**kw, cluster=DATA.school.to_numpy(), lonely_psu="certainty")
    same = SurveyDesign.from_arrays(
        **kw, cluster=DATA.school.to_numpy(), lonely_psu="certainty", pps=None
    )
    assert same.pps is None
    assert same.psu_pi is None
    assert mean(same, y).se == mean(plain, y).se


def test_default_weights_are_one_over_pi() -> None:
    des = SurveyDesign.from_arrays(
        strata=DATA.stratum.to_numpy(),
        cluster=DATA.school.to_numpy(),
        cluster2=DATA.resp.to_numpy(),
        fpc=DATA.pi.to_numpy(),
        fpc2=DATA.f2.to_numpy(),
        pps="brewer",
    )
    np.testing.assert_allclose(des.weights, DATA.w.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fpc": None}, "pps='brewer' needs fpc"),
        ({"fpc": np.full(6, 20.0)}, r"probability in \(0, 1\].*20.0 at row 0"),
        ({"fpc": np.array([0.5, 0.4, 0.5, 0.5, 0.5, 0.5])}, "fpc varies within a cluster"),
        ({"fpc": np.array([0.5, 0.5, 0.0, 0.5, 0.5, 0.5])}, "at row 2"),
        ({"fpc2": np.full(6, 3.0)}, "fpc2 must be a probability"),
        ({"pps": "overton"}, "pps must be one of"),
    ],
)
def test_bad_pps_designs_are_refused(change: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "strata": np.array(["a", "a", "a", "b", "b", "b"]),
        "cluster": np.array([1, 1, 2, 3, 4, 4]),
        "cluster2": np.arange(6),
        "fpc": np.full(6, 0.5),
        "fpc2": np.full(6, 0.25),
        "pps": "brewer",
    }
    args.update(change)
    with pytest.raises(ValueError, match=message):
        SurveyDesign.from_arrays(**args)


# ---- the 85% evaluation -------------------------------------------------------------
RECOGNITION = REF["recognition"]


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    groups = RECOGNITION["groups"]
    return evaluate_recognition(
        design("brewer1"),
        DATA.group.to_numpy(),
        DATA[RECOGNITION["items"]].to_numpy(dtype=float),
        ["A"] * len(RECOGNITION["items"]),
        policy_weights=dict(zip(groups, RECOGNITION["theta"]["weights"], strict=True)),
        parent_group="parent",
        rule=RecognitionRule(nchs=False),
    )


def _close_rate(ours: Any, ref: dict[str, Any]) -> None:
    assert ours.estimate == pytest.approx(ref["estimate"], rel=RTOL)
    assert ours.se == pytest.approx(ref["se"], rel=RTOL)
    assert ours.n == ref["n"]
    assert ours.df == ref["df"]
    assert ours.ci_low == pytest.approx(ref["beta90"][0], abs=CI_ATOL)
    assert ours.ci_high == pytest.approx(ref["beta90"][1], abs=CI_ATOL)


def test_recognition_rates_match_r(report) -> None:  # type: ignore[no-untyped-def]
    for group, ref in zip(RECOGNITION["groups"], RECOGNITION["rate_by_group"], strict=True):
        _close_rate(report.groups[group].rate, ref)
    _close_rate(report.rate, RECOGNITION["rate_overall"])


def test_county_score_matches_svycontrast(report) -> None:  # type: ignore[no-untyped-def]
    ref = RECOGNITION["theta"]
    np.testing.assert_allclose(report.county.covariance, np.array(ref["covariance"]), rtol=RTOL)
    assert report.county.score.estimate == pytest.approx(ref["estimate"], rel=RTOL)
    assert report.county.score.se == pytest.approx(ref["se"], rel=RTOL)


# ---- command line ----------------------------------------------------------------------
CLI_ARGS = ["--data", str(DATA_PATH), "--y", "y1", "--strata", "stratum", "--cluster", "school"]
CLI_ARGS += ["--weight", "w", "--fpc", "pi", "--pps", "brewer", "--by", "group"]


def test_cli_pps_brewer_matches_r(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", *CLI_ARGS, "--ci", "logit"]) == 0
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert out.err.startswith("warning: PPS first stage (Brewer) without a second stage")
    refs = [
        c
        for c in REF["ciprop"]
        if c["design"] == "brewer1"
        and c["variable"] == "y1"
        and c["method"] == "logit"
        and c["level"] == 0.95
    ]
    assert [r["domain"] for r in rows] == [c["domain"] for c in refs]
    for row, ref in zip(rows, refs, strict=True):
        assert row["estimate"] == pytest.approx(ref["estimate"], rel=estimate_rtol("logit"))
        assert row["se"] == pytest.approx(ref["se"], rel=RTOL)
        assert row["df"] == ref["df"]
        assert row["ci_low"] == pytest.approx(ref["ci_low"], abs=CI_ATOL)
        assert row["ci_high"] == pytest.approx(ref["ci_high"], abs=CI_ATOL)


def test_cli_two_stage_pps(capsys: pytest.CaptureFixture[str]) -> None:
    args = [*CLI_ARGS, "--cluster2", "resp", "--fpc2", "f2", "--ci", "beta"]
    assert main(["estimate", *args]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    rows = json.loads(out.out)
    refs = [c for c in REF["means"] if c["design"] == "brewer2" and c["variable"] == "y1"]
    assert [r["domain"] for r in rows] == [c["domain"] for c in refs]
    for row, ref in zip(rows, refs, strict=True):
        assert row["se"] == pytest.approx(ref["se"], rel=RTOL)
        assert row["n"] == ref["n"]
        low = proportion_interval(row["estimate"], row["se"], row["n"], row["df"], nchs=False)
        assert row["ci_low"] == pytest.approx(low.ci_low, abs=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pps", "brewer"], "--pps brewer needs --fpc"),
        (["--pps", "brewer", "--fpc", "w"], "bad design: fpc must be a probability in (0, 1]"),
        (["--pps", "brewer", "--fpc", "pi", "--cluster2", "resp", "--fpc2", "w"], "fpc2 must be"),
    ],
)
def test_cli_bad_pps_input_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    base = ["--data", str(DATA_PATH), "--y", "y1", "--strata", "stratum"]
    base += ["--cluster", "school", "--weight", "w"]
    assert main(["estimate", *base, *args]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1
    assert out.err.startswith("error: ")
    assert message in out.err


def test_cli_unknown_pps_method_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["estimate", *CLI_ARGS[:-4], "--fpc", "pi", "--pps", "overton"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'overton'" in capsys.readouterr().err
