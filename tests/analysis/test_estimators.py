"""Estimators: missing values, domains, no data, many-variable tables, covariances."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import SurveyDesign, by, mean, mean_many, ratio, ratio_many
from analysis.estimators import domain_codes


@pytest.fixture
def survey() -> tuple[SurveyDesign, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    n = 600
    school = rng.integers(0, 24, n)
    design = SurveyDesign.from_arrays(
        weights=rng.uniform(1, 3, n), strata=school % 4, cluster=school
    )
    group = rng.integers(0, 3, n)
    y = (rng.uniform(size=(n, 4)) < 0.8).astype(float)
    y[rng.uniform(size=(n, 4)) < 0.1] = np.nan  # 不了解: not in the denominator
    return design, y, group, school


def test_missing_values_leave_the_denominator(survey) -> None:  # type: ignore[no-untyped-def]
    design, y, _, _ = survey
    col = y[:, 0]
    est = mean(design, col)
    answered = ~np.isnan(col)
    w = design.weights
    assert est.estimate == pytest.approx(np.sum(w[answered] * col[answered]) / w[answered].sum())
    assert est.n == answered.sum()


def test_mean_many_equals_one_at_a_time(survey) -> None:  # type: ignore[no-untyped-def]
    design, y, group, _ = survey
    table = mean_many(design, y, group, variables=["a", "b", "c", "d"])
    for e in table.estimates():
        single = mean(design, y[:, "abcd".index(e.variable)], group == e.domain)
        assert e.estimate == pytest.approx(single.estimate, rel=1e-12)
        assert e.se == pytest.approx(single.se, rel=1e-10)
        assert e.deff == pytest.approx(single.deff, rel=1e-10)
        assert e.df == single.df
    assert table.covariance is not None
    np.testing.assert_allclose(np.sqrt(np.diag(table.covariance)), table.se.ravel(), rtol=1e-10)


def test_groups_in_the_same_schools_are_correlated(survey) -> None:  # type: ignore[no-untyped-def]
    """statistics.md: Var(Σ a_g p_g) = aᵀVa, not Σ a_g² Var(p_g)."""
    design, y, group, _ = survey
    table = mean_many(design, y[:, :1], group)
    a = np.array([0.5, 0.3, 0.2])
    estimate, variance = table.combination(a)
    assert estimate == pytest.approx(a @ table.estimate[:, 0])
    assert table.covariance is not None
    assert variance == pytest.approx(a @ table.covariance @ a)
    # the combination equals the variance of the summed linearised scores
    w = design.weights
    ok = ~np.isnan(y[:, 0])
    scores = np.zeros(design.n)
    for g in range(3):
        sel = ok & (group == g)
        p = table.estimate[g, 0]
        scores[sel] += a[g] * w[sel] * (y[sel, 0] - p) / w[sel].sum()
    assert variance == pytest.approx(float(design.variance_of_totals(scores)), rel=1e-10)


def test_a_domain_without_answers_is_no_data(survey) -> None:  # type: ignore[no-untyped-def]
    design, y, group, _ = survey
    est = mean(design, y[:, 0], np.zeros(design.n, dtype=bool), domain_label="empty")
    assert est.no_data
    assert np.isnan(est.estimate)
    assert np.isnan(est.se)
    assert est.n == 0
    assert est.df == 0
    empty = SurveyDesign.from_arrays(n=0)
    assert mean(empty, np.zeros(0)).no_data


def test_by_uses_sorted_labels_and_skips_missing_labels(survey) -> None:  # type: ignore[no-untyped-def]
    design, y, group, _ = survey
    labels = np.array(["parent", "student", None], dtype=object)[group]
    out = by(design, y[:, 1], labels)
    assert [e.domain for e in out] == ["parent", "student"]
    codes, levels = domain_codes(labels)
    assert levels == ("parent", "student")
    assert (codes[group == 2] == -1).all()


def test_ratio_of_answered_items(survey) -> None:  # type: ignore[no-untyped-def]
    design, y, _, _ = survey
    recognised = np.nansum(y, axis=1)
    answered = np.sum(~np.isnan(y), axis=1).astype(float)
    est = ratio(design, recognised, answered, variable="recognition")
    w = design.weights
    assert est.estimate == pytest.approx(np.sum(w * recognised) / np.sum(w * answered))
    assert est.se > 0
    table = ratio_many(design, recognised, answered)
    assert table.estimate[0, 0] == pytest.approx(est.estimate)


def test_calibrated_path_with_identity_calibration_matches(survey) -> None:  # type: ignore[no-untyped-def]
    class Identity:
        def residualise(self, scores: np.ndarray) -> np.ndarray:
            return scores

    design, y, group, _ = survey
    same = SurveyDesign(
        weights=design.weights,
        strata=design.strata,
        psu=design.psu,
        strata_labels=design.strata_labels,
        calibration=Identity(),
    )
    plain = mean_many(design, y, group)
    calibrated = mean_many(same, y, group)
    np.testing.assert_allclose(calibrated.se, plain.se, rtol=1e-10)
    assert calibrated.covariance is not None
    assert plain.covariance is not None
    np.testing.assert_allclose(calibrated.covariance, plain.covariance, rtol=1e-9, atol=1e-15)
    r_plain = ratio_many(design, y[:, 0], y[:, 1], group)
    r_cal = ratio_many(same, y[:, 0], y[:, 1], group)
    np.testing.assert_allclose(r_cal.se, r_plain.se, rtol=1e-10)


def test_shape_errors_are_reported() -> None:
    design = SurveyDesign.from_arrays(cluster=np.array([1, 1, 2, 2]))
    with pytest.raises(ValueError, match="one row per design row"):
        mean(design, np.ones(3))
    with pytest.raises(ValueError, match="same columns"):
        ratio_many(design, np.ones((4, 2)), np.ones((4, 3)))
