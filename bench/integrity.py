"""Recall and false flags of the survey-integrity checks on simulated counties (issue 9).

    .venv/bin/python bench/integrity.py [--counties 15] [--clean-counties 15] [--schools 120]
        [--seed 20261206] [--no-timing]

Fieldwork comes from :mod:`analysis.integrity.simulation`: a graded response model with
a person-level satisfaction (items correlated within a respondent), item slopes that
differ, stratum, school, school × group and school × item effects, school-specific
person spreads, a tenth of the schools very satisfied (+2 logits), don't-know answers,
submissions in waves and log-normal completion times around the reading time (15 s
per item).  Each coached county gets two coached cells of every style and intensity
below, placed at random among the parent, student and teacher cells with at least 10
responses (very satisfied schools included):

* ``template_mixed`` 30 / 50 / 80% of the cell copy one mixed "standard answer";
* ``template_all_top`` 30 / 50 / 80% copy 满意 on every item;
* ``erased`` 80 / 100% of the cell answer nothing below 比较满意 (100% is the issue's);
* ``proxy`` 20 / 33 / 50% of the cell filled in two ten-minute bursts at a fifth of the
  reading time (33% is the issue's).

Printed per style and intensity: coached cells, recall (flagged for any reason), recall
with the style's own reason, recall by cell size, and in very satisfied schools; then
the false-flag rate on the clean cells of the coached counties, on clean counties
(ordinary; a stress county: 30% very satisfied schools, school × item SD 0.8,
school × group SD 0.6; and don't-know answers tied to satisfaction, in either
direction or differing between cells; school × group effects with heavy tails), the
all-top recall when the less satisfied say 不了解 more, and a sparse case (two coached
cells in a county, where the false-discovery control is strictest), and clean and coached
counties whose respondents answer by the partial-credit or the sequential model rather
than the graded one (the tests must not rest on the simulation's own model; their own
random stream, so the sections before print what they did).  Seeds are fixed:
a rerun prints the same numbers.  The last section times ``examine`` on a county of
~100,000 responses.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.integrity import (  # noqa: E402
    ERASED_DISSATISFACTION,
    PROXY_FILLING,
    TEMPLATE_COPYING,
    CellFinding,
    IntegrityReport,
    examine,
)
from analysis.integrity.multiplicity import benjamini_hochberg, bonferroni_min  # noqa: E402
from analysis.integrity.simulation import (  # noqa: E402
    PROCESSES,
    Coaching,
    SimulatedCounty,
    all_top_probability,
    simulate_county,
)

INTENSITIES = {
    "template_mixed": (0.3, 0.5, 0.8),
    "template_all_top": (0.3, 0.5, 0.8),
    "erased": (0.8, 1.0),
    "proxy": (0.2, 1 / 3, 0.5),
}
ISSUE_INTENSITY = {  # the intensities the issue states, which the ≥ 90% target is for
    "template_mixed": (0.3, 0.5, 0.8),
    "template_all_top": (0.3, 0.5, 0.8),
    "erased": (1.0,),
    "proxy": (1 / 3,),
}
REASON = {
    "template_mixed": TEMPLATE_COPYING,
    "template_all_top": TEMPLATE_COPYING,
    "erased": ERASED_DISSATISFACTION,
    "proxy": PROXY_FILLING,
}
PER_COUNTY = 2
# clean counties (no coaching): what differs from simulate_county's defaults
CLEAN_SCENARIOS: tuple[tuple[str, dict[str, float]], ...] = (
    ("clean counties", {}),
    (
        "stress: 30% very satisfied, school × item SD 0.8, school × group SD 0.6",
        {"very_satisfied_share": 0.3, "school_item_sd": 0.8, "school_group_sd": 0.6},
    ),
    ("stress: the less satisfied say 不了解 more (β = 0.7)", {"dont_know_tilt": 0.7}),
    ("stress: the more satisfied say 不了解 more (β = −0.7)", {"dont_know_tilt": -0.7}),
    (
        "stress: β differs between cells (0.3 ± 0.5)",
        {"dont_know_tilt": 0.3, "dont_know_tilt_sd": 0.5},
    ),
    (
        "stress: school × group effects 0.6 · t₂ (heavy tails)",
        {"very_satisfied_share": 0.2, "school_group_sd": 0.6, "school_group_df": 2.0},
    ),
)
SPARSE = {"template_mixed": 0.5, "template_all_top": 0.8, "erased": 1.0, "proxy": 1 / 3}


class Tally:
    """Counts of coached cells found, and of clean cells flagged."""

    def __init__(self) -> None:
        self.coached: dict[tuple[str, float], list[tuple[bool, bool, int, bool]]] = defaultdict(
            list
        )
        self.clean = [0, 0]  # flagged, cells
        self.clean_very = [0, 0]

    def add(
        self,
        county: SimulatedCounty,
        report: IntegrityReport,
        flags: dict[tuple[str, str], bool] | None = None,
    ) -> int:
        """Adds one county; returns its number of falsely flagged cells.  ``flags``
        replaces the report's decisions (the ceiling below)."""
        false = 0
        for found in report.cells:
            if found.statistics["too_small"]:
                continue
            cell = found
            if flags is not None:
                cell = replace(found, flagged=flags[(found.school, found.group)], reasons=())
            very = cell.school in county.very_satisfied
            coach = county.coached.get((cell.school, cell.group))
            if coach is None:
                self.clean[0] += cell.flagged
                self.clean[1] += 1
                false += cell.flagged
                if very:
                    self.clean_very[0] += cell.flagged
                    self.clean_very[1] += 1
                continue
            right = REASON[coach.style] in cell.reasons
            key = (coach.style, round(coach.intensity, 2))
            self.coached[key].append((cell.flagged, right, cell.n, very))
        return false

    def recall(self, style: str, intensity: float) -> str:
        """The share of the coached cells of ``style`` at ``intensity`` flagged (6 wide)."""
        rows = self.coached[(style, round(intensity, 2))]
        return share(sum(r[0] for r in rows), len(rows))


