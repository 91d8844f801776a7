"""What :func:`analysis.integrity.examine` reads: blocks of responses and the settings.

A block is the responses to one questionnaire (one item set).  Answers are option
codes: 1 = lowest (不满意) … ``scale_max`` = highest (满意), 0 = don't know (不了解),
-1 = unanswered or not asked.  Cells are (school, group) within a block; the
reference for a cell is the other schools of the same stratum and group in the block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

DONT_KNOW = 0
UNANSWERED = -1
# A questionnaire's reading time when none is given: the command line's default, the
# platform's and the simulations'.
READING_SECONDS_PER_ITEM = 15.0


@dataclass(frozen=True, eq=False)
class ResponseBlock:
    """The responses to one questionnaire.

    ``answers`` is (n, k) int16; ``school``, ``group`` and ``stratum`` are (n,) labels
    (str or int; one type per array); ``duration_seconds`` (n,) with NaN = unknown;
    ``submitted_minute`` (n,) minutes since any fixed epoch (the same for the whole
    block), NaN = unknown; ``reading_seconds`` is the whole questionnaire's reading
    time (the CLI's default: 15 s per item).
    """

    items: tuple[str, ...]
    answers: NDArray[np.int16]
    school: NDArray[np.generic]
    group: NDArray[np.generic]
    stratum: NDArray[np.generic]
    duration_seconds: NDArray[np.float64]
    submitted_minute: NDArray[np.float64]
    reading_seconds: float

    def __post_init__(self) -> None:
        answers = np.asarray(self.answers)
        if answers.ndim != 2 or answers.shape[1] != len(self.items):
            raise ValueError("answers must be (n, len(items))")
        n = answers.shape[0]
        for name in ("school", "group", "stratum", "duration_seconds", "submitted_minute"):
            if np.asarray(getattr(self, name)).shape != (n,):
                raise ValueError(f"{name} must have one entry per response ({n})")
        if answers.size and int(answers.min()) < UNANSWERED:
            raise ValueError("answer codes below -1")
        if not (math.isfinite(self.reading_seconds) and self.reading_seconds > 0):
            raise ValueError("reading_seconds must be a positive number")
        duration = np.asarray(self.duration_seconds, dtype=np.float64)
        if np.any(duration[~np.isnan(duration)] < 0):
            raise ValueError("negative duration")

    @property
    def n(self) -> int:
        return int(np.asarray(self.answers).shape[0])


@dataclass(frozen=True)
class IntegritySettings:
    """Thresholds and error rates of the integrity checks (see the package docstring).

    ``fdr``: Benjamini–Hochberg false-discovery rate over all examined cells of all
    blocks.  ``min_n``: cells with fewer responses are listed but not examined.
    ``speeding_fraction``: a response is speeding when its duration is below this
    share of the reading time.  ``burst_minutes``: the window of a burst.
    ``pattern_min_items``: straight-lining, low variation and an all-top vector need at
    least this many answered items (codes 1..scale_max).  ``low_variation_share``: low
    variation when one code covers at least this share of the answered items (but
    not all).  ``speeding_floor``: the null speeding rate is at least this.
    ``speeding_icc``: the between-school spread of speeding allowed under the null
    (beta-binomial intraclass correlation).
    """

    scale_max: int = 4
    fdr: float = 0.05
    min_n: int = 10
    speeding_fraction: float = 1 / 3
    burst_minutes: float = 10.0
    pattern_min_items: int = 5
    low_variation_share: float = 0.9
    speeding_floor: float = 0.01
    speeding_icc: float = 0.03

    def __post_init__(self) -> None:
        if not 2 <= self.scale_max <= 20:
            raise ValueError("scale_max must be between 2 and 20")
        if not 0 < self.fdr < 1:
            raise ValueError("fdr must be between 0 and 1 (exclusive)")
        if self.min_n < 2:
            raise ValueError("min_n must be at least 2")
        if not 0 < self.speeding_fraction <= 1:
            raise ValueError("speeding_fraction must be in (0, 1]")
        if not self.burst_minutes > 0:
            raise ValueError("burst_minutes must be positive")
        if self.pattern_min_items < 2:
            raise ValueError("pattern_min_items must be at least 2")
        if not 0.5 < self.low_variation_share < 1:
            raise ValueError("low_variation_share must be in (0.5, 1)")
        if not 0 < self.speeding_floor < 1:
            raise ValueError("speeding_floor must be in (0, 1)")
        if not 0 < self.speeding_icc < 1:
            raise ValueError("speeding_icc must be in (0, 1)")
