"""Benchmark: the platform's full evaluation on a campaign whose questionnaires leave
most of the answer matrix structurally missing ("not asked"), with many one-person PSUs.

    .venv/bin/python bench/evaluation_sparse.py [--data /tmp/campaign_1m.npz] [--repeat 3]
    .venv/bin/python bench/evaluation_sparse.py --dump out.json     # keep every figure
    .venv/bin/python bench/evaluation_sparse.py --compare out.json  # and check them
    .venv/bin/python bench/evaluation_sparse.py --shared-answers    # answers= found once

Loads ``/tmp/campaign_1m.npz`` (the loader's arrays of a real campaign) when present,
else builds a synthetic equivalent with a fixed seed: 1,000,000 rows, 4 questionnaires
with disjoint item sets (10-20 items each; a row is NaN in every other questionnaire's
columns), 7 groups, ~3,000 school PSUs and ~35,000 single-respondent PSUs in 2 area
strata (open link) plus two small list strata.  It times what the results page does
(``survey_app/results/evaluation.py`` and ``page.py::_breakdown``): ``from_arrays`` and
three ``evaluate_recognition`` calls (groups, school location, school level), for

* the current design: ``cluster=psu, fpc=fpc`` (with replacement), and
* Brewer two-stage: ``cluster2=row, fpc=π, fpc2=m/M, pps="brewer"`` with synthetic π
  (per school uniform 0.2-1, a fifth certainties; list strata m/N; open link 1e-300)
  and f2 (uniform 0.3-1 per (school, group); 1 outside schools).

``--dump`` writes every estimate, SE, interval, p-value, n, n_eff and df (and the
groups' covariance); ``--compare`` checks them against such a file (relative 1e-12),
e.g. one written by the code before a change (``PYTHONPATH=<old checkout>``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.design import SurveyDesign  # noqa: E402
from analysis.recognition import (  # noqa: E402
    RateEstimate,
    RecognitionReport,
    RecognitionRule,
    default_policy_weights,
    evaluate_recognition,
)
from analysis.recognition_tables import AnswerPositions  # noqa: E402

Data = dict[str, Any]
OUTSIDE = "outside"
VERDICTS = ("met", "not_met", "inconclusive", "no_data")


def synthetic_campaign(seed: int = 11) -> Data:
    """1M rows: schools' parents/students/teachers/principals, an open link, two lists."""
    rng = np.random.default_rng(seed)
    n_school_rows, n_residents, n_deputies, n_members = 962_000, 35_000, 40, 39
    schools = 3000
    school_strata = np.array(
        [f"{loc}-{lvl}" for loc in ("urban", "town", "rural") for lvl in ("primary", "junior")]
    )
    school_stratum = rng.integers(0, school_strata.size, schools)
    school = rng.integers(0, schools, n_school_rows)
    group = rng.choice(
        np.array(["parent", "student", "teacher", "principal"]),
        size=n_school_rows,
        p=[0.42, 0.42, 0.14, 0.02],
    )
    questionnaire = np.select(
        [group == "parent", group == "student"], [0, 1], default=2
    )  # staff share one
    area_rows = rng.integers(0, 2, n_residents)
    n = n_school_rows + n_residents + n_deputies + n_members
    groups = np.concatenate(
        [
            group,
            np.full(n_residents, "resident"),
            np.full(n_deputies, "deputy"),
            np.full(n_members, "member"),
        ]
    )
    strata = np.concatenate(
        [
            school_strata[school_stratum[school]],
            np.where(area_rows == 0, "area-east", "area-west"),
            np.full(n_deputies, "list-deputy"),
            np.full(n_members, "list-member"),
        ]
    )
    psu = np.concatenate([school, schools + np.arange(n - n_school_rows)])
    fpc = np.concatenate(
        [np.full(n_school_rows + n_residents, np.inf), np.full(n_deputies, 187.0)]
        + [np.full(n_members, 212.0)]
    )
    q = np.concatenate([questionnaire, np.full(n - n_school_rows, 3)])  # public questionnaire
    sizes = np.array([16, 14, 19, 11])
    first = np.concatenate([[0], np.cumsum(sizes)])
    recognised = np.full((n, int(sizes.sum())), np.nan)
    school_effect = rng.normal(0, 0.5, schools + n)[psu]
    for k in range(sizes.size):
        rows = np.flatnonzero(q == k)
        eta = 1.9 + school_effect[rows, None] + rng.normal(0, 0.3, sizes[k])[None, :]
        answer = (rng.random((rows.size, sizes[k])) < 1 / (1 + np.exp(-eta))).astype(float)
        answer[rng.random(answer.shape) < 0.05] = np.nan  # 不了解 / unanswered
        recognised[rows, first[k] : first[k + 1]] = answer
    areas = np.array(["equity", "quality", "resources", "conduct"])
    return {
        "weights": rng.uniform(5, 60, n),
        "strata": strata,
        "psu": psu,
        "fpc": fpc,
        "groups": groups,
        "recognised": recognised,
        "item_areas": areas[np.arange(recognised.shape[1]) % 4],
        "items": np.array([f"q{k:02d}" for k in range(recognised.shape[1])]),
        "separately_drawn": np.array(["deputy", "member", "resident"]),
        "threshold": np.float64(0.85),
        "verdict_rule": np.str_("confidence"),
    }


