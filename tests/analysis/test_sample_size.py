"""Sample sizes against the worked examples of shared/statistics.md (done by hand)."""

from __future__ import annotations

import pytest

from analysis.sample_size import (
    SampleSizeError,
    design_effect,
    for_margin,
    for_test,
    national_practice,
)

# m̄ = 15, ρ = 0.05, CV_w = 0.3: (1 + 14·0.05)(1 + 0.09) = 1.7 · 1.09 = 1.853
DEFF = design_effect(15, 0.05, 0.3)


def test_kish_design_effect():
    assert pytest.approx(1.853, abs=1e-12) == DEFF
    assert design_effect() == 1.0
    assert design_effect(21, 0.1) == pytest.approx(3.0)  # 1 + 20·0.1


def test_margin_of_five_points_at_85_percent():
    # 1.959964² · 0.85 · 0.15 / 0.05² · 1.853 = 363.03 → 364; N = 2000: 363.03/1.18102 → 308
    size = for_margin(0.85, 0.05, deff=DEFF)
    assert size.n0 == pytest.approx(363.029, abs=1e-3)
    assert size.n == 364
    assert for_margin(0.85, 0.05, deff=DEFF, population=2000).n == 308
    assert for_margin(0.5, 0.05).n == 385  # the textbook 384.1 → 385


def test_one_sided_test_of_85_against_90_percent():
    # [1.644854·√0.1275 + 0.841621·√0.09]² / 0.05² · 1.853 = 522.76 → 523; N = 2000 → 415
    size = for_test(0.90, p0=0.85, alpha=0.05, power=0.8, deff=DEFF)
    assert size.n0 == pytest.approx(522.762, abs=1e-3)
    assert size.n == 523
    assert for_test(0.90, deff=DEFF, population=2000).n == 415


def test_national_practice_is_one_and_a_half_per_thousand_residents():
    practice = national_practice(418_600)  # 627.9 → 628, parents 314
    assert (practice.total, practice.parents) == (628, 314)
    assert national_practice(400_000).total == 600


@pytest.mark.parametrize(
    ("call", "option"),
    [
        (lambda: for_margin(1.2, 0.05), "--p"),
        (lambda: for_margin(0.85, 0), "--margin"),
        (lambda: for_margin(0.85, 0.05, deff=0.5), "--deff"),
        (lambda: for_margin(0.85, 0.05, level=1), "--level"),
        (lambda: for_margin(0.85, 0.05, population=0), "--population"),
        (lambda: for_test(0.85), "--p1"),
        (lambda: for_test(0.9, alpha=0.6), "--alpha"),
        (lambda: for_test(0.9, power=0.3), "--power"),
        (lambda: design_effect(0.5), "--m"),
        (lambda: design_effect(10, 1.0), "--rho"),
        (lambda: national_practice(0), "--residents"),
    ],
)
def test_bad_inputs_name_their_option(call, option):
    with pytest.raises(SampleSizeError, match=f"^{option}:"):
        call()