def ceiling_flags(county: SimulatedCounty, report: IntegrityReport) -> dict[tuple[str, str], bool]:
    """The cells flagged when the all-top test knows each cell's true honest model.

    The all-top p-value becomes the binomial tail of the cell's all-top count at the
    true P(all-top) (:func:`all_top_probability`; the other four tests unchanged,
    combined as ``examine`` does: Bonferroni, then BH at 5% over the county).  No
    test on answers can know a school's true level and spread, so this is what the
    answers allow at best: the recall a real test could approach, not exceed."""

    def true_p(cell: CellFinding) -> float:
        return float(
            stats.binom.sf(
                cell.statistics["all_top"] - 1,
                cell.statistics["complete_answers"],
                all_top_probability(county.truth[(cell.school, cell.group)]),
            )
        )

    return flags_with_all_top(report, true_p)


def flags_with_all_top(
    report: IntegrityReport, all_top_p: Callable[[CellFinding], float]
) -> dict[tuple[str, str], bool]:
    """The cells flagged when ``all_top_p`` gives each examined cell's all-top p-value
    and the other four tests are ``examine``'s, combined as it does (Bonferroni, then
    BH at its FDR over the county)."""
    cells = [c for c in report.cells if not c.statistics["too_small"]]
    rows = []
    for cell in cells:
        tests = dict(cell.statistics["test_p_values"])
        tests["all_top_vectors"] = all_top_p(cell)
        rows.append(list(tests.values()))
    rejected, _ = benjamini_hochberg(bonferroni_min(np.array(rows)), report.settings["fdr"])
    return {(c.school, c.group): bool(r) for c, r in zip(cells, rejected, strict=True)}


def share(hits: int, total: int) -> str:
    return f"{hits / total:6.1%}" if total else "     -"


def rate(hits: int, total: int) -> str:
    """A false-flag rate: small, so two decimals."""
    return f"{hits / total:.2%}" if total else "-"


def coached_county(
    rng: np.random.Generator, schools: int, tilt: float = 0.0, process: str = "graded"
) -> SimulatedCounty:
    coaching = [
        Coaching(style, intensity)
        for style, levels in INTENSITIES.items()
        for intensity in levels
        for _ in range(PER_COUNTY)
    ]
    return simulate_county(
        rng, schools=schools, coaching=coaching, dont_know_tilt=tilt, process=process
    )


