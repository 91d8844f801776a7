"""Benchmark: the full 85%-rule evaluation on a synthetic county-of-counties, against R.

    .venv/bin/python bench/analysis.py [--rows 1000000] [--r-items 30] [--no-r]

Builds 1,000,000 responses x 30 items (不了解 as NaN) in 300 strata and 3,000 schools
with 7 respondent groups (fixed seed), times ``evaluate_recognition`` (every item for
every group and overall, content areas, group rates, the county score, intervals and
verdicts; best of 3), then runs R's survey package on the same data (written to a
temporary CSV) and compares estimates and standard errors.

R is timed on ``--r-items`` items (default all 30, about 90 s; R must loop items one at
a time, since ``svymean`` on 30 items at once needs > 23 GB) plus the group rates and
the county score; with fewer items the per-item time is scaled to 30 and the output
says so.  The last
line is ``speedup_vs_R=<ratio>`` (``nan`` when R or its survey package is missing).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.design import SurveyDesign  # noqa: E402
from analysis.recognition import RecognitionReport, evaluate_recognition  # noqa: E402
from analysis.weighting import post_stratify  # noqa: E402

GROUPS = ("parent", "student", "teacher", "principal", "deputy", "member", "resident")
GROUP_SHARE = np.array([0.5, 0.2, 0.12, 0.02, 0.05, 0.05, 0.06])
AREAS = ("A",) * 8 + ("B",) * 8 + ("C",) * 7 + ("D",) * 7  # 30 items in 4 content areas
ITEMS = len(AREAS)


def synthetic_county(
    rows: int = 1_000_000, items: int = 30, strata: int = 300, schools: int = 3000, seed: int = 7
) -> tuple[pd.DataFrame, list[str]]:
    """Stratified cluster sample: schools in strata, respondents of 7 groups per school."""
    rng = np.random.default_rng(seed)
    school_stratum = np.sort(
        np.concatenate([np.arange(strata), rng.integers(0, strata, schools - strata)])
    )
    school = rng.integers(0, schools, rows)
    group = rng.choice(len(GROUPS), size=rows, p=GROUP_SHARE)
    stratum = school_stratum[school]
    schools_in_stratum = np.bincount(school_stratum, minlength=strata)
    n_population = schools_in_stratum * rng.integers(3, 8, strata)
    weight = (n_population / schools_in_stratum)[stratum] * rng.uniform(20, 60, rows)
    school_effect = rng.normal(0, 0.6, schools)
    group_effect = np.array([2.0, 2.4, 1.6, 2.8, 2.2, 2.0, 1.2])
    eta = group_effect[group] + school_effect[school]
    item_effect = rng.normal(0, 0.3, items)
    p = 1 / (1 + np.exp(-(eta[:, None] + item_effect[None, :])))
    answers = (rng.random((rows, items)) < p).astype(np.float64)
    answers[rng.random((rows, items)) < 0.06] = np.nan  # 不了解 / unanswered
    names = [f"q{k + 1:02d}" for k in range(items)]
    frame = pd.DataFrame(answers, columns=names)
    frame.insert(0, "w", weight)
    frame.insert(0, "group", group + 1)
    frame.insert(0, "fpc", n_population[stratum])
    frame.insert(0, "school", school + 1)
    frame.insert(0, "stratum", stratum + 1)
    return frame, names


def build_design(frame: pd.DataFrame) -> SurveyDesign:
    return SurveyDesign.from_arrays(
        weights=frame["w"].to_numpy(),
        strata=frame["stratum"].to_numpy(),
        cluster=frame["school"].to_numpy(),
    )


def evaluate(frame: pd.DataFrame, names: list[str], design: SurveyDesign) -> RecognitionReport:
    """Every item x group and overall, content areas, rates, county score, verdicts."""
    answers = frame[names].to_numpy()
    return evaluate_recognition(
        design,
        frame["group"].to_numpy(),
        answers,
        AREAS[: len(names)],
        items=names,
        parent_group=1,
    )


R_SCRIPT = r"""
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); n_items <- as.integer(args[2]); out <- args[3]
items <- grep("^q", names(d), value = TRUE)
d$rec <- rowSums(d[, items], na.rm = TRUE)
d$ans <- rowSums(!is.na(d[, items]))
t0 <- proc.time()[["elapsed"]]
des <- svydesign(id = ~school, strata = ~stratum, weights = ~w, data = d)
t_design <- proc.time()[["elapsed"]] - t0
res <- list()
t1 <- proc.time()[["elapsed"]]
for (k in items[seq_len(n_items)]) {
  f <- as.formula(paste0("~", k))
  s <- subset(des, !is.na(d[[k]]))
  by <- svyby(f, ~group, s, svyciprop, method = "beta", level = 0.90, vartype = c("se", "ci"))
  all <- svyciprop(f, s, method = "beta", level = 0.90)
  res[[length(res) + 1]] <- data.frame(kind = "item", item = k, group = c(by$group, 0),
    estimate = c(by[[k]], as.vector(all)), se = c(by[[paste0("se.as.numeric(", k, ")")]],
    sqrt(as.vector(attr(all, "var")))))
}
t_items <- proc.time()[["elapsed"]] - t1
t2 <- proc.time()[["elapsed"]]
rates <- svyby(~rec, ~group, des, svyratio, denominator = ~ans, covmat = TRUE)
a <- c(0.5, rep(0.5 / 6, 6))
theta <- svycontrast(rates, a)
t_rates <- proc.time()[["elapsed"]] - t2
res[[length(res) + 1]] <- data.frame(kind = "rate", item = "", group = rates$group,
  estimate = rates[["rec/ans"]], se = rates[["se.rec/ans"]])
