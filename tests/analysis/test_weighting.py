"""Post-stratification, raking and trimming against R's survey package.

Reference numbers: tests/reference/weighting_reference.R -> weighting_reference.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.design import SurveyDesign
from analysis.weighting import (
    EmptyCellError,
    RakingNotConvergedError,
    WeightingError,
    post_stratify,
    rake,
    trim_weights,
)

REFERENCE = json.loads(
    (Path(__file__).parents[1] / "reference" / "weighting_reference.json").read_text("utf-8")
)
API = REFERENCE["api"]
RTOL = 1e-9


def _population(name: str) -> dict[str, float]:
    table = API["populations"][name]
    return {row[name]: float(row["Freq"]) for row in table}


def _rows(which: str) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in API[which].items()}


@pytest.fixture(scope="module")
def clus1() -> tuple[SurveyDesign, dict[str, np.ndarray]]:
    rows = _rows("clus1_rows")
    design = SurveyDesign.from_arrays(weights=rows["pw"], cluster=rows["dnum"], fpc=rows["fpc"])
    return design, rows


@pytest.fixture(scope="module")
def strat() -> tuple[SurveyDesign, dict[str, np.ndarray]]:
    rows = _rows("strat_rows")
    design = SurveyDesign.from_arrays(weights=rows["pw"], strata=rows["stype"], fpc=rows["fpc"])
    return design, rows


def _summary(design: SurveyDesign, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """svymean(~api00+api99) and svytotal(~enroll) by linearisation on the design."""
    w = design.weights
    y = np.column_stack([rows["api00"], rows["api99"]]).astype(float)
    mean = w @ y / w.sum()
    scores = w[:, None] * (y - mean) / w.sum()
    mean_se = np.sqrt(np.diag(design.variance_of_totals(scores)))
    enroll = rows["enroll"].astype(float)
    total_se = np.sqrt(design.variance_of_totals(w * enroll))
    return {
        "weights": w,
        "mean": mean,
        "mean_se": mean_se,
        "total": np.array([w @ enroll]),
        "total_se": np.array([total_se]),
    }


def _check(ours: dict[str, np.ndarray], name: str) -> None:
    expected = API[name]
    for key, value in ours.items():
        np.testing.assert_allclose(value, np.atleast_1d(expected[key]), rtol=RTOL, err_msg=key)


def test_uncalibrated_designs_match_r(clus1, strat) -> None:
    _check(_summary(*clus1), "clus1")
    _check(_summary(*strat), "strat")


def test_post_stratify_matches_r(clus1) -> None:
    design, rows = clus1
    adjusted = post_stratify(design, rows["stype"], _population("stype"))
    _check(_summary(adjusted, rows), "clus1_poststratify_stype")
    assert design.calibration is None, "the input design must not change"


def test_rake_matches_r(clus1) -> None:
    design, rows = clus1
    adjusted = rake(
        design,
        [(rows["stype"], _population("stype")), (rows["sch.wide"], _population("sch.wide"))],
    )
    _check(_summary(adjusted, rows), "clus1_rake_stype_schwide")


def test_rake_to_tight_tolerance_matches_r(strat) -> None:
    design, rows = strat
    adjusted = rake(
        design,
        [
            (rows["sch.wide"], _population("sch.wide")),
            (rows["comp.imp"], _population("comp.imp")),
        ],
        epsilon=1e-9,
        max_iterations=50,
    )
    _check(_summary(adjusted, rows), "strat_rake_schwide_compimp")


def test_post_stratify_then_rake_chains_calibrations(clus1) -> None:
    design, rows = clus1
    adjusted = post_stratify(design, rows["stype"], _population("stype"))
    adjusted = rake(adjusted, [(rows["sch.wide"], _population("sch.wide"))])
    _check(_summary(adjusted, rows), "clus1_poststratify_then_rake_schwide")


@pytest.mark.parametrize(
    ("name", "strict"), [("strat_trim_18_40", False), ("strat_trim_18_40_strict", True)]
)
def test_trim_weights_matches_r(strat, name, strict) -> None:
    design, rows = strat
    adjusted = trim_weights(design, lower=18, upper=40, strict=strict)
    _check(_summary(adjusted, rows), name)
    assert adjusted.weights.sum() == pytest.approx(design.weights.sum(), rel=1e-12)


def test_trim_after_rake_keeps_calibration_as_r(clus1) -> None:
    design, rows = clus1
    raked = rake(
        design,
        [(rows["stype"], _population("stype")), (rows["sch.wide"], _population("sch.wide"))],
    )
    adjusted = trim_weights(raked, upper=40, strict=True)
    assert adjusted.calibration is raked.calibration
    _check(_summary(adjusted, rows), "clus1_rake_trim_40_strict")


def test_trim_inside_bounds_returns_same_design(strat) -> None:
    design, _ = strat
    assert trim_weights(design, lower=1, upper=100) is design


def test_empty_cell_is_an_error(clus1) -> None:
    design, rows = clus1
    population = {**_population("stype"), "K": 100.0}
    with pytest.raises(EmptyCellError, match="no sample"):
        post_stratify(design, rows["stype"], population)
    partial = post_stratify(design, rows["stype"], population, partial=True)
    assert partial.weights.sum() == pytest.approx(4421 + 755 + 1018)


def test_sample_cell_without_population_is_an_error(clus1) -> None:
    design, rows = clus1
    population = {"E": 4421.0, "H": 755.0}
    with pytest.raises(WeightingError, match="no population total"):
        post_stratify(design, rows["stype"], population)


def test_rake_that_cannot_converge_raises(strat) -> None:
    design, rows = strat
    # Inconsistent margins (totals 6194 and 7000): proportional fitting oscillates.
    margins = [
        (rows["sch.wide"], _population("sch.wide")),
        (rows["comp.imp"], {"No": 3500.0, "Yes": 3500.0}),
    ]
    with pytest.raises(RakingNotConvergedError, match="did not converge after 5"):
        rake(design, margins, max_iterations=5)
