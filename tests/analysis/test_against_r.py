"""analysis/ against R's survey package on the same data.

Numbers: tests/reference/survey_reference.R -> survey_reference.json (R and survey
versions recorded there); data: the CSVs that script writes (R's api data and a
simulated stratified two-stage school survey). Regenerate with
``Rscript tests/reference/survey_reference.R``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis import (
    LonelyPSUError,
    SurveyDesign,
    by,
    ciprop,
    mean,
    mean_many,
    proportion_interval,
    ratio,
)
from analysis.estimators import domain_codes

REFERENCE_DIR = Path(__file__).parents[1] / "reference"
REFERENCE: dict[str, Any] = json.loads((REFERENCE_DIR / "survey_reference.json").read_text("utf-8"))
RTOL = 1e-9  # estimates, SEs, deffs
CI_ATOL = 1e-7  # interval bounds
# R's likelihood bounds come from a spline through a coarse profile grid; we solve R's
# own criterion exactly, which moves the bounds by up to ~1.5e-3.
LIKELIHOOD_ATOL = 2e-3


@cache
def frame(name: str) -> pd.DataFrame:
    file = "simulated_survey" if name.startswith("sim") else name
    return pd.read_csv(REFERENCE_DIR / f"{file}.csv")


def make_design(name: str, data: pd.DataFrame | None = None, lonely: str = "fail") -> SurveyDesign:
    d = frame(name) if data is None else data
    if name == "apistrat":
        return SurveyDesign.from_arrays(
            strata=d.stype.to_numpy(), fpc=d.fpc.to_numpy(), weights=d.pw.to_numpy()
        )
    if name == "apiclus1":
        return SurveyDesign.from_arrays(cluster=d.dnum.to_numpy(), fpc=d.fpc.to_numpy())
    if name == "apiclus2":
        return SurveyDesign.from_arrays(
            cluster=d.dnum.to_numpy(),
            cluster2=d.snum.to_numpy(),
            fpc=d.fpc1.to_numpy(),
            fpc2=d.fpc2.to_numpy(),
        )
    if name == "sim2":
        return SurveyDesign.from_arrays(
            strata=d.stratum.to_numpy(),
            cluster=d.school.to_numpy(),
            cluster2=d.resp.to_numpy(),
            fpc=d.N_schools.to_numpy(),
            fpc2=d.N_resp.to_numpy(),
            lonely_psu=lonely,  # type: ignore[arg-type]
        )
    assert name == "sim1"
    return SurveyDesign.from_arrays(
        strata=d.stratum.to_numpy(),
        cluster=d.school.to_numpy(),
        weights=d.w.to_numpy(),
        lonely_psu=lonely,  # type: ignore[arg-type]
    )


def domain_mask(case: dict[str, Any]) -> np.ndarray | None:
    if case["by"] is None:
        return None
    return frame(case["design"])[case["by"]].astype(str).to_numpy() == case["domain"]


def case_id(case: dict[str, Any]) -> str:
    parts = [
        case["design"],
        case.get("variable") or case.get("numerator"),
        case.get("domain") or "all",
    ]
    if "method" in case:
        parts += [case["method"], str(case["level"])]
    return "-".join(str(p) for p in parts)


def test_reference_records_versions() -> None:
    assert REFERENCE["r_version"].startswith("R version")
    assert REFERENCE["survey_version"]


@pytest.mark.parametrize("case", REFERENCE["means"], ids=case_id)
def test_svymean_matches_r(case: dict[str, Any]) -> None:
    y = frame(case["design"])[case["variable"]].to_numpy(dtype=float)
    est = mean(make_design(case["design"]), y, domain_mask(case))
    assert est.estimate == pytest.approx(case["estimate"], rel=RTOL)
    assert est.se == pytest.approx(case["se"], rel=RTOL)
    assert est.deff == pytest.approx(case["deff"], rel=RTOL)
    assert est.df == case["df"]
    assert est.n == case["n"]


@pytest.mark.parametrize("case", REFERENCE["covmats"], ids=case_id)
def test_svyby_covmat_matches_r(case: dict[str, Any]) -> None:
    data = frame(case["design"])
    y = data[case["variable"]].to_numpy(dtype=float)
    codes, labels = domain_codes(data[case["by"]].astype(str).to_numpy())
    table = mean_many(make_design(case["design"]), y, codes, domain_labels=labels)
    assert list(table.domains) == case["domains"]
    assert table.covariance is not None
    r_vcov = np.array(case["vcov"], dtype=float)
    scale = np.abs(r_vcov).max()
    np.testing.assert_allclose(table.covariance, r_vcov, rtol=1e-9, atol=1e-12 * scale)


@pytest.mark.parametrize("case", REFERENCE["ratios"], ids=case_id)
def test_svyratio_matches_r(case: dict[str, Any]) -> None:
    data = frame(case["design"])
    est = ratio(
        make_design(case["design"]),
        data[case["numerator"]].to_numpy(dtype=float),
        data[case["denominator"]].to_numpy(dtype=float),
        domain_mask(case),
    )
    assert est.estimate == pytest.approx(case["estimate"], rel=RTOL)
    assert est.se == pytest.approx(case["se"], rel=RTOL)
    assert est.deff == pytest.approx(case["deff"], rel=RTOL)


@pytest.mark.parametrize("case", REFERENCE["ciprop"], ids=case_id)
def test_svyciprop_matches_r(case: dict[str, Any]) -> None:
    y = frame(case["design"])[case["variable"]].to_numpy(dtype=float)
    ci = ciprop(
        make_design(case["design"]),
        y,
        domain_mask(case),
        method=case["method"],
        level=case["level"],
        nchs=False,
    )
    atol = LIKELIHOOD_ATOL if case["method"] == "likelihood" else CI_ATOL
    assert ci.estimate == pytest.approx(case["estimate"], rel=1e-8)
    assert ci.ci_low == pytest.approx(case["ci_low"], abs=atol)
    assert ci.ci_high == pytest.approx(case["ci_high"], abs=atol)
    assert ci.df == case["df"]


@pytest.mark.parametrize(
    "case", [c for c in REFERENCE["ciprop"] if c["method"] == "beta"], ids=case_id
)
def test_nchs_cap_changes_beta_only_when_n_eff_exceeds_n(case: dict[str, Any]) -> None:
    y = frame(case["design"])[case["variable"]].to_numpy(dtype=float)
    design = make_design(case["design"])
    est = mean(design, y, domain_mask(case))
    ci = ciprop(design, y, domain_mask(case), method="beta", level=case["level"])
    n_eff = est.estimate * (1 - est.estimate) / est.se**2
    if n_eff <= est.n:
        assert ci.ci_low == pytest.approx(case["ci_low"], abs=CI_ATOL)
    else:  # capping n_eff at n widens R's interval
        assert ci.ci_low < case["ci_low"]
        assert ci.ci_high > case["ci_high"]


@pytest.mark.parametrize("case", REFERENCE["degenerate"], ids=lambda c: c["method"])
def test_all_answers_recognised_gives_a_defined_interval(case: dict[str, Any]) -> None:
    """p̂ = 1: R errors (likelihood) or returns a zero-width/NaN interval; we return
    the NCHS Korn–Graubard interval, below 1 and above 0."""
    if case["error"] is not None:
        assert case["method"] == "likelihood"
    else:
        assert case["ci_low"] is None or case["ci_low"] == pytest.approx(1.0, abs=1e-9)
    data = frame("sim2")
    design = make_design("sim2")
    teachers = data.group.to_numpy() == "teacher"
    ci = ciprop(design, data.certain.to_numpy(dtype=float), teachers, method=case["method"])
    assert ci.estimate == 1.0
    assert ci.degenerate
    assert ci.df == case["df"]
    assert ci.n == case["n"]
    t_ratio = ci.n_eff / ci.n
    assert 0 < t_ratio <= 1
    assert ci.ci_high == 1.0
    assert ci.ci_low == pytest.approx((0.025) ** (1 / ci.n_eff), rel=1e-9)
    assert 0.9 < ci.ci_low < 1.0


def lonely_data() -> pd.DataFrame:
    sim = frame("sim1")
    first = sim.school[sim.stratum == "S4"].min()
    return sim[(sim.stratum != "S4") | (sim.school == first)]


@pytest.mark.parametrize(
    "case", REFERENCE["lonely"], ids=lambda c: f"{c['option']}-{c['stage']}-stage"
)
def test_lonely_psu_options_match_r(case: dict[str, Any]) -> None:
    data = lonely_data()
    design = make_design("sim1" if case["stage"] == "one" else "sim2", data, case["option"])
    y = data.rec1.to_numpy(dtype=float)
    if case["error"] is not None:
        with pytest.raises(LonelyPSUError, match=r"Stratum \(S4\) has only one PSU at stage 1"):
            mean(design, y)
        assert "S4" in case["error"]
        return
    est = mean(design, y)
    assert est.estimate == pytest.approx(case["estimate"], rel=RTOL)
    assert est.se == pytest.approx(case["se"], rel=RTOL)
    assert est.df == case["df"]
    per_group = by(design, y, data.group.to_numpy())
    assert [e.domain for e in per_group] == case["by_domain"]
    np.testing.assert_allclose([e.estimate for e in per_group], case["by_estimate"], rtol=RTOL)
    np.testing.assert_allclose([e.se for e in per_group], case["by_se"], rtol=RTOL)


def test_likelihood_bounds_solve_r_criterion_exactly() -> None:
    """Our likelihood bounds are exact roots: at the bound, the criterion equals t²."""
    from scipy import stats

    p, se, n, df = 0.83, 0.024, 200, 197
    ci = proportion_interval(p, se, n, df, method="likelihood")
    t = stats.t.ppf(0.975, df)
    unit = n / (n - 1) * se**2 / (2 * p * (1 - p))
    for bound in (ci.ci_low, ci.ci_high):
        divergence = p * np.log(p / bound) + (1 - p) * np.log((1 - p) / (1 - bound))
        assert divergence / unit == pytest.approx(t**2, rel=1e-10)
