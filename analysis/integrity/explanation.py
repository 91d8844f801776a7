"""The one English sentence per cell, built from its reason codes and ``statistics``.

Every number a sentence uses is a key of ``statistics``, so the platform can build the
same sentence in another language from the same keys (and ``template_kind`` says
which of the two template sentences applies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from analysis.integrity.findings import (
    CELL_REASONS,
    ERASED_DISSATISFACTION,
    MANY_FLAGGED_RESPONSES,
    PROXY_FILLING,
    TEMPLATE_COPYING,
)

NOTHING_FOUND = "No sign of coaching."


def explain(group: object, reasons: Sequence[str], statistics: Mapping[str, Any]) -> str:
    """One sentence: why the cell is flagged, or that it is not (or too small)."""
    s = statistics
    if s.get("too_small"):
        return f"Too few responses to examine ({s['n']}; at least {s['min_n']} needed)."
    if not reasons:
        return NOTHING_FOUND
    clauses = []
    for reason in CELL_REASONS:
        if reason not in reasons:
            continue
        if reason == TEMPLATE_COPYING and s["template_kind"] == "all_top":
            clauses.append(
                f"{s['all_top']} of {s['n']} {group} answers at this school give the top "
                f"option to every item, where the school's other answers predict at most "
                f"{s['all_top_expected_max']}"
            )
        elif reason == TEMPLATE_COPYING:
            clauses.append(
                f"{s['largest_identical']} of {s['n']} {group} answers at this school are the "
                f"same {s['items']}-answer vector, where independent respondents would give "
                f"at most {s['expected_identical_max']}"
            )
        elif reason == ERASED_DISSATISFACTION:
            share = s["stratum_low_share"]
            others = "" if share is None else f" ({share:.0%} at the stratum's other schools)"
            clauses.append(
                f"{s['low_answers']} of the {s['answers']} {group} answers at this school "
                f"are below the second-highest option{others}, where their other answers "
                f"predict at least {s['low_expected_min']}"
            )
        elif reason == PROXY_FILLING:
            clauses.append(
                f"{s['burst_fast']} {group} answers at this school were submitted within "
                f"{s['burst_minutes']:g} minutes, each in under {s['speeding_seconds']:.0f} s "
                f"(reading time {s['reading_seconds']:.0f} s), where independent respondents "
                f"would give at most {s['burst_expected_max']}"
            )
        elif reason == MANY_FLAGGED_RESPONSES:
            clauses.append(
                f"{s['speeding']} of {s['timed']} {group} answers at this school took under "
                f"{s['speeding_seconds']:.0f} s (reading time {s['reading_seconds']:.0f} s), "
                f"where the stratum's other schools would give at most "
                f"{s['speeding_expected_max']}"
            )
    sentence = "; ".join(clauses)
    return sentence[0].upper() + sentence[1:] + "."
