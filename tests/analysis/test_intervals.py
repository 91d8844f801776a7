"""Proportion intervals: the p-value/interval duality, NCHS rules, edge cases.

Agreement with R's svyciprop is in test_against_r.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analysis.intervals import (
    CI_METHODS,
    ProportionInterval,
    interval_and_p_value,
    interval_arrays,
    proportion_interval,
)

CASES = [(0.9, 0.02, 300, 25), (0.87, 0.015, 800, 40), (0.88, 0.05, 120, 9), (0.95, 0.01, 60, 12)]


@pytest.mark.parametrize("method", CI_METHODS)
@pytest.mark.parametrize(("p", "se", "n", "df"), CASES)
def test_p_value_and_lower_bound_agree(method: str, p: float, se: float, n: int, df: int) -> None:
    """p ≤ α exactly when the lower end of the two-sided (1 − 2α) interval ≥ 0.85."""
    first = proportion_interval(p, se, n, df, method=method, threshold=0.85)  # type: ignore[arg-type]
    alpha = first.p_value
    assert 0 < alpha < 0.5
    at = proportion_interval(p, se, n, df, method=method, level=1 - 2 * alpha)  # type: ignore[arg-type]
    assert at.ci_low == pytest.approx(0.85, abs=1e-7)
    stricter = proportion_interval(p, se, n, df, method=method, level=1 - 1.8 * alpha)  # type: ignore[arg-type]
    looser = proportion_interval(p, se, n, df, method=method, level=1 - 2.2 * alpha)  # type: ignore[arg-type]
    assert stricter.ci_low < 0.85 < looser.ci_low


@pytest.mark.parametrize("method", CI_METHODS)
def test_estimate_below_threshold_has_p_value_above_half(method: str) -> None:
    ci = proportion_interval(0.8, 0.03, 300, 20, method=method, threshold=0.85)  # type: ignore[arg-type]
    assert 0.5 < ci.p_value < 1


@pytest.mark.parametrize("method", CI_METHODS)
def test_intervals_contain_the_estimate_and_stay_in_unit_range(method: str) -> None:
    for p, se, n, df in CASES + [(0.02, 0.015, 100, 10)]:
        ci = proportion_interval(p, se, n, df, method=method)  # type: ignore[arg-type]
        assert 0 <= ci.ci_low <= p <= ci.ci_high <= 1 or method == "mean"


def test_beta_is_statsmodels_clopper_pearson_with_korn_graubard_n() -> None:
    p, se, n, df = 0.83, 0.03, 400, 30
    n_eff = p * (1 - p) / se**2 * (stats.t.ppf(0.025, n - 1) / stats.t.ppf(0.025, df)) ** 2
    low, high = proportion_confint(n_eff * p, n_eff, alpha=0.05, method="beta")
    ci = proportion_interval(p, se, n, df, method="beta")
    assert ci.ci_low == pytest.approx(low, abs=1e-10)
    assert ci.ci_high == pytest.approx(high, abs=1e-10)


def test_nchs_caps_effective_n_at_n() -> None:
    capped = proportion_interval(0.9, 0.005, 100, 50, method="beta")
    raw = proportion_interval(0.9, 0.005, 100, 50, method="beta", nchs=False)
    assert capped.n_eff == 100
    assert capped.ci_low < raw.ci_low


def test_wilson_uses_effective_n_and_z() -> None:
    p, se = 0.9, 0.02
    m = p * (1 - p) / se**2
    low, high = proportion_confint(round(m * p, 10), m, alpha=0.05, method="wilson")
    ci = proportion_interval(p, se, 500, 20, method="wilson")
    assert ci.ci_low == pytest.approx(low, abs=1e-9)
    assert ci.ci_high == pytest.approx(high, abs=1e-9)


@pytest.mark.parametrize("method", CI_METHODS)
@pytest.mark.parametrize("p", [0.0, 1.0])
def test_all_or_nothing_has_a_defined_interval(method: str, p: float) -> None:
    ci = proportion_interval(p, 0.0, 40, 10, method=method, threshold=0.85)  # type: ignore[arg-type]
    assert ci.degenerate
    assert all(math.isfinite(v) for v in (ci.ci_low, ci.ci_high, ci.p_value))
    factor = (stats.t.ppf(0.025, 39) / stats.t.ppf(0.025, 10)) ** 2
    assert ci.n_eff == pytest.approx(40 * factor)
    if p == 1.0:
        assert ci.ci_high == 1.0
        assert ci.ci_low == pytest.approx(0.025 ** (1 / ci.n_eff))
        assert ci.p_value < 0.5
    else:
        assert ci.ci_low == 0.0
        assert ci.p_value == pytest.approx(1.0)


def test_no_data_and_no_df_are_flagged() -> None:
    empty = proportion_interval(math.nan, math.nan, 0, 0)
    assert "no_data" in empty.flags
    assert math.isnan(empty.ci_low)
    one_psu = proportion_interval(0.9, 0.02, 30, 0)
    assert "no_variance" in one_psu.flags
    small = proportion_interval(0.9, 0.05, 25, 5, threshold=0.85)
    assert set(small.flags) == {"df_below_8", "n_eff_below_30"}


def test_no_second_pass_rule_beside_recognition_rule() -> None:
    # The only pass rule is RecognitionRule's (one-sided 1 − α lower bound ≥ threshold);
    # an interval property deciding at another level would contradict it.
    assert not hasattr(ProportionInterval, "passes")


@pytest.mark.parametrize("method", CI_METHODS)
def test_p_value_agrees_with_the_one_sided_lower_bound(method: str) -> None:
    # p ≤ α exactly when the lower end of the two-sided 1 − 2α interval is ≥ threshold,
    # the rule RecognitionRule applies with α = 0.05 (level 0.90).
    strong = proportion_interval(0.95, 0.01, 500, 30, method=method, level=0.90, threshold=0.85)
    assert strong.ci_low >= 0.85
    assert strong.p_value < 0.05
    weak = proportion_interval(0.86, 0.02, 500, 30, method=method, level=0.90, threshold=0.85)
    assert weak.ci_low < 0.85
    assert weak.p_value > 0.05


@pytest.mark.parametrize("nchs", [True, False])
@pytest.mark.parametrize("method", CI_METHODS)
def test_vectorised_version_matches_scalar(method: str, nchs: bool) -> None:
    """interval_arrays on many estimates at once = proportion_interval one at a time,
    including p̂ = 0 or 1, no variance, df ≤ 0, n < 2 and no data."""
    rng = np.random.default_rng(5)
    p = np.r_[rng.uniform(0.6, 0.99, 40), 1.0, 0.0, 0.85, 0.9, 0.9, 0.9, np.nan, 0.9]
    se = np.r_[rng.uniform(0.003, 0.05, 40), 0.0, 0.0, 0.01, 0.0, 0.02, 0.02, 0.1, 0.02]
    n = np.r_[rng.integers(20, 3000, 40), 50, 50, 100, 80, 1, 40, 10, 0]
    df = np.r_[rng.integers(3, 300, 40), 10, 10, 5, 12, 3, 0, 4, 0].astype(float)
    for threshold in (0.85, None, 0.0, 1.0):
        lo, hi, pv, n_eff = interval_arrays(
            p, se, n, df, method=method, level=0.9, threshold=threshold, nchs=nchs
        )
        for i in range(p.size):
            ci = proportion_interval(
                p[i], se[i], int(n[i]), df[i], method=method, level=0.9, threshold=threshold,
                nchs=nchs,
            )  # fmt: skip
            assert [lo[i], hi[i], pv[i], n_eff[i]] == pytest.approx(
                [ci.ci_low, ci.ci_high, ci.p_value, ci.n_eff], rel=0, abs=0, nan_ok=True
            )
    for three, four in zip(
        interval_and_p_value(p, se, n, df, method=method, nchs=nchs),
        interval_arrays(p, se, n, df, method=method, nchs=nchs),
        strict=False,
    ):
        np.testing.assert_array_equal(three, four)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown interval method"):
        proportion_interval(0.5, 0.1, 10, 5, method="exact")  # type: ignore[arg-type]
