"""A recognition report of the tests' synthetic campaigns, and every figure of it
flattened: for comparing two paths of the evaluation."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.design import SurveyDesign
from analysis.recognition import (
    RateEstimate,
    RecognitionReport,
    evaluate_recognition,
)


def figures(report: RecognitionReport) -> dict[str, tuple[float, ...]]:
    out: dict[str, tuple[float, ...]] = {}

    def put(key: str, r: RateEstimate) -> None:
        out[key] = (r.estimate, r.se, r.ci_low, r.ci_high, r.p_value, r.n, r.n_eff, r.df)

    put("rate", report.rate)
    put("county", report.county.score)
    out["covariance"] = tuple(np.ravel(report.county.covariance))
    for name, part in (("items", report.items), ("areas", report.areas)):
        for code, r in part.items():
            put(f"{name}/{code}", r)
    for label, grp in report.groups.items():
        put(f"{label}/rate", grp.rate)
        for name, part in (("items", grp.items), ("areas", grp.areas)):
            for code, r in part.items():
                put(f"{label}/{name}/{code}", r)
    return out


def evaluate(design: SurveyDesign, data: dict[str, Any], domains: np.ndarray) -> RecognitionReport:
    present = sorted(set(domains.tolist()))
    return evaluate_recognition(
        design,
        domains,
        data["x"],
        data["areas"],
        policy_weights={g: 1.0 / len(present) for g in present},
        separately_drawn=("resident", "deputy") if "deputy" in present else (),
    )
