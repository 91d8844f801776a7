"""Survey integrity (issue 9): coached cells found, clean and very satisfied schools left
alone, per-response flags, Benjamini–Hochberg against R's ``p.adjust``."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from analysis.integrity import (
    ERASED_DISSATISFACTION,
    LOW_VARIATION,
    MANY_FLAGGED_RESPONSES,
    PROXY_FILLING,
    SPEEDING,
    STRAIGHT_LINING,
    TEMPLATE_COPYING,
    IntegritySettings,
    ResponseBlock,
    benjamini_hochberg,
    examine,
    explain,
)
from analysis.integrity.simulation import (
    PROCESSES,
    THRESHOLDS,
    Coaching,
    _at_least,
    _draw_codes,
    all_top_probability,
    graded_log_probabilities,
    simulate_county,
)

STYLE_REASON = {
    "template_mixed": TEMPLATE_COPYING,
    "template_all_top": TEMPLATE_COPYING,
    "erased": ERASED_DISSATISFACTION,
    "proxy": PROXY_FILLING,
}


def block_of(
    answers: list[list[int]],
    *,
    school: list[str] | None = None,
    duration: list[float] | None = None,
    minute: list[float] | None = None,
    reading: float = 140.0,
) -> ResponseBlock:
    n = len(answers)
    k = len(answers[0])
    return ResponseBlock(
        items=tuple(f"q{j}" for j in range(k)),
        answers=np.array(answers, dtype=np.int16),
        school=np.array(school or ["A"] * n, dtype=object),
        group=np.array(["parent"] * n, dtype=object),
        stratum=np.array(["urban"] * n, dtype=object),
        duration_seconds=np.array(duration or [200.0] * n),
        submitted_minute=np.array(minute or [float(60 * i) for i in range(n)]),
        reading_seconds=reading,
    )


def test_each_coaching_style_is_flagged_with_its_reason_and_numbers() -> None:
    """One coached parent, student or teacher cell of each style (≥ 40 responses, an
    ordinary school) in a county of 80 simulated schools."""
    coaching = [
        Coaching("template_mixed", 0.5),
        Coaching("template_all_top", 0.8),
        Coaching("erased", 1.0),
        Coaching("proxy", 1 / 3),
    ]
    county = simulate_county(
        np.random.default_rng(1),
        schools=80,
        coaching=coaching,
        min_coached_n=40,
        coach_very_satisfied=False,
    )
    report = examine([county.block])
    found = {(c.school, c.group): c for c in report.cells}
    for key, coach in county.coached.items():
        cell = found[key]
        s = cell.statistics
        assert cell.flagged, (coach, s["test_p_values"])
        assert STYLE_REASON[coach.style] in cell.reasons
        assert s["q_value"] <= 0.05
        if coach.style == "template_mixed":
            assert s["template_kind"] == "mixed"
            assert s["largest_identical"] >= 0.5 * cell.n - 1
            assert (
                f"{s['largest_identical']} of {cell.n} {cell.group} answers at this school are "
                f"the same 14-answer vector, where independent respondents would give at most "
                f"{s['expected_identical_max']}"
            ) in cell.explanation
            assert s["expected_identical_max"] < s["largest_identical"] / 3
        elif coach.style == "template_all_top":
            assert s["template_kind"] == "all_top"
            assert f"{s['all_top']} of {cell.n} {cell.group} answers" in cell.explanation
            assert f"predict at most {s['all_top_expected_max']}" in cell.explanation
            assert s["all_top_expected_max"] < s["all_top"]
        elif coach.style == "erased":
            assert s["low_answers"] == 0
            assert cell.explanation.startswith(f"0 of the {s['answers']} {cell.group} answers")
            assert f"predict at least {s['low_expected_min']}" in cell.explanation
            assert s["low_expected_min"] > 5
        else:
            assert s["burst_fast"] >= 5
            assert f"{s['burst_fast']} {cell.group} answers" in cell.explanation
            assert "under 70 s (reading time 210 s)" in cell.explanation
    clean_flags = [
        c for c in report.cells if c.flagged and (c.school, c.group) not in county.coached
    ]
    assert len(clean_flags) <= 1  # BH at 5%: a false flag among five is allowed, not more


@pytest.mark.parametrize("seed", range(5))
def test_clean_counties_with_very_satisfied_schools_flag_nothing(seed: int) -> None:
    """No coaching; a fifth of the schools very satisfied, genuine school, school ×
    group and school × item effects.  Under the global null BH at 5% flags a county with
    probability ≤ 5%, so five seeds all clean is what a calibrated test gives (checked
    on more seeds in bench/integrity.py)."""
    county = simulate_county(
        np.random.default_rng(1000 + seed), schools=70, very_satisfied_share=0.2
    )
    report = examine([county.block])
    assert report.settings["examined_cells"] > 150
    flagged = [(c.school, c.group, c.reasons) for c in report.cells if c.flagged]
    assert flagged == []
    assert all(
        c.explanation == "No sign of coaching."
        for c in report.cells
        if not c.statistics["too_small"]
    )


@pytest.mark.parametrize(("seed", "tilt"), [(0, 0.7), (1, -0.7), (2, 0.7)])
def test_dont_knows_tied_to_satisfaction_do_not_make_clean_cells_look_coached(
    seed: int, tilt: float
) -> None:
    """The all-top test counts complete answers and learns a school's level from the
    incomplete ones too.  When the less (β > 0) or more (β < 0) satisfied say 不了解
    more often, those who answer everything are more (less) satisfied than the rest:
    the shift per missing item is estimated, and no clean cell is flagged."""
    county = simulate_county(np.random.default_rng(2000 + seed), schools=70, dont_know_tilt=tilt)
    report = examine([county.block])
    assert [(c.school, c.group) for c in report.cells if c.flagged] == []


@pytest.mark.parametrize(("seed", "process"), [(0, "partial_credit"), (1, "sequential")])
def test_answers_from_another_response_model_do_not_make_clean_cells_look_coached(
    seed: int, process: str
) -> None:
    """The tests' models are not how people answer: a county whose respondents follow the
    partial-credit or the sequential model (not the graded one the simulation uses
    elsewhere), a fifth of its schools very satisfied, flags no clean cell."""
    county = simulate_county(
        np.random.default_rng(4000 + seed), schools=70, very_satisfied_share=0.2, process=process
    )
    report = examine([county.block])
    assert report.settings["examined_cells"] > 150
    assert [(c.school, c.group) for c in report.cells if c.flagged] == []


def test_the_simulations_response_models_are_what_they_are_said_to_be() -> None:
    """From each model's P(code ≥ c): the partial-credit model's adjacent-category log
    odds are a(θ − b − τ_c), the sequential model's continuation probabilities
    logistic(a(θ − b − τ_c)), the graded model's cumulative ones the same."""
    theta = np.array([-2.0, 0.0, 1.5, 4.0])
    slope, location = np.array([0.8, 1.3]), np.array([-0.4, 0.6])
    eta = slope[None, :, None] * (theta[:, None, None] - location[None, :, None] - THRESHOLDS)
    step = 1 / (1 + np.exp(-eta))

    def categories(process: str) -> np.ndarray:
        at_least = _at_least(theta, slope, location, process)
        ones = np.ones(at_least.shape[:2] + (1,))
        cumulative = np.concatenate([ones, at_least, 0 * ones], axis=2)
        return cumulative[:, :, :-1] - cumulative[:, :, 1:]

    for process in PROCESSES:
        p = categories(process)
        np.testing.assert_allclose(p.sum(axis=2), 1.0, atol=1e-12)
        assert np.all(p > 0)
    np.testing.assert_allclose(_at_least(theta, slope, location, "graded"), step, rtol=1e-12)
    p = categories("partial_credit")
    np.testing.assert_allclose(np.log(p[:, :, 1:] / p[:, :, :-1]), eta, atol=1e-6)
    at_least = _at_least(theta, slope, location, "sequential")
    ratio = at_least / np.concatenate([np.ones(at_least.shape[:2] + (1,)), at_least[:, :, :-1]], 2)
    np.testing.assert_allclose(ratio, step, rtol=1e-9)
    with pytest.raises(ValueError, match="unknown response process"):
        simulate_county(np.random.default_rng(0), schools=2, process="rasch")