res[[length(res) + 1]] <- data.frame(kind = "theta", item = "", group = 0,
  estimate = as.vector(coef(theta)), se = as.vector(SE(theta)))
write.csv(do.call(rbind, res), out, row.names = FALSE)
cat(sprintf("timing %.6f %.6f %.6f\n", t_design, t_items, t_rates))
"""


def time_r(
    frame: pd.DataFrame, names: list[str], r_items: int
) -> tuple[dict[str, float], pd.DataFrame] | None:
    if shutil.which("Rscript") is None:
        print("R is missing: Rscript not found")
        return None
    check = subprocess.run(
        ["Rscript", "-e", "library(survey)"], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        print("R is missing: the survey package is not installed")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data, script, out = Path(tmp, "county.csv"), Path(tmp, "bench.R"), Path(tmp, "out.csv")
        frame.to_csv(data, index=False, float_format="%.17g")
        script.write_text(R_SCRIPT, encoding="utf-8")
        run = subprocess.run(
            ["Rscript", str(script), str(data), str(r_items), str(out)],
            capture_output=True,
            text=True,
            check=True,
        )
        line = next(x for x in run.stdout.splitlines() if x.startswith("timing"))
        t_design, t_items, t_rates = (float(v) for v in line.split()[1:])
        return {"design": t_design, "items": t_items, "rates": t_rates}, pd.read_csv(out)


def compare(report: RecognitionReport, r: pd.DataFrame) -> tuple[float, float]:
    est_diff = se_diff = 0.0
    for row in r.itertuples():
        if row.kind == "item":
            ours = (
                report.items[row.item]
                if row.group == 0
                else report.groups[row.group].items[row.item]
            )
        elif row.kind == "rate":
            ours = report.groups[row.group].rate
        else:
            ours = report.county.score
        est_diff = max(est_diff, abs(ours.estimate - row.estimate))
        se_diff = max(se_diff, abs(ours.se - row.se))
    return est_diff, se_diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--r-items",
        type=int,
        default=ITEMS,
        help="items R is timed on (default: all; fewer are scaled per item to all)",
    )
    parser.add_argument("--no-r", action="store_true", help="skip R")
    args = parser.parse_args()

    t0 = time.perf_counter()
    frame, names = synthetic_county(rows=args.rows)
    print(
        f"data: {len(frame):,} rows x {len(names)} items, {frame.stratum.nunique()} strata, "
        f"{frame.school.nunique()} schools, {frame.group.nunique()} groups "
        f"(built in {time.perf_counter() - t0:.1f} s)"
    )
    design_times, timings = [], []
    for _ in range(3):
        start = time.perf_counter()
        design = build_design(frame)
        design_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        report = evaluate(frame, names, design)
        timings.append(time.perf_counter() - start)
    ours = min(timings)
    ours_design = min(design_times)
    n_results = (
        1
        + len(report.items)
        + len(report.areas)
        + sum(1 + len(g.items) + len(g.areas) for g in report.groups.values())
        + 1
    )
    score = report.county.score
    print(
        f"python full evaluation: {ours:.3f} s best of 3 ({n_results} estimates with intervals "
        f"and verdicts); runs {', '.join(f'{t:.3f}' for t in timings)}"
    )
    print(f"python design construction (SurveyDesign.from_arrays): {ours_design:.3f} s best of 3")
    print(
        f"county score {score.estimate:.4f} se {score.se:.5f} 90% CI [{score.ci_low:.4f}, "
        f"{score.ci_high:.4f}] verdict {score.verdict} "
        f"(SE if groups were independent: {report.county.se_if_independent:.5f})"
    )
    location = frame["stratum"].to_numpy() % 3
    calibrated = post_stratify(design, location, {0: 4.0e7, 1: 3.0e7, 2: 3.5e7})
    start = time.perf_counter()
    evaluate(frame, names, calibrated)
    print(
        f"python full evaluation on a post-stratified design (3 cells across strata): "
        f"{time.perf_counter() - start:.3f} s (one run; not in the speedup)"
    )
    if args.no_r:
        print("R skipped (--no-r)")
        print("speedup_vs_R=nan")
        return
    result = time_r(frame, names, args.r_items)
    if result is None:
        print("speedup_vs_R=nan")
        return
    r_time, r_values = result
    per_item = r_time["items"] / args.r_items
    r_full = r_time["design"] + per_item * len(names) + r_time["rates"]
    est_diff, se_diff = compare(report, r_values)
    print(
        f"R survey: design {r_time['design']:.2f} s, {args.r_items} items "
        f"{r_time['items']:.2f} s ({per_item:.2f} s per item, svyby(svyciprop beta) by group + "
        f"overall), group rates + county score {r_time['rates']:.2f} s"
    )
    how = (
        f"timed on all {len(names)} items"
        if args.r_items >= len(names)
        else f"timed on {args.r_items} items, scaled per item to {len(names)}"
    )
    print(f"R full evaluation: {r_full:.1f} s ({how}; incl. svydesign)")
    print("speedup_vs_R below = R (svydesign + evaluation) / Python (design + evaluation)")
    print(
        f"agreement with R on {len(r_values)} estimates: max |diff| estimate {est_diff:.2e}, "
        f"SE {se_diff:.2e}"
    )
    print(f"speedup on evaluation alone: {(r_full - r_time['design']) / ours:.1f}x")
    print(f"speedup_vs_R={r_full / (ours + ours_design):.1f}")


if __name__ == "__main__":
    main()
