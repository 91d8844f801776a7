"""Every figure of a recognition report, flattened: for comparing two paths of it."""

from __future__ import annotations

import numpy as np

from analysis.recognition import RateEstimate, RecognitionReport


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