def test_a_school_whose_groups_differ_a_lot_is_not_flagged() -> None:
    """School × group effects with heavy tails (0.6 · t₂: now and then a school whose
    parents are far happier than its students): the all-top test's level prior from the
    other groups has t tails, and no clean cell is flagged."""
    county = simulate_county(
        np.random.default_rng(3000),
        schools=70,
        very_satisfied_share=0.2,
        school_group_sd=0.6,
        school_group_df=2.0,
    )
    report = examine([county.block])
    assert [(c.school, c.group) for c in report.cells if c.flagged] == []


def test_a_school_where_nearly_everyone_is_all_top_is_not_flagged_for_being_good() -> None:
    county = simulate_county(np.random.default_rng(7), schools=60, very_satisfied_share=0.0)
    block = county.block
    cell = (block.school == "S003") & (block.group == "parent")
    rows = np.flatnonzero(cell)
    assert rows.size >= 15
    rng = np.random.default_rng(0)
    block.answers[rows] = 4
    for row in rows[: max(2, rows.size // 8)]:  # the others: one 比较满意 each
        block.answers[row, rng.integers(0, 14)] = 3
    report = examine([block])
    finding = next(c for c in report.cells if c.school == "S003" and c.group == "parent")
    assert not finding.flagged, finding.statistics["test_p_values"]
    assert finding.statistics["test_p_values"]["all_top_vectors"] > 0.01


def test_per_response_flags_on_hand_built_rows() -> None:
    rows = [
        [4] * 14,  # straight-lining
        [4] * 13 + [3],  # one answer differs: low variation
        [4] * 12 + [3, 3],  # two differ: nothing
        [4] * 10 + [0] * 4,  # 10 answered, all 4: straight-lining
        [4] * 4 + [-1] * 10,  # 4 answered: too few to judge
        [1, 2, 3, 4] * 3 + [1, 2],  # varied
    ]
    block = block_of(rows, duration=[300, 300, 46.6, 46.7, np.nan, 10], reading=140.0)
    report = examine([block], IntegritySettings(min_n=2))
    flags = {r.row: r.flags for r in report.responses}
    assert flags == {
        0: (STRAIGHT_LINING,),
        1: (LOW_VARIATION,),
        2: (SPEEDING,),  # 46.6 s < 140/3 = 46.67 s
        3: (STRAIGHT_LINING,),  # 46.7 s is not below a third of the reading time
        5: (SPEEDING,),
    }
    assert {r.school for r in report.responses} == {"A"}
    (cell,) = report.cells
    assert cell.statistics["straight_lining"] == 2
    assert cell.statistics["low_variation"] == 1
    assert cell.statistics["speeding"] == 2
    assert cell.statistics["timed"] == 5


def test_small_cells_are_listed_unflagged_and_outside_the_fdr_family() -> None:
    rows = [[4, 3, 4, 4, 2]] * 9 + [[3, 3, 4, 4, 2]]
    report = examine([block_of(rows[:9])], IntegritySettings(min_n=10))
    (cell,) = report.cells
    assert cell.n == 9
    assert not cell.flagged
    assert cell.reasons == ()
    assert cell.statistics == {"n": 9, "too_small": True, "min_n": 10}
    assert cell.explanation == "Too few responses to examine (9; at least 10 needed)."
    assert report.settings["examined_cells"] == 0
    report = examine([block_of(rows)], IntegritySettings(min_n=10))
    assert report.settings["examined_cells"] == 1
    assert report.cells[0].statistics["too_small"] is False


def test_bh_runs_across_the_cells_of_all_blocks_and_output_is_reproducible() -> None:
    one = simulate_county(np.random.default_rng(3), schools=25)
    two = simulate_county(
        np.random.default_rng(4), schools=25, items=10, coaching=[Coaching("template_mixed", 0.6)]
    )
    both = examine([one.block, two.block])
    alone = [examine([one.block]), examine([two.block])]
    assert both.settings["examined_cells"] == sum(r.settings["examined_cells"] for r in alone)
    assert {c.block for c in both.cells} == {0, 1}
    assert [c.statistics.get("test_p_values") for c in both.cells if c.block == 1] == [
        c.statistics.get("test_p_values") for c in alone[1].cells
    ]
    assert both.as_dict() == examine([one.block, two.block]).as_dict()  # no randomness
    (key,) = two.coached
    coached = next(c for c in both.cells if c.block == 1 and (c.school, c.group) == key)
    assert coached.flagged
    assert coached.statistics["items"] == 10


def test_as_dict_is_plain_json_with_the_contract_keys() -> None:
    county = simulate_county(
        np.random.default_rng(5), schools=12, coaching=[Coaching("proxy", 0.5)]
    )
    out = examine([county.block]).as_dict()
    assert set(out) == {"settings", "cells", "responses"}
    for cell in out["cells"]:
        assert {"school", "group", "n", "flagged", "reasons", "statistics", "explanation"} <= set(
            cell
        )
        assert isinstance(cell["flagged"], bool)
        assert isinstance(cell["n"], int)
    assert {"block", "row", "school", "group", "flags"} == set(out["responses"][0])


def test_the_explanation_is_one_sentence_from_the_statistics() -> None:
    stats = {
        "n": 60,
        "items": 14,
        "largest_identical": 42,
        "expected_identical_max": 3,
        "template_kind": "mixed",
        "speeding": 20,
        "timed": 58,
        "speeding_seconds": 70.0,
        "reading_seconds": 210.0,
        "speeding_expected_max": 4,
    }
    text = explain("parent", (TEMPLATE_COPYING, MANY_FLAGGED_RESPONSES), stats)
    assert text == (
        "42 of 60 parent answers at this school are the same 14-answer vector, where "
        "independent respondents would give at most 3; 20 of 58 parent answers at this "
        "school took under 70 s (reading time 210 s), where the stratum's other schools "
        "would give at most 4."
    )
    assert re.fullmatch(r"[^.]*\.", text)
    assert explain("parent", (), stats) == "No sign of coaching."


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="answers must be"):
        ResponseBlock(
            items=("a",),
            answers=np.zeros((2, 2), dtype=np.int16),
            school=np.array(["A", "A"]),
            group=np.array(["p", "p"]),
            stratum=np.array(["u", "u"]),
            duration_seconds=np.zeros(2),
            submitted_minute=np.zeros(2),
            reading_seconds=10.0,
        )
    with pytest.raises(ValueError, match="fdr"):
        IntegritySettings(fdr=1.0)
    with pytest.raises(ValueError, match="scale_max"):
        examine([block_of([[5, 4, 4, 4, 4]] * 3)])
    mixed = block_of([[4, 4, 4, 4, 3]] * 2)
    mixed.stratum[1] = "rural"
    with pytest.raises(ValueError, match="is in stratum 'urban' and 'rural'"):
        examine([mixed])


def test_an_empty_block_gives_an_empty_report() -> None:
    empty = ResponseBlock(
        items=("q1", "q2"),
        answers=np.zeros((0, 2), dtype=np.int16),
        school=np.array([], dtype=object),
        group=np.array([], dtype=object),
        stratum=np.array([], dtype=object),
        duration_seconds=np.zeros(0),
        submitted_minute=np.zeros(0),
        reading_seconds=30.0,
    )
    report = examine([empty])
    assert report.cells == ()
    assert report.responses == ()


def test_benjamini_hochberg_equals_r_p_adjust() -> None:
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is missing (./dev setup installs R); BH is checked against R")
    rng = np.random.default_rng(20261206)
    p = np.concatenate(
        [rng.uniform(size=40), rng.uniform(0, 1e-4, size=8), [0.01, 0.01, 0.02, 1.0, 0.0]]
    )
    values = ", ".join(repr(float(x)) for x in p)
    script = f"p <- c({values}); cat(sprintf('%.17g', p.adjust(p, method = 'BH')), sep = '\\n')"
    run = subprocess.run(
        ["Rscript", "-e", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr[-300:]
    r_adjusted = np.array([float(v) for v in run.stdout.split()])
    rejected, adjusted = benjamini_hochberg(p, 0.05)
    np.testing.assert_allclose(adjusted, r_adjusted, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(rejected, r_adjusted <= 0.05)
    # the step-up rule by hand: the largest i with p_(i) <= i q / m, and all below it
    order = np.sort(p)
    below = np.flatnonzero(order <= np.arange(1, p.size + 1) * 0.05 / p.size)
    assert rejected.sum() == below.max() + 1


@pytest.mark.parametrize(("seed", "process"), [(3, "graded"), (4, "graded"), (5, "sequential")])
def test_the_simulations_true_all_top_probability_is_what_its_respondents_give(
    seed: int, process: str
) -> None:
    """The bench's ceiling rests on ``all_top_probability``: drawing many respondents from
    a cell's true model gives that share of all-top vectors (within 4 standard errors)."""
    county = simulate_county(np.random.default_rng(seed), schools=4, process=process)
    rng = np.random.default_rng(seed + 100)
    for truth in list(county.truth.values())[:6]:
        assert truth.process == process
        theta = truth.level + rng.normal(0, truth.spread, 100_000)
        codes = _draw_codes(rng, theta, truth.slope, truth.locations, process)
        drawn = float((codes == 4).all(axis=1).mean())
        expected = all_top_probability(truth)
        assert abs(drawn - expected) <= 4 * np.sqrt(expected * (1 - expected) / 100_000) + 1e-9


def test_the_simulations_graded_probabilities_are_what_its_respondents_give() -> None:
    """``bench/integrity_gap.py`` gives tests the item model through
    ``graded_log_probabilities``: at fixed θ, the share of each code among many drawn
    respondents is its probability (within 4 standard errors), and the codes' sum to 1."""
    county = simulate_county(np.random.default_rng(5), schools=2)
    truth = next(iter(county.truth.values()))
    rng = np.random.default_rng(6)
    for theta in (-2.0, 0.5, 3.0):
        drawn = _draw_codes(rng, np.full(50_000, theta), truth.slope, truth.locations)
        p = np.exp(graded_log_probabilities(np.array([theta]), truth.slope, truth.locations))[0]
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
        share = np.stack([(drawn == c).mean(axis=0) for c in range(1, 5)], axis=1)
        assert np.all(np.abs(share - p) <= 4 * np.sqrt(p * (1 - p) / 50_000) + 1e-9)
