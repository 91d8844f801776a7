"""What :func:`analysis.integrity.examine` returns, and its JSON form.

Reason codes are one vocabulary shared by the CLI, the platform and the explanation
sentences; the platform translates them, never the other way round.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# cell reasons
TEMPLATE_COPYING = "template_copying"
ERASED_DISSATISFACTION = "erased_dissatisfaction"
PROXY_FILLING = "proxy_filling"
MANY_FLAGGED_RESPONSES = "many_flagged_responses"
CELL_REASONS = (TEMPLATE_COPYING, ERASED_DISSATISFACTION, PROXY_FILLING, MANY_FLAGGED_RESPONSES)
# response flags
SPEEDING = "speeding"
STRAIGHT_LINING = "straight_lining"
LOW_VARIATION = "low_variation"
RESPONSE_FLAGS = (SPEEDING, STRAIGHT_LINING, LOW_VARIATION)


@dataclass(frozen=True)
class CellFinding:
    """One (school, group) cell of one block.  ``statistics`` holds every number the
    explanation uses (and ``p_values`` per reason, ``cell_p_value``, ``q_value``);
    cells below ``min_n`` have ``statistics["too_small"]`` True and no p-values."""

    block: int
    school: object
    group: object
    stratum: object
    n: int
    flagged: bool
    reasons: tuple[str, ...]
    statistics: Mapping[str, Any]
    explanation: str


@dataclass(frozen=True)
class ResponseFlag:
    """A response with at least one per-response flag; ``row`` indexes its block."""

    block: int
    row: int
    school: object
    group: object
    flags: tuple[str, ...]


@dataclass(frozen=True)
class IntegrityReport:
    cells: tuple[CellFinding, ...]
    responses: tuple[ResponseFlag, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self, line_of_row: Mapping[tuple[int, int], int] | None = None) -> dict[str, Any]:
        """The CLI's JSON object.  ``line_of_row`` maps (block, row) to a file line; the
        responses then carry ``line`` instead of ``block`` and ``row``, and the cells no
        ``block`` (the CLI reads one block)."""
        responses = []
        for r in self.responses:
            where: dict[str, Any] = (
                {"line": line_of_row[(r.block, r.row)]}
                if line_of_row is not None
                else {"block": r.block, "row": r.row}
            )
            responses.append(
                {
                    **where,
                    "school": _plain(r.school),
                    "group": _plain(r.group),
                    "flags": list(r.flags),
                }
            )
        return {
            "settings": _plain(dict(self.settings)),
            "cells": [
                {
                    **({} if line_of_row is not None else {"block": c.block}),
                    "school": _plain(c.school),
                    "group": _plain(c.group),
                    "stratum": _plain(c.stratum),
                    "n": c.n,
                    "flagged": c.flagged,
                    "reasons": list(c.reasons),
                    "statistics": _plain(dict(c.statistics)),
                    "explanation": c.explanation,
                }
                for c in self.cells
            ],
            "responses": responses,
        }


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN and infinities to None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