def print_recall(tally: Tally) -> None:
    print(
        "style             intensity  cells  recall  right reason   n<20   n>=20  very satisfied"
        "  target"
    )
    for style, levels in INTENSITIES.items():
        for intensity in levels:
            rows = tally.coached[(style, round(intensity, 2))]
            found = sum(r[0] for r in rows)
            right = sum(r[1] for r in rows)
            small = [r for r in rows if r[2] < 20]
            large = [r for r in rows if r[2] >= 20]
            very = [r for r in rows if r[3]]
            target = intensity in ISSUE_INTENSITY[style]
            if target:
                mark = "met" if found >= 0.9 * len(rows) else "NOT MET"
            else:
                weaker = intensity < min(ISSUE_INTENSITY[style])
                mark = "(weaker than the issue's)" if weaker else "(stronger)"
            print(
                f"{style:17s} {intensity:9.2f} {len(rows):6d} {share(found, len(rows))} "
                f"{share(right, len(rows)):>13s} {share(sum(r[0] for r in small), len(small))} "
                f"{share(sum(r[0] for r in large), len(large))} "
                f"{sum(r[0] for r in very):5d} of {len(very):3d}   {mark}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counties", type=int, default=15)
    parser.add_argument("--clean-counties", type=int, default=15)
    parser.add_argument("--schools", type=int, default=120)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()

    rng = np.random.default_rng(args.seed)
    tally, ceiling = Tally(), Tally()
    examined = 0
    for _ in range(args.counties):
        county = coached_county(rng, args.schools)
        report = examine([county.block])
        examined += report.settings["examined_cells"]
        tally.add(county, report)
        ceiling.add(county, report, ceiling_flags(county, report))
    print(
        f"coached counties: {args.counties} × {args.schools} schools, "
        f"{examined / args.counties:.0f} examined cells each (parents, students, teachers "
        f"with ≥ 10 responses), {sum(len(v) for v in tally.coached.values())} coached cells "
        f"in all; FDR 5%"
    )
    print_recall(tally)
    print(
        f"false flags among the clean cells of these counties: {tally.clean[0]} of "
        f"{tally.clean[1]} ({rate(*tally.clean)}); in very satisfied schools "
        f"{tally.clean_very[0]} of {tally.clean_very[1]}"
    )
    print(
        "ceiling: the all-top test knowing each cell's true model (level, spread, items) "
        "flags, of the same cells:"
    )
    for intensity in INTENSITIES["template_all_top"]:
        print(
            f"  template_all_top {intensity:.2f}: {ceiling.recall('template_all_top', intensity)}"
        )
    print(f"  and clean cells {ceiling.clean[0]} of {ceiling.clean[1]} ({rate(*ceiling.clean)})")

    for label, scenario in CLEAN_SCENARIOS:
        clean = Tally()
        flagged_counties = 0
        for _ in range(args.clean_counties):
            county = simulate_county(rng, schools=args.schools, **scenario)
            flagged_counties += clean.add(county, examine([county.block])) > 0
        print(
            f"{label}: {clean.clean[0]} of {clean.clean[1]} cells flagged "
            f"({rate(*clean.clean)}), {flagged_counties} of {args.clean_counties} "
            f"counties with any flag (BH at 5% under no coaching: ≤ 5% of counties); very "
            f"satisfied schools {clean.clean_very[0]} of {clean.clean_very[1]}"
        )

    tilted = Tally()
    for _ in range(args.counties):
        county = coached_county(rng, args.schools, tilt=0.7)
        tilted.add(county, examine([county.block]))
    print(
        "coached counties where the less satisfied say 不了解 more (β = 0.7), all-top "
        "template recall: "
        + ", ".join(
            f"{intensity:.0%} {tilted.recall('template_all_top', intensity).strip()}"
            for intensity in INTENSITIES["template_all_top"]
        )
        + f"; clean cells flagged {tilted.clean[0]} of {tilted.clean[1]}"
    )

    sparse = Tally()
    for _ in range(args.clean_counties):
        styles = list(INTENSITIES)
        picks = rng.choice(len(styles), size=2, replace=False)
        coaching = [Coaching(styles[i], SPARSE[styles[i]]) for i in picks]
        county = simulate_county(rng, schools=args.schools, coaching=coaching)
        sparse.add(county, examine([county.block]))
    found = {s: [0, 0] for s in INTENSITIES}
    for (style, _), rows in sparse.coached.items():
        found[style][0] += sum(r[0] for r in rows)
        found[style][1] += len(rows)
    print(
        "sparse (2 coached cells per county; mixed 50%, all-top 80%, erased 100%, proxy 1/3): "
        + ", ".join(f"{s} {h} of {n}" for s, (h, n) in found.items())
        + f"; clean cells flagged {sparse.clean[0]} of {sparse.clean[1]}"
    )

    # a random stream of its own: the sections above print what they printed before
    other = np.random.default_rng([args.seed, 1])
    for process in PROCESSES[1:]:
        clean = Tally()
        for _ in range(args.clean_counties):
            county = simulate_county(other, schools=args.schools, process=process)
            clean.add(county, examine([county.block]))
        coached = Tally()
        for _ in range(args.counties):
            county = coached_county(other, args.schools, process=process)
            coached.add(county, examine([county.block]))
        recall = "; ".join(
            f"{style} " + " / ".join(coached.recall(style, i).strip() for i in levels)
            for style, levels in INTENSITIES.items()
        )
        print(
            f"answers from the {process.replace('_', ' ')} model, not the graded one: clean "
            f"counties {clean.clean[0]} of {clean.clean[1]} cells flagged; coached counties "
            f"{recall}; their clean cells flagged {coached.clean[0]} of {coached.clean[1]}"
        )
    print(f"simulation and checks: {time.perf_counter() - started:.0f} s")

    if not args.no_timing:
        big = simulate_county(np.random.default_rng(args.seed + 1), schools=950)
        best = min(_timed(big) for _ in range(3))
        print(
            f"examine on {big.block.n:,} responses ({len(big.block.items)} items, "
            f"{len(set(zip(big.block.school, big.block.group, strict=True))):,} cells): "
            f"{best:.2f} s (best of 3)"
        )


def _timed(county: SimulatedCounty) -> float:
    start = time.perf_counter()
    examine([county.block])
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
