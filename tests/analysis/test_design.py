"""SurveyDesign construction and the variance engine (R comparisons: test_against_r)."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from analysis.design import LonelyPSUError, SurveyDesign


def small_design(**kwargs: object) -> SurveyDesign:
    strata = np.array(["b", "b", "b", "a", "a", "a", "a"])
    cluster = np.array([10, 10, 11, 20, 21, 21, 22])
    return SurveyDesign.from_arrays(strata=strata, cluster=cluster, **kwargs)  # type: ignore[arg-type]


def test_codes_follow_sorted_labels_and_psus_are_unique() -> None:
    design = small_design()
    assert design.strata.tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert design.strata_labels == ("a", "b")
    assert design.n_psu == 5
    assert design.psu_per_stratum.tolist() == [3.0, 2.0]
    assert design.weights.tolist() == [1.0] * 7


def test_clusters_crossing_strata_need_nest() -> None:
    strata = np.array([1, 1, 2, 2])
    cluster = np.array([1, 2, 1, 2])
    with pytest.raises(ValueError, match="nest=True"):
        SurveyDesign.from_arrays(strata=strata, cluster=cluster)
    nested = SurveyDesign.from_arrays(strata=strata, cluster=cluster, nest=True)
    assert nested.n_psu == 4


def test_weights_from_population_size_or_fraction_agree() -> None:
    by_size = small_design(fpc=np.array([8, 8, 8, 30, 30, 30, 30]))
    by_fraction = small_design(fpc=np.array([0.25, 0.25, 0.25, 0.1, 0.1, 0.1, 0.1]))
    np.testing.assert_allclose(by_size.weights, [4, 4, 4, 10, 10, 10, 10])
    np.testing.assert_allclose(by_fraction.weights, by_size.weights)
    x = np.arange(7.0)
    assert by_size.variance_of_totals(x) == pytest.approx(by_fraction.variance_of_totals(x))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fpc": np.array([8, 8, 9, 30, 30, 30, 30])}, "varies within"),
        ({"fpc": np.array([8, 8, 8, 2, 2, 2, 2])}, "100%"),
        ({"fpc": np.array([0.5, 0.5, 0.5, 30, 30, 30, 30])}, "all fpc"),
        ({"weights": np.array([1, 1, np.nan, 1, 1, 1, 1])}, "missing values in weights"),
        ({"fpc2": np.array([5] * 7)}, "fpc2 needs cluster2"),
        ({"lonely_psu": "ignore"}, "lonely_psu"),
        ({"weights": np.array([1, 1, 1, -2, 1, 1, 1])}, "negative weight at row 3"),
        ({"weights": np.array([1, 1, np.inf, 1, 1, 1, 1])}, "non-finite weight at row 2"),
        ({"weights": np.zeros(7)}, "weights must have a finite, positive total"),
        ({"weights": np.full(7, 1e308)}, "weights must have a finite, positive total"),
        ({"fpc": np.array([8, 8, 8, 0, 0, 0, 0])}, "fpc must be positive: 0.0 at row 3"),
        ({"fpc": np.array([-8, -8, -8, 30, 30, 30, 30])}, "fpc must be positive: -8.0 at row 0"),
    ],
)
def test_bad_design_input_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        small_design(**kwargs)


def test_zero_fpc2_is_refused_without_numpy_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="fpc2 must be positive: 0.0 at row 0"):
            SurveyDesign.from_arrays(
                cluster=np.array([1, 1, 2, 2]),
                cluster2=np.array([1, 2, 1, 2]),
                fpc=np.full(4, 5.0),
                fpc2=np.zeros(4),
            )


def test_zero_weights_are_allowed_when_some_are_positive() -> None:
    design = small_design(weights=np.array([0.0, 1, 1, 1, 1, 1, 1]))
    assert design.weights[0] == 0.0


def test_census_stage_adds_no_variance_but_second_stage_does() -> None:
    """statistics.md: a census of schools with first-stage fpc only gives variance 0."""
    rng = np.random.default_rng(3)
    school = np.repeat(np.arange(6), 5)
    x = rng.normal(size=30)
    census = SurveyDesign.from_arrays(cluster=school, fpc=np.full(30, 6.0))
    assert census.variance_of_totals(x) == 0.0
    two_stage = SurveyDesign.from_arrays(
        cluster=school, fpc=np.full(30, 6.0), cluster2=np.arange(30), fpc2=np.full(30, 50.0)
    )
    assert two_stage.variance_of_totals(x) > 0


def test_variance_shapes_and_symmetry() -> None:
    design = small_design()
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(7, 3))
    v = design.variance_of_totals(scores)
    assert v.shape == (3, 3)
    np.testing.assert_allclose(v, v.T)
    assert design.variance_of_totals(scores[:, 0]).shape == ()
    assert design.variance_of_totals(scores[:, 0]) == pytest.approx(v[0, 0])


def test_variance_by_hand() -> None:
    """One stratum, 3 PSUs, with replacement: n/(n-1) Σ (z - z̄)²."""
    design = SurveyDesign.from_arrays(cluster=np.array([1, 1, 2, 3]))
    z = np.array([1.0, 2.0, 5.0, 0.0])  # PSU totals 3, 5, 0
    expected = 3 / 2 * ((3 - 8 / 3) ** 2 + (5 - 8 / 3) ** 2 + (0 - 8 / 3) ** 2)
    assert design.variance_of_totals(z) == pytest.approx(expected)


def test_lonely_psu_error_names_the_stratum() -> None:
    design = SurveyDesign.from_arrays(
        strata=np.array(["north", "south", "south"]), cluster=np.array([1, 2, 3])
    )
    with pytest.raises(LonelyPSUError, match=r"Stratum \(north\)"):
        design.variance_of_totals(np.ones(3))


def test_calibration_residualises_the_scores_first() -> None:
    class CentreAll:
        def residualise(self, scores: np.ndarray) -> np.ndarray:
            return scores - scores.mean(axis=0)

    base = small_design()
    calibrated = SurveyDesign(
        weights=base.weights,
        strata=base.strata,
        psu=base.psu,
        strata_labels=base.strata_labels,
        calibration=CentreAll(),
    )
    x = np.arange(7.0)
    assert calibrated.variance_of_totals(x) == pytest.approx(base.variance_of_totals(x - 3.0))


def test_degrees_of_freedom_overall_and_domain() -> None:
    design = small_design()
    assert design.degrees_of_freedom() == 5 - 2
    domain = np.array([True, False, False, True, True, False, False])
    assert design.degrees_of_freedom(domain) == (1 + 2) - 2
    assert design.degrees_of_freedom(np.zeros(7, dtype=bool)) == 0


def test_sparse_cell_path_equals_dense_path() -> None:
    rng = np.random.default_rng(7)
    n = 400
    school = rng.integers(0, 30, n)
    design = SurveyDesign.from_arrays(
        strata=school % 4,
        cluster=school,
        cluster2=np.arange(n),
        fpc=np.full(n, 100.0),
        fpc2=np.full(n, 1000.0),
        lonely_psu="adjust",
    )
    group = rng.integers(0, 3, n)
    values = rng.normal(size=(n, 2))
    keys, inverse = np.unique(design.unit * 3 + group, return_inverse=True)
    cells = np.zeros((keys.size, 2))
    np.add.at(cells, inverse, values)
    dense = design.variance_of_cells(cells, keys // 3, keys % 3, 3)
    sparse = design.variance_of_cells(cells, keys // 3, keys % 3, 3, dense_limit=0)
    np.testing.assert_allclose(sparse, dense, rtol=1e-9, atol=1e-12 * np.abs(dense).max())


def test_empty_design_gives_zero_variance() -> None:
    design = SurveyDesign.from_arrays(n=0)
    assert design.variance_of_totals(np.zeros((0, 2))).shape == (2, 2)
    assert design.degrees_of_freedom() == 0


def test_million_rows_thirty_columns_is_fast() -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    school = rng.integers(0, 2000, n)
    design = SurveyDesign.from_arrays(
        weights=rng.uniform(1, 5, n), strata=school % 20, cluster=school
    )
    scores = rng.normal(size=(n, 30))
    design.variance_of_totals(scores[:, :1])  # build the cached structure once
    start = time.perf_counter()
    v = design.variance_of_totals(scores)
    elapsed = time.perf_counter() - start
    assert v.shape == (30, 30)
    assert elapsed < 1.0
