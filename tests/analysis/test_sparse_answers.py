"""The evaluation on structurally missing answers (each questionnaire its own item
columns, NaN elsewhere) and many one-person PSUs equals the dense path it replaced:
answers summed cell by cell, and variances from full (units x columns) score tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from analysis.design import SurveyDesign
from analysis.levels import Factor, factorize
from analysis.recognition import evaluate_recognition
from analysis.recognition_tables import (
    AnswerBlock,
    AnswerPositions,
    CalibrationAdjustment,
    DomainTables,
)
from analysis.weighting import post_stratify, rake
from tests.analysis.report_figures import evaluate, figures

GROUPS = np.array(["parent", "student", "teacher", "resident", "deputy"])
QUESTIONNAIRE = np.array([0, 1, 2, 0, 0])  # parents and the public share one
BLOCKS = ((0, 5), (5, 9), (9, 14))


def campaign(seed: int, interleave: bool = False) -> dict[str, Any]:
    """Schools (strata of 2-4), an open link (one PSU per person), a list stratum."""
    rng = np.random.default_rng(seed)
    n_school, n_link, n_list = 300, 40, 6
    school_stratum = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    school = rng.integers(0, school_stratum.size, n_school)
    group = np.concatenate([rng.integers(0, 3, n_school), np.full(n_link, 3), np.full(n_list, 4)])
    n = group.size
    strata = np.concatenate(
        [school_stratum[school], np.full(n_link, 3), np.full(n_list, 4)]
    ).astype(str)
    psu = np.concatenate([school, 100 + np.arange(n_link + n_list)])
    x = np.full((n, BLOCKS[-1][1]), np.nan)
    for row, q in enumerate(QUESTIONNAIRE[group]):
        lo, hi = BLOCKS[q]
        x[row, lo:hi] = (rng.random(hi - lo) < 0.85).astype(float)
    x[rng.random(x.shape) < 0.1] = np.nan  # 不了解, also at the edges of a block
    x[rng.random(n) < 0.03] = np.nan  # rows with no answer at all
    if interleave:
        x = x[:, rng.permutation(x.shape[1])]
    weights = rng.uniform(1, 30, n)
    weights[rng.random(n) < 0.02] = 0.0
    return {
        "weights": weights,
        "strata": strata,
        "psu": psu,
        "groups": GROUPS[group],
        "x": x,
        "areas": ["a", "b", "c"] * 4 + ["a", "b"],
        "fpc": np.where(strata == "4", 50.0, np.inf),
        "school": school_stratum.size,
        "rng": rng,
    }


def designs(data: dict[str, Any]) -> dict[str, Callable[[str], SurveyDesign]]:
    """The loader's design, a two-stage one and Brewer's two-stage one."""
    n = data["weights"].size
    rng = data["rng"]
    _, psu = np.unique(data["psu"], return_inverse=True)
    pi_psu = rng.uniform(0.2, 1.0, psu.max() + 1)
    pi_psu[rng.random(pi_psu.size) < 0.3] = 1.0
    pi = np.where(data["strata"] == "3", 1e-300, pi_psu[psu])
    _, group = np.unique(data["groups"], return_inverse=True)
    f2 = np.where(
        data["strata"] < "3", rng.uniform(0.3, 1.0, 5 * psu.max() + 5)[psu * 5 + group], 1.0
    )

    def current(lonely: str) -> SurveyDesign:
        return SurveyDesign.from_arrays(
            weights=data["weights"],
            strata=data["strata"],
            cluster=data["psu"],
            fpc=data["fpc"],
            lonely_psu=lonely,  # type: ignore[arg-type]
        )

    def two_stage(lonely: str) -> SurveyDesign:
        return SurveyDesign.from_arrays(
            weights=data["weights"],
            strata=data["strata"],
            cluster=data["psu"],
            cluster2=psu * 5 + group,
            fpc=np.where(data["strata"] == "4", 50.0, 100.0),
            lonely_psu=lonely,  # type: ignore[arg-type]
        )

    def brewer(lonely: str) -> SurveyDesign:
        return SurveyDesign.from_arrays(
            weights=data["weights"],
            strata=data["strata"],
            cluster=data["psu"],
            cluster2=np.arange(n),
            fpc=pi,
            fpc2=f2,
            pps="brewer",
            lonely_psu=lonely,  # type: ignore[arg-type]
        )

    return {"current": current, "two_stage": two_stage, "brewer": brewer}


def cell_sums(x: np.ndarray, key: np.ndarray, n_keys: int, w: np.ndarray) -> tuple[np.ndarray, ...]:
    """What :meth:`AnswerPositions.sums` gives, summed over every cell."""
    answered = ~np.isnan(x)
    den = np.zeros((n_keys, x.shape[1]))
    num = np.zeros_like(den)
    count = np.zeros_like(den)
    np.add.at(den, key, answered * w[:, None])
    np.add.at(num, key, (x == 1) * w[:, None])
    np.add.at(count, key, answered.astype(float))
    return np.where(count > 0, num, 0.0), np.where(count > 0, den, 0.0), count


def dense_reference(monkeypatch: pytest.MonkeyPatch, x: np.ndarray) -> None:
    """Route the evaluation through cell-by-cell sums and full score tables."""

    def sums(self: AnswerPositions, key: Any, n_keys: int, w: Any) -> tuple[np.ndarray, ...]:
        return cell_sums(x, key, n_keys, w)

    def estimates(self: DomainTables, design: SurveyDesign, adjust: Any = None) -> Any:
        num, den = self.totals()
        with np.errstate(invalid="ignore", divide="ignore"):
            p = num / den
        return self._dense_variances(design, adjust, p, den)

    monkeypatch.setattr(AnswerPositions, "sums", sums)
    monkeypatch.setattr(DomainTables, "estimates_and_variances", estimates)
    monkeypatch.setattr(SurveyDesign, "ssu_is_row", False)  # cells of SSUs, not of PSUs


def assert_same(new: dict[str, tuple[float, ...]], old: dict[str, tuple[float, ...]]) -> None:
    assert new.keys() == old.keys()
    for key, values in new.items():
        np.testing.assert_allclose(
            values, old[key], rtol=1e-12, atol=1e-15, equal_nan=True, err_msg=key
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("interleave", [False, True])
def test_answer_sums_equal_cell_by_cell_sums(seed: int, interleave: bool) -> None:
    data = campaign(seed, interleave)
    x = data["x"]
    rng = np.random.default_rng(seed)
    key = rng.integers(0, 11, x.shape[0])
    for layout in (x, np.asfortranarray(x)):
        found = AnswerPositions.find(layout).sums(key, 11, data["weights"])
        for got, want in zip(found, cell_sums(x, key, 11, data["weights"]), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-12)


def test_answer_positions_edge_cases() -> None:
    for x in (np.zeros((0, 3)), np.zeros((4, 0)), np.full((5, 9), np.nan), np.ones((3, 17))):
        key = np.arange(x.shape[0]) % 2
        w = np.ones(x.shape[0])
        found = AnswerPositions.find(x).sums(key, 2, w)
        for got, want in zip(found, cell_sums(x, key, 2, w), strict=True):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="1, 0 or NaN"):
        AnswerPositions.find(np.array([[1.0, 0.5, np.nan]]))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("design_name", ["current", "two_stage", "brewer"])
@pytest.mark.parametrize("lonely", ["adjust", "remove", "certainty", "average"])
def test_evaluation_equals_the_dense_path(
    monkeypatch: pytest.MonkeyPatch, seed: int, design_name: str, lonely: str
) -> None:
    data = campaign(seed, interleave=seed == 3)
    design = designs(data)[design_name](lonely)
    location = np.where(data["strata"] < "3", np.array(["urban", "rural"])[data["psu"] % 2], "")
    domains = [data["groups"], np.where(location == "", "outside", location)]
    answers = AnswerPositions.find(data["x"])
    new = [figures(evaluate(design, data, d)) for d in domains]
    shared = evaluate_recognition(design, domains[0], data["x"], data["areas"], answers=answers)
    with monkeypatch.context() as patch:
        dense_reference(patch, data["x"])
        old = [figures(evaluate(design, data, d)) for d in domains]
        old_shared = evaluate_recognition(design, domains[0], data["x"], data["areas"])
    for got, want in zip(new, old, strict=True):
        assert_same(got, want)
    assert_same(figures(shared), figures(old_shared))


@pytest.mark.parametrize("design_name", ["current", "two_stage", "brewer"])
def test_df_is_r_degf_of_each_domain(design_name: str) -> None:
    data = campaign(4)
    design = designs(data)[design_name]("adjust")
    report = evaluate(design, data, data["groups"])
    answered = ~np.isnan(data["x"])
    for label, grp in report.groups.items():
        rows = data["groups"] == label
        assert grp.rate.df == design.degrees_of_freedom(rows)
        for k, item in enumerate(grp.items.values()):
            assert item.df == design.degrees_of_freedom(rows & answered[:, k])


@pytest.mark.parametrize(
    ("design_name", "lonely"),
    [
        (name, lonely)
        for name in ("current", "two_stage", "brewer")
        for lonely in ("adjust", "remove", "fail")
        # "fail" has no lonely PSU only at the first stage: a one-person PSU is lonely
        # at the second stage of the two-stage design.
        if (name, lonely) != ("two_stage", "fail")
    ],
)
def test_variance_diagonal_equals_the_full_covariance(design_name: str, lonely: str) -> None:
    data = campaign(5)
    if lonely == "fail":  # no lonely PSU: the list joins the open link
        data["strata"] = np.where(data["strata"] == "4", "3", data["strata"])
        data["fpc"] = np.full(data["weights"].size, np.inf)
    design = designs(data)[design_name](lonely)
    rng = np.random.default_rng(5)
    units = np.flatnonzero(rng.random(design.n_units) < 0.4)
    z = rng.normal(size=(units.size, 4))
    dense = np.zeros((design.n_units, 4))
    dense[units] = z
    present = np.zeros(design.n_units, dtype=bool)
    present[units] = True
    np.testing.assert_allclose(
        design.variance_diagonal(z, units, present),
        np.diag(design.variance_of_unit_totals(dense, present)),
        rtol=1e-12,
    )


def test_answers_of_another_matrix_are_refused() -> None:
    data = campaign(6)
    design = designs(data)["current"]("adjust")
    answers = AnswerPositions.find(data["x"][:, :5])
    with pytest.raises(ValueError, match="another answer matrix"):
        evaluate_recognition(design, data["groups"], data["x"], data["areas"], answers=answers)


def blocks_of(data: dict[str, Any], leave_out: np.ndarray | None = None) -> list[AnswerBlock]:
    """The campaign's answers as a loader keeps them: each questionnaire's rows with its
    own columns (found where its rows answered; interleaved, they are not contiguous)."""
    x = data["x"]
    questionnaire = QUESTIONNAIRE[[list(GROUPS).index(g) for g in data["groups"]]]
    found = []
    for q in np.unique(questionnaire):
        rows = np.flatnonzero((questionnaire == q) & (True if leave_out is None else ~leave_out))
        columns = np.flatnonzero((~np.isnan(x[questionnaire == q])).any(axis=0))
        block = x[rows[:, None], columns]
        meaning = np.where(np.isnan(block), -1, block).astype(np.int8)
        found.append(AnswerBlock(rows.astype(np.intp), columns.astype(np.intp), meaning))
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("interleave", [False, True])
def test_answer_positions_from_blocks_sum_as_found(seed: int, interleave: bool) -> None:
    data = campaign(seed, interleave)
    x = data["x"]
    empty = np.isnan(x).all(axis=1)  # rows with no answer may be in no block at all
    for leave_out in (None, empty):
        positions = AnswerPositions.from_blocks(x.shape[0], x.shape[1], blocks_of(data, leave_out))
        np.testing.assert_array_equal(positions.dense(), x)
        key = np.random.default_rng(seed).integers(0, 11, x.shape[0])
        found = positions.sums(key, 11, data["weights"])
        for got, want in zip(found, cell_sums(x, key, 11, data["weights"]), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize(
    "design_name", ["current", "two_stage", "brewer", "post", "raked", "calibrated_rows"]
)
def test_evaluation_from_blocks_equals_the_matrix(
    monkeypatch: pytest.MonkeyPatch, design_name: str
) -> None:
    data = campaign(7, interleave=True)
    if design_name == "calibrated_rows":  # a calibration the tables cannot adjust: rows
        monkeypatch.setattr(CalibrationAdjustment, "build", lambda *args: None)
        design_name = "raked"
    location = np.where(data["strata"] < "3", np.array(["urban", "rural"])[data["psu"] % 2], "")
    if design_name in ("post", "raked"):
        data["weights"] = np.where(data["weights"] == 0, 1.0, data["weights"])  # raking divides
        design = designs(data)["current"]("adjust")
        by_location = {"urban": 5000.0, "rural": 7000.0, "": 900.0}
        design = post_stratify(design, location, by_location)
        if design_name == "raked":
            totals = {g: 2000.0 + 100 * i for i, g in enumerate(GROUPS)}
            design = rake(design, [(location, by_location), (data["groups"], totals)], epsilon=1e-9)
    else:
        design = designs(data)[design_name]("adjust")
    x = data["x"]
    positions = AnswerPositions.from_blocks(x.shape[0], x.shape[1], blocks_of(data))
    for domains in (data["groups"], np.where(location == "", "outside", location)):
        from_blocks = evaluate_recognition(design, domains, None, data["areas"], answers=positions)
        from_matrix = evaluate_recognition(design, domains, x, data["areas"])
        assert_same(figures(from_blocks), figures(from_matrix))


def test_answer_blocks_are_checked() -> None:
    rows, columns = np.arange(2, dtype=np.intp), np.arange(3, dtype=np.intp)
    with pytest.raises(ValueError, match="1, 0 or -1"):
        AnswerPositions.from_blocks(2, 3, [AnswerBlock(rows, columns, np.full((2, 3), 2, np.int8))])
    with pytest.raises(ValueError, match="its rows, its columns"):
        AnswerPositions.from_blocks(2, 3, [AnswerBlock(rows, columns, np.ones((3, 2), np.int8))])
    design = SurveyDesign.from_arrays(weights=np.ones(2))
    with pytest.raises(ValueError, match="recognised answers or their positions"):
        evaluate_recognition(design, np.array(["a", "a"]), None, ["x", "x", "x"])


@pytest.mark.parametrize(
    "values",
    [
        np.array(["b", "a", "", "ab", "中文", "a", "b"]),
        np.array(["urban-primary", "list-deputy", "urban-primary"] * 50),
        np.array([b"x", b"yy", b"x"]),
        np.array([5, -3, 5, 1_000_000_000]),
        np.array([3, 1, 3, 2]),
        np.array([2.5, -1.0, 2.5]),
        np.array(["only"]),
    ],
)
def test_factorize_is_numpy_unique(values: np.ndarray) -> None:
    levels, codes = factorize(values)
    want_levels, want_codes = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(levels, want_levels)
    np.testing.assert_array_equal(codes, want_codes)


def test_a_factor_is_its_labels() -> None:
    """Coded labels (unsorted levels, some unused) give what the label strings give:
    the same levels and codes, the same design, the same report."""
    data = campaign(8)
    levels = np.array(["z-unused", "resident", "parent", "deputy", "teacher", "student"])
    position = {label: index for index, label in enumerate(levels)}
    groups = Factor(np.array([position[g] for g in data["groups"]]), levels)
    np.testing.assert_array_equal(groups.labels(), data["groups"])
    for got, want in zip(
        factorize(groups), np.unique(data["groups"], return_inverse=True), strict=True
    ):
        np.testing.assert_array_equal(got, want)
    strata_levels, strata_codes = np.unique(data["strata"], return_inverse=True)
    strata = Factor(strata_levels.size - 1 - strata_codes, strata_levels[::-1].copy())
    coded = SurveyDesign.from_arrays(
        weights=data["weights"],
        strata=strata,
        cluster=data["psu"],
        fpc=data["fpc"],
        lonely_psu="adjust",
    )
    plain = designs(data)["current"]("adjust")
    x = data["x"]
    assert_same(
        figures(evaluate_recognition(coded, groups, x, data["areas"])),
        figures(evaluate_recognition(plain, data["groups"], x, data["areas"])),
    )
    with pytest.raises(ValueError, match="index its levels"):
        Factor(np.array([0, 3]), np.array(["a", "b"]))
    with pytest.raises(ValueError, match="distinct"):
        Factor(np.array([0, 1]), np.array(["a", "a"]))
    with pytest.raises(ValueError, match="integers"):
        Factor(np.array([0.0, 1.0]), np.array(["a", "b"]))
