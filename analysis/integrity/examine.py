"""``examine``: every test on every cell of every block, then one false-discovery control."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.integrity.blocks import IntegritySettings, ResponseBlock
from analysis.integrity.copying import CopyingResult, copying_test
from analysis.integrity.erasure import ErasureResult, erasure_test
from analysis.integrity.explanation import explain
from analysis.integrity.findings import (
    CELL_REASONS,
    ERASED_DISSATISFACTION,
    LOW_VARIATION,
    MANY_FLAGGED_RESPONSES,
    PROXY_FILLING,
    SPEEDING,
    STRAIGHT_LINING,
    TEMPLATE_COPYING,
    CellFinding,
    IntegrityReport,
    ResponseFlag,
)
from analysis.integrity.layout import CellLayout, layout_cells
from analysis.integrity.multiplicity import benjamini_hochberg, bonferroni_min
from analysis.integrity.response_flags import ResponsePatterns, response_patterns
from analysis.integrity.timing import TimingResult, timing_tests
from analysis.integrity.top_excess import TopExcessResult, top_excess_test

FloatArray = NDArray[np.float64]
# the five tests of a cell and the reason each one supports
TESTS = (
    ("identical_vectors", TEMPLATE_COPYING),
    ("all_top_vectors", TEMPLATE_COPYING),
    ("low_answers", ERASED_DISSATISFACTION),
    ("speeding_bursts", PROXY_FILLING),
    ("speeding_count", MANY_FLAGGED_RESPONSES),
)
METHOD = (
    "per cell: template copying (conditional Rasch union bound on identical vectors; "
    "partial posterior predictive test of complete all-top vectors), erased "
    "dissatisfaction (respondent-matched reference with between-school tilt), proxy "
    "filling (beta-binomial union bound on speeding bursts), many speeding responses "
    "(beta-binomial); Bonferroni over a cell's 5 tests; Benjamini-Hochberg across all "
    "examined cells"
)


@dataclass(frozen=True, eq=False)
class _BlockTests:
    layout: CellLayout
    patterns: ResponsePatterns
    examined: NDArray[np.bool_]
    copying: CopyingResult
    top: TopExcessResult
    erasure: ErasureResult
    timing: TimingResult
    p_values: FloatArray  # (cells, 5) in TESTS order
    template_kind: list[str]
    per_cell: dict[str, FloatArray]  # row counts summed per cell


def examine(
    blocks: Sequence[ResponseBlock], settings: IntegritySettings | None = None
) -> IntegrityReport:
    """Examine every (school, group) cell with at least ``settings.min_n`` responses.

    Each cell gets five tests (``TESTS``; two of them for template copying), combined
    by Bonferroni (cell p = smallest × 5); the Benjamini–Hochberg procedure at
    ``settings.fdr`` runs across the examined cells of all blocks together.  A flagged
    cell's reasons are those of the tests that alone (× 5) clear the BH cut-off.
    Cells below ``min_n`` are listed, unflagged, with ``statistics["too_small"]``
    True."""
    settings = settings or IntegritySettings()
    tests = [_test_block(block, settings) for block in blocks]
    pooled = (
        np.concatenate([t.p_values[t.examined] for t in tests])
        if tests
        else np.zeros((0, len(TESTS)))
    )
    cell_p = bonferroni_min(pooled)
    rejected, q_value = benjamini_hochberg(cell_p, settings.fdr)
    cutoff = settings.fdr * rejected.sum() / max(rejected.size, 1)
    cells: list[CellFinding] = []
    responses: list[ResponseFlag] = []
    at = 0
    for b, (block, t) in enumerate(zip(blocks, tests, strict=True)):
        for c in range(t.layout.n_cells):
            if t.examined[c]:
                clears = {
                    reason
                    for (_, reason), p in zip(TESTS, t.p_values[c].tolist(), strict=True)
                    if rejected[at] and p * len(TESTS) <= cutoff
                }
                reasons = tuple(r for r in CELL_REASONS if r in clears)
                stats = _statistics(block, t, c, settings)
                stats["p_values"] = _reason_p_values(t.p_values[c])
                stats["test_p_values"] = {
                    name: float(p) for (name, _), p in zip(TESTS, t.p_values[c], strict=True)
                }
                stats["cell_p_value"] = float(cell_p[at])
                stats["q_value"] = float(q_value[at])
                at += 1
            else:
                reasons = ()
                stats = {"n": int(t.layout.size[c]), "too_small": True, "min_n": settings.min_n}
            group = t.layout.group[c]
            cells.append(
                CellFinding(
                    block=b,
                    school=t.layout.school[c],
                    group=group,
                    stratum=t.layout.stratum[c],
                    n=int(t.layout.size[c]),
                    flagged=bool(reasons),
                    reasons=reasons,
                    statistics=stats,
                    explanation=explain(group, reasons, stats),
                )
            )
        responses.extend(_response_flags(b, t))
    cells.sort(key=lambda f: (f.block, str(f.stratum), str(f.school), str(f.group)))
    return IntegrityReport(
        cells=tuple(cells),
        responses=tuple(responses),
        settings={
            "fdr": settings.fdr,
            "scale_max": settings.scale_max,
            "min_n": settings.min_n,
            "speeding_fraction": settings.speeding_fraction,
            "burst_minutes": settings.burst_minutes,
            "reading_seconds": [block.reading_seconds for block in blocks],
            "examined_cells": int(rejected.size),
            "flagged_cells": int(rejected.sum()),
            "method": METHOD,
        },
    )


def _test_block(block: ResponseBlock, settings: IntegritySettings) -> _BlockTests:
    layout = layout_cells(block)
    answers = np.asarray(block.answers, dtype=np.int16)
    if answers.size and int(answers.max()) > settings.scale_max:
        raise ValueError(f"answer codes above scale_max {settings.scale_max}")
    duration = np.asarray(block.duration_seconds, dtype=np.float64)
    minute = np.asarray(block.submitted_minute, dtype=np.float64)
    patterns = response_patterns(answers, duration, block.reading_seconds, settings)
    examined = layout.size >= settings.min_n
    k = answers.shape[1]
    copying = copying_test(answers, layout.row_cell, layout.county, examined, settings.scale_max)
    top = top_excess_test(
        patterns.answered,
        patterns.top,
        layout.row_cell,
        layout.county,
        layout.school_code,
        examined,
        min(settings.pattern_min_items, max(k, 1)),
    )
    erasure = erasure_test(
        patterns.answered,
        patterns.top,
        patterns.low,
        layout.row_cell,
        layout.pool,
        layout.county,
        examined,
        k,
    )
    timing = timing_tests(
        patterns.speeding,
        duration,
        minute,
        layout.row_cell,
        layout.pool,
        layout.county,
        examined,
        settings.burst_minutes,
        settings.speeding_floor,
        settings.speeding_icc,
    )
    by_test = {
        "identical_vectors": copying.p_value,
        "all_top_vectors": top.p_value,
        "low_answers": erasure.p_value,
        "speeding_bursts": timing.burst_p,
        "speeding_count": timing.speeding_p,
    }
    return _BlockTests(
        layout=layout,
        patterns=patterns,
        examined=examined,
        copying=copying,
        top=top,
        erasure=erasure,
        timing=timing,
        p_values=np.nan_to_num(np.column_stack([by_test[name] for name, _ in TESTS]), nan=1.0),
        template_kind=[
            "all_top" if a < m else "mixed"
            for a, m in zip(top.p_value.tolist(), copying.p_value.tolist(), strict=True)
        ],
        per_cell={
            name: np.bincount(layout.row_cell, weights=values, minlength=layout.n_cells).astype(
                np.float64
            )
            for name, values in (
                ("top", patterns.top),
                ("straight_lining", patterns.straight_lining),
                ("low_variation", patterns.low_variation),
            )
        },
    )


def _statistics(
    block: ResponseBlock, t: _BlockTests, c: int, settings: IntegritySettings
) -> dict[str, Any]:
    """Every number of cell c that an explanation may use (names are the contract)."""
    n = int(t.layout.size[c])
    answers = int(t.erasure.answers[c])
    top = t.per_cell["top"]
    top_answers = int(top[c])
    pool = t.layout.pool == t.layout.pool[c]
    other_top = int(top[pool].sum()) - top_answers
    other_answers = int(t.erasure.answers[pool].sum()) - answers
    return {
        "n": n,
        "too_small": False,
        "min_n": settings.min_n,
        "items": len(block.items),
        "largest_identical": int(t.copying.largest_identical[c]),
        "identical_share": int(t.copying.largest_identical[c]) / n,
        "expected_identical_max": int(t.copying.expected_identical_max[c]),
        "largest_near_identical": int(t.copying.largest_near_identical[c]),
        "all_top": int(t.top.all_top[c]),
        "complete_answers": int(t.top.eligible[c]),
        "all_top_expected_max": int(t.top.expected_max[c]),
        "template_kind": t.template_kind[c],
        "answers": answers,
        "low_answers": int(t.erasure.low_answers[c]),
        "low_share": int(t.erasure.low_answers[c]) / answers if answers else None,
        "low_expected": round(float(t.erasure.low_expected[c]), 1),
        "low_expected_min": int(t.erasure.low_expected_min[c]),
        "stratum_low_share": _share(t.erasure.stratum_low_share[c]),
        "top_share": top_answers / answers if answers else None,
        "stratum_top_share": other_top / other_answers if other_answers else None,
        "timed": int(t.timing.timed[c]),
        "speeding": int(t.timing.speeding[c]),
        "speeding_expected_max": int(t.timing.speeding_expected_max[c]),
        "stratum_speeding_share": _share(t.timing.stratum_speeding_share[c]),
        "speeding_seconds": settings.speeding_fraction * block.reading_seconds,
        "reading_seconds": block.reading_seconds,
        "burst_fast": int(t.timing.burst[c]),
        "burst_minutes": settings.burst_minutes,
        "burst_expected_max": int(t.timing.burst_expected_max[c]),
        "straight_lining": int(t.per_cell["straight_lining"][c]),
        "low_variation": int(t.per_cell["low_variation"][c]),
    }


def _reason_p_values(p: FloatArray) -> dict[str, float]:
    """Each reason's own p-value: Bonferroni over the tests that support it."""
    out = {}
    for reason in CELL_REASONS:
        mine = [float(pj) for (_, r), pj in zip(TESTS, p.tolist(), strict=True) if r == reason]
        out[reason] = min(1.0, min(mine) * len(mine))
    return out


def _share(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _response_flags(block_index: int, t: _BlockTests) -> list[ResponseFlag]:
    p = t.patterns
    marks = np.column_stack([p.speeding, p.straight_lining, p.low_variation])
    names = (SPEEDING, STRAIGHT_LINING, LOW_VARIATION)
    out = []
    for row in np.flatnonzero(marks.any(axis=1)).tolist():
        c = int(t.layout.row_cell[row])
        out.append(
            ResponseFlag(
                block=block_index,
                row=row,
                school=t.layout.school[c],
                group=t.layout.group[c],
                flags=tuple(name for name, on in zip(names, marks[row], strict=True) if on),
            )
        )
    return out
