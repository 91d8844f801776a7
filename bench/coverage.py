"""Coverage simulation for the interval methods on a stratified cluster design.

    .venv/bin/python bench/coverage.py [--reps 1000] [--seed 20261124]

For true p in {0.85, 0.90, 0.95} and 20 / 40 / 60 schools (4 strata, 15 respondents
per school, intra-school correlation 0.05 through beta-binomial school rates, weights
with CV ≈ 0.3 independent of the answers), draws ``--reps`` samples, estimates p by
the weighted mean with R's linearisation variance (df = schools − strata), and for
each method of ``analysis.intervals`` reports

* coverage of the two-sided 95% interval (nominal 0.95), and
* at p = 0.85 the false-pass rate of the 85% rule: how often the one-sided 95% lower
  bound (lower end of the 90% interval) reaches 0.85 although p = 0.85 (nominal 0.05).

A simulation, not a unit test; the default run (2,000 replicates) takes about half a minute.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.intervals import CI_METHODS, proportion_interval  # noqa: E402

STRATA = 4
PER_SCHOOL = 15
ICC = 0.05


def simulate(p: float, schools: int, reps: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Estimates, SEs, n and df for ``reps`` stratified cluster samples."""
    per_stratum = schools // STRATA
    a, b = p * (1 - ICC) / ICC, (1 - p) * (1 - ICC) / ICC
    school_p = rng.beta(a, b, size=(reps, schools))
    y = rng.random((reps, schools, PER_SCHOOL)) < school_p[:, :, None]
    w = rng.lognormal(0, 0.3, size=(reps, schools, PER_SCHOOL))
    wy = (w * y).sum(axis=2)
    ws = w.sum(axis=2)
    total = ws.sum(axis=1)
    est = wy.sum(axis=1) / total
    z = (wy - est[:, None] * ws) / total[:, None]
    z = z.reshape(reps, STRATA, per_stratum)
    dev = z - z.mean(axis=2, keepdims=True)
    var = (per_stratum / (per_stratum - 1) * (dev**2).sum(axis=2)).sum(axis=1)
    n = schools * PER_SCHOOL
    return est, np.sqrt(var), n, schools - STRATA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(
        f"{args.reps} replicates per cell; {STRATA} strata, {PER_SCHOOL} respondents per "
        f"school, ICC {ICC}; Monte Carlo SE ≈ {np.sqrt(0.95 * 0.05 / args.reps):.3f} for "
        f"coverage, {np.sqrt(0.05 * 0.95 / args.reps):.3f} for the false-pass rate"
    )
    header = f"{'p':>5} {'schools':>7} {'df':>3}  " + " ".join(f"{m:>10}" for m in CI_METHODS)
    print("\ncoverage of the 95% interval (nominal 0.950)")
    print(header)
    false_pass: dict[int, list[float]] = {}
    for p in (0.85, 0.90, 0.95):
        for schools in (20, 40, 60):
            est, se, n, df = simulate(p, schools, args.reps, rng)
            cover, passed = [], []
            for method in CI_METHODS:
                hits = fails = 0
                for i in range(args.reps):
                    ci = proportion_interval(est[i], se[i], n, df, method=method, level=0.95)  # type: ignore[arg-type]
                    hits += ci.ci_low <= p <= ci.ci_high
                    if p == 0.85:
                        one_sided = proportion_interval(
                            est[i], se[i], n, df, method=method, level=0.90
                        )  # type: ignore[arg-type]
                        fails += one_sided.ci_low >= 0.85
                cover.append(hits / args.reps)
                passed.append(fails / args.reps)
            if p == 0.85:
                false_pass[schools] = passed
            print(f"{p:>5.2f} {schools:>7d} {df:>3d}  " + " ".join(f"{c:>10.3f}" for c in cover))
    print("\nfalse-pass rate at p = 0.85 (one-sided 95% lower bound >= 0.85; nominal 0.050)")
    print(f"{'':>5} {'schools':>7} {'':>3}  " + " ".join(f"{m:>10}" for m in CI_METHODS))
    for schools, rates in false_pass.items():
        print(
            f"{'':>5} {schools:>7d} {schools - STRATA:>3d}  "
            + " ".join(f"{r:>10.3f}" for r in rates)
        )
    print(f"\nelapsed {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