def load(path: Path) -> Data:
    if path.exists():
        with np.load(path, allow_pickle=True) as data:
            return {key: data[key] for key in data.files}
    print(f"{path} not found: a synthetic campaign (seed 11)")
    return synthetic_campaign()


def school_labels(data: Data) -> tuple[np.ndarray, np.ndarray]:
    """Location and level of each row's school from strata 'location-level' ('' outside)."""
    levels, inverse = np.unique(data["strata"], return_inverse=True)
    split = [str(s).split("-", 1) for s in levels]
    is_school = np.array([s[0] not in ("area", "list") for s in split])
    location = np.array([s[0] if ok else "" for s, ok in zip(split, is_school, strict=True)])
    level = np.array([s[1] if ok else "" for s, ok in zip(split, is_school, strict=True)])
    return location[inverse], level[inverse]


def brewer_inputs(data: Data, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic π per row (constant within a PSU) and f2 per (PSU, group)."""
    rng = np.random.default_rng(seed)
    strata = data["strata"]
    psu_levels, psu = np.unique(data["psu"], return_inverse=True)
    listed = np.char.startswith(strata.astype(str), "list-")
    area = np.char.startswith(strata.astype(str), "area-")
    school = ~(listed | area)
    pi_psu = rng.uniform(0.2, 1.0, psu_levels.size)
    pi_psu[rng.random(psu_levels.size) < 0.2] = 1.0
    pi = pi_psu[psu]
    pi[area] = 1e-300
    for h in np.unique(strata[listed]):
        rows = strata == h
        n_h = np.unique(psu[rows]).size
        pi[rows] = n_h / data["fpc"][rows][0]
    _, group = np.unique(data["groups"], return_inverse=True)
    cell = psu * 16 + group
    f2_cell = rng.uniform(0.3, 1.0, int(cell.max()) + 1)
    f2 = np.where(school, f2_cell[cell], 1.0)
    return pi, f2


def current_design(data: Data) -> SurveyDesign:
    return SurveyDesign.from_arrays(
        weights=data["weights"],
        strata=data["strata"],
        cluster=data["psu"],
        fpc=data["fpc"],
        lonely_psu="adjust",
    )


def brewer_design(data: Data) -> SurveyDesign:
    return SurveyDesign.from_arrays(
        weights=data["weights"],
        strata=data["strata"],
        cluster=data["psu"],
        cluster2=np.arange(data["weights"].shape[0]),
        fpc=data["pi"],
        fpc2=data["f2"],
        pps="brewer",
        lonely_psu="adjust",
    )


def evaluate(
    data: Data, make_design: Callable[[Data], SurveyDesign], shared: bool = False
) -> list[RecognitionReport]:
    """What the results page computes: groups, then by location and by level
    (``shared``: the answers scanned once, ``answers=`` passed to each call)."""
    design = make_design(data)
    rule = RecognitionRule(
        threshold=float(data["threshold"]),
        verdict=str(data["verdict_rule"]),  # type: ignore[arg-type]
    )
    common = {"items": list(data["items"]), "rule": rule}
    if shared:
        common["answers"] = AnswerPositions.find(data["recognised"])
    reports = [
        evaluate_recognition(
            design,
            data["groups"],
            data["recognised"],
            list(data["item_areas"]),
            policy_weights=default_policy_weights(sorted(set(data["groups"].tolist()))),
            separately_drawn=tuple(data["separately_drawn"].tolist()),
            **common,  # type: ignore[arg-type]
        )
    ]
    for labels in (data["location"], data["level"]):
        domains = np.where(labels == "", OUTSIDE, labels)
        present = sorted(set(domains.tolist()))
        reports.append(
            evaluate_recognition(
                design,
                domains,
                data["recognised"],
                list(data["item_areas"]),
                policy_weights={label: 1.0 / len(present) for label in present},
                **common,  # type: ignore[arg-type]
            )
        )
    return reports


def figures(reports: list[RecognitionReport]) -> dict[str, tuple[float, ...]]:
    """Every number of the reports, keyed by where it is."""
    out: dict[str, tuple[float, ...]] = {}

    def put(key: str, r: RateEstimate) -> None:
        out[key] = (r.estimate, r.se, r.ci_low, r.ci_high, r.p_value, r.n, r.n_eff, r.df)
        out[key + "/flags"] = (float(r.suppress), float(VERDICTS.index(r.verdict)))

    for i, report in enumerate(reports):
        put(f"{i}/rate", report.rate)
        put(f"{i}/county", report.county.score)
        out[f"{i}/covariance"] = tuple(np.ravel(report.county.covariance))
        out[f"{i}/se_if_independent"] = (report.county.se_if_independent,)
        for name, part in (("items", report.items), ("areas", report.areas)):
            for code, r in part.items():
                put(f"{i}/{name}/{code}", r)
        for label, grp in report.groups.items():
            put(f"{i}/{label}/rate", grp.rate)
            for name, part in (("items", grp.items), ("areas", grp.areas)):
                for code, r in part.items():
                    put(f"{i}/{label}/{name}/{code}", r)
    return out


FIELDS = ("estimate", "se", "ci_low", "ci_high", "p_value", "n", "n_eff", "df")


def compare(
    old: dict[str, tuple[float, ...]], new: dict[str, tuple[float, ...]], rtol: float = 1e-12
) -> int:
    """Print the largest relative difference per field and count those above ``rtol``."""
    if old.keys() != new.keys():
        print("different figures:", sorted(old.keys() ^ new.keys())[:10])
        return 1
    bad, largest = 0, dict.fromkeys(FIELDS, 0.0)
    for key, a in old.items():
        for i, (x, y) in enumerate(zip(a, new[key], strict=True)):
            if (math.isnan(x) and math.isnan(y)) or x == y:
                continue
            if math.isnan(x) or math.isnan(y):
                if bad < 5:
                    print(f"    {key}[{i}]: {x} vs {y}")
                bad += 1
                continue
            rel = abs(x - y) / max(abs(x), abs(y))
            if rel > rtol and bad < 5:
                print(f"    {key}[{i}]: {x} vs {y}")
            if len(a) == len(FIELDS):
                largest[FIELDS[i]] = max(largest[FIELDS[i]], rel)
            bad += rel > rtol
    print(
        "    largest relative difference: " + ", ".join(f"{k} {v:.1e}" for k, v in largest.items())
    )
    return bad


def timed(
    data: Data, make_design: Callable[[Data], SurveyDesign], repeat: int, shared: bool
) -> list[Any]:
    runs, cpu, reports = [], [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        reports = evaluate(data, make_design, shared)
        runs.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(
        f"    best {min(runs):.3f} s of {repeat}: " + ", ".join(f"{t:.3f}" for t in runs),
        f"(CPU {min(cpu):.3f} s)",
        flush=True,
    )
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "campaign_1m.npz"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--designs", default="current,brewer")
    parser.add_argument("--shared-answers", action="store_true", help="pass answers= once found")
    parser.add_argument("--dump", type=Path)
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    data = load(args.data)
    data["location"], data["level"] = school_labels(data)
    data["pi"], data["f2"] = brewer_inputs(data)
    x = data["recognised"]
    print(
        f"data: {x.shape[0]:,} rows x {x.shape[1]} items, {np.mean(np.isnan(x)):.1%} NaN, "
        f"{np.unique(data['psu']).size:,} PSUs, {np.unique(data['strata']).size} strata "
        f"(ready in {time.perf_counter() - start:.1f} s)",
        flush=True,
    )
    makers = {"current": current_design, "brewer": brewer_design}
    results: dict[str, dict[str, tuple[float, ...]]] = {}
    for name in args.designs.split(","):
        print(f"{name}: from_arrays + 3 x evaluate_recognition", flush=True)
        results[name] = figures(timed(data, makers[name], args.repeat, args.shared_answers))
    if args.dump:
        args.dump.write_text(json.dumps(results))
    if args.compare:
        old = json.loads(args.compare.read_text())
        for name, new in results.items():
            bad = compare(old[name], new)
            print(f"{name}: {len(new)} figure sets, {bad} differ by more than 1e-12")


if __name__ == "__main__":
    main()
