"""Where the all-top test loses to its ceiling (issue 9): the item model or the level.

    .venv/bin/python bench/integrity_gap.py [--counties 15] [--schools 120] [--seed 20261206]

``bench/integrity.py`` prints a ceiling: the all-top test knowing each simulated cell's
whole honest model (level, spread, item slopes and locations).  This bench splits the
gap between that and ``examine`` by giving the test *part* of the truth.  Each
variant below knows the graded model's item slopes and item locations, and estimates
the cell's level μ and spread σ from its answers the way the real test does: the
partial posterior of (μ, σ) from every answer except the complete all-top ones (their
likelihood truncated below all-top), then the posterior predictive tail of the count
of complete all-top answers.  Its priors: σ log-normal (SD 0.15) around the group's
spread, as simulated; μ normal around the cell's true level with the SD named, which
is what a level prior from the school's other groups gives at best (the simulated
school × group SD is 0.3, so about 0.3–0.45 when the other groups' levels are known
well), or flat.

* ``school items``: the item locations at the school (the county's plus the
  school's own profile, which no test can know);
* ``county items``: the county's item locations (the mean over its schools), which a
  graded-response model fitted to the county group could estimate.

The other four tests and the Bonferroni and BH steps are ``examine``'s, as in the
ceiling.  Counties are the same as ``bench/integrity.py``'s coached counties for the
same seed; the clean cells flagged are those of these counties.  About 1.5 minutes
per county (the graded likelihood on a grid, in numpy, for every cell).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.special import logsumexp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from integrity import (  # noqa: E402
    INTENSITIES,
    Tally,
    ceiling_flags,
    coached_county,
    flags_with_all_top,
)

from analysis.integrity import CellFinding, IntegrityReport, examine  # noqa: E402
from analysis.integrity.simulation import (  # noqa: E402
    GROUPS,
    SCALE_MAX,
    CellTruth,
    SimulatedCounty,
    graded_log_probabilities,
)

FloatArray = NDArray[np.float64]
THETA = np.linspace(-8.0, 12.0, 241)  # the person level θ, integrated on this grid
LEVELS = np.arange(-5.0, 10.0 + 1e-9, 0.1)
SPREADS = np.arange(0.4, 3.2 + 1e-9, 0.2)
SPREAD_SD = 0.15  # log scale, as simulate_county draws a school's spread
# (label, item locations known: "school" or "county", SD of the level prior or None: flat)
VARIANTS: tuple[tuple[str, str, float | None], ...] = (
    ("school items, level flat", "school", None),
    ("school items, level ± 0.30", "school", 0.30),
    ("county items, level ± 0.30", "county", 0.30),
    ("county items, level ± 0.45", "county", 0.45),
)


def all_top_p_value(
    answers: NDArray[np.int16],
    truth: CellTruth,
    group: str,
    locations: FloatArray,
    level_sd: float | None,
) -> float:
    """The partial posterior predictive p-value of the cell's complete all-top count,
    the item model known (``truth.slope``, ``locations``), μ and σ estimated."""
    log_p = graded_log_probabilities(THETA, truth.slope, locations)
    codes = answers.astype(np.int64)
    answered = (codes >= 1) & (codes <= SCALE_MAX)
    complete = answered.all(axis=1)
    all_top = complete & (codes == SCALE_MAX).all(axis=1)
    used = ~all_top
    person = np.zeros((int(used.sum()), THETA.size))  # log P(answers | θ)
    for j in range(codes.shape[1]):
        rows = answered[used, j]
        person[rows] += log_p[:, j, codes[used][rows, j] - 1].T
    density = stats.norm.logpdf(THETA[None, None, :], LEVELS[None, :, None], SPREADS[:, None, None])
    weight = np.exp(density - logsumexp(density, axis=2, keepdims=True))  # (σ, μ, θ)
    top = person.max(axis=1, keepdims=True) if person.size else np.zeros((0, 1))
    marginal = np.log(np.einsum("nt,smt->nsm", np.exp(person - top), weight) + 1e-300)
    marginal += top[:, :, None]
    p_top = np.einsum("smt,t->sm", weight, np.exp(log_p[:, :, SCALE_MAX - 1].sum(axis=1)))
    truncated = marginal.sum(axis=0) - int(complete[used].sum()) * np.log1p(
        -np.minimum(p_top, 1 - 1e-12)
    )
    log_prior = stats.norm.logpdf(np.log(SPREADS), np.log(GROUPS[group][1]), SPREAD_SD)[:, None]
    if level_sd is not None:
        log_prior = log_prior + stats.norm.logpdf(LEVELS, truth.level, level_sd)[None, :]
    posterior = np.exp(truncated + log_prior - np.max(truncated + log_prior))
    posterior /= posterior.sum()
    hits, n = int(all_top.sum()), int(complete.sum())
    return float((posterior * stats.binom.sf(hits - 1, n, p_top)).sum())


def partial_truth_flags(
    county: SimulatedCounty, report: IntegrityReport, items: str, level_sd: float | None
) -> dict[tuple[str, str], bool]:
    """The cells flagged with the all-top p-value above in place of ``examine``'s."""
    block = county.block
    county_locations = np.mean([t.locations for t in county.truth.values()], axis=0)

    def partial_p(cell: CellFinding) -> float:
        truth = county.truth[(cell.school, cell.group)]
        mine = (block.school == cell.school) & (block.group == cell.group)
        locations = truth.locations if items == "school" else county_locations
        return all_top_p_value(block.answers[mine], truth, cell.group, locations, level_sd)

    return flags_with_all_top(report, partial_p)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counties", type=int, default=15)
    parser.add_argument("--schools", type=int, default=120)
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    labels = ["examine", "ceiling (whole truth)", *(label for label, _, _ in VARIANTS)]
    tallies = {label: Tally() for label in labels}
    for _ in range(args.counties):
        county = coached_county(rng, args.schools)
        report = examine([county.block])
        tallies["examine"].add(county, report)
        tallies["ceiling (whole truth)"].add(county, report, ceiling_flags(county, report))
        for label, items, level_sd in VARIANTS:
            flags = partial_truth_flags(county, report, items, level_sd)
            tallies[label].add(county, report, flags)
    print(
        f"{args.counties} coached counties × {args.schools} schools (seed {args.seed}); "
        "template_all_top recall at "
        + " / ".join(f"{i:.0%}" for i in INTENSITIES["template_all_top"])
        + ", and clean cells flagged"
    )
    for label, tally in tallies.items():
        recall = " / ".join(
            tally.recall("template_all_top", i).strip() for i in INTENSITIES["template_all_top"]
        )
        print(f"  {label:28s} {recall:>22s}   {tally.clean[0]} of {tally.clean[1]}")
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
