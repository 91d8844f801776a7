"""Per-response flags: speeding, straight-lining, low variation.

They mark responses, not schools: an honest, very satisfied parent answers 满意 to
every item, so straight-lining alone says nothing about a school.  Definitions:

* ``speeding``: duration below ``speeding_fraction`` (default 1/3) of the
  questionnaire's reading time (unknown duration: never);
* ``straight_lining``: at least ``pattern_min_items`` answered items (codes
  1..scale_max; 不了解 and unanswered left out), all with the same code;
* ``low_variation``: not straight-lining, but one code covers at least
  ``low_variation_share`` (default 90%) of at least ``pattern_min_items`` answered
  items (with 14 items: all but one the same).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.integrity.blocks import IntegritySettings

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class ResponsePatterns:
    """Per row: answered items, top answers, low answers (codes 1..scale_max−2), flags."""

    answered: NDArray[np.int64]
    top: NDArray[np.int64]
    low: NDArray[np.int64]
    speeding: BoolArray
    straight_lining: BoolArray
    low_variation: BoolArray


def response_patterns(
    answers: NDArray[np.int16],
    duration_seconds: NDArray[np.float64],
    reading_seconds: float,
    settings: IntegritySettings,
) -> ResponsePatterns:
    scale = settings.scale_max
    counts = np.stack([(answers == c).sum(axis=1) for c in range(1, scale + 1)], axis=1)
    answered = counts.sum(axis=1)
    most = counts.max(axis=1) if counts.size else np.zeros(answers.shape[0], dtype=np.int64)
    enough = answered >= settings.pattern_min_items
    straight = enough & (most == answered)
    low_variation = enough & ~straight & (most >= settings.low_variation_share * answered)
    with np.errstate(invalid="ignore"):
        speeding = np.asarray(duration_seconds) < settings.speeding_fraction * reading_seconds
    return ResponsePatterns(
        answered=answered.astype(np.int64),
        top=counts[:, scale - 1].astype(np.int64),
        low=counts[:, : max(scale - 2, 0)].sum(axis=1).astype(np.int64),
        speeding=speeding,
        straight_lining=straight,
        low_variation=low_variation,
    )
