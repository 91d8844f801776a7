"""Simulated fieldwork for a county, clean or with coached cells of known styles.

Used by ``bench/integrity.py`` and the tests to check the false-flag rate and the
recall of :func:`analysis.integrity.examine`.  The clean county is deliberately
harder than the tests' null model: answers follow a graded (cumulative-logit) model
with a person-level satisfaction θ (items correlated within a respondent), item
slopes that differ (0.75–1.35), stratum, school, school × group and school × item
effects, person-level spreads that differ between schools, a tenth of the schools very
satisfied (+2 on θ: half or more of their parents answer 满意 to everything), don't
know answers, and submissions in waves (a teacher posts the link in a chat group and
many answer within the hour).  ``process`` swaps the graded model for the partial-credit
or the sequential one: the tests' calibration must not rest on the simulation's model.

Coaching styles (``Coaching.style``) and what ``intensity`` means:

* ``template_mixed``: that share of the cell copies one mixed "standard answer"
  (满意 except 2–5 items 比较满意, sometimes one 基本满意);
* ``template_all_top``: that share copies 满意 on every item ("100% correct");
* ``erased``: that share of the cell answers nothing below 比较满意 (a low answer
  becomes 比较满意, or 满意 three times in ten);
* ``proxy``: that share of the cell is filled in by one person in two ten-minute
  bursts at a fifth of the reading time, with that person's own similar answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.integrity.blocks import (
    DONT_KNOW,
    READING_SECONDS_PER_ITEM,
    UNANSWERED,
    ResponseBlock,
)

STYLES = ("template_mixed", "template_all_top", "erased", "proxy")
PROCESSES = ("graded", "partial_credit", "sequential")
SCALE_MAX = 4
FIELDWORK_MINUTES = 3 * 24 * 60
EPOCH_MINUTE = 29_362_000.0  # about 2025-10: any fixed origin will do
# group: (mean θ, person SD, responses per school low/high)
GROUPS: dict[str, tuple[float, float, int, int]] = {
    "parent": (1.2, 1.3, 15, 80),
    "student": (1.6, 1.4, 15, 60),
    "teacher": (0.8, 1.1, 8, 30),
    "principal": (1.5, 0.8, 1, 2),
}
# thresholds of the codes ≥ 2, ≥ 3, ≥ 4 relative to an item's location (θ units)
THRESHOLDS = np.array([-3.2, -1.6, 0.3])


@dataclass(frozen=True)
class Coaching:
    style: str
    intensity: float

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"unknown coaching style {self.style!r}")
        if not 0 < self.intensity <= 1:
            raise ValueError("intensity must be in (0, 1]")


@dataclass(frozen=True, eq=False)
class CellTruth:
    """What the simulation knows of one cell's honest respondents and no test can: θ ~
    N(level, spread²), and the graded model's item slopes and locations at the school."""

    level: float
    spread: float
    slope: NDArray[np.float64]
    locations: NDArray[np.float64]
    process: str = "graded"


@dataclass(frozen=True, eq=False)
class SimulatedCounty:
    block: ResponseBlock
    coached: dict[tuple[str, str], Coaching]  # (school, group) → style
    very_satisfied: frozenset[str]
    truth: dict[tuple[str, str], CellTruth]  # (school, group) → its honest model


def simulate_county(
    rng: np.random.Generator,
    *,
    schools: int = 120,
    items: int = 14,
    strata: int = 4,
    coaching: Sequence[Coaching] = (),
    very_satisfied_share: float = 0.1,
    groups: Sequence[str] = ("parent", "student", "teacher", "principal"),
    min_coached_n: int = 10,
    school_item_sd: float = 0.3,
    school_group_sd: float = 0.3,
    coach_very_satisfied: bool = True,
    dont_know_tilt: float = 0.0,
    dont_know_tilt_sd: float = 0.0,
    school_group_df: float = 0.0,
    process: str = "graded",
) -> SimulatedCounty:
    """One county; each ``coaching`` goes to a different random cell with at least
    ``min_coached_n`` responses (and, unless ``coach_very_satisfied``, not in a very
    satisfied school).  ``school_item_sd``: the
    spread of a school's own item profile (a school with a poor canteen);
    ``school_group_sd``: how much one group of a school differs from its others;
    ``dont_know_tilt`` β: a respondent's don't-know rate × exp(−β (θ − level)), so with
    β > 0 the less satisfied say 不了解 more often (the rate's mean unchanged);
    ``dont_know_tilt_sd``: β varies between cells by that SD around ``dont_know_tilt``;
    ``school_group_df``: if set, the school × group effect is ``school_group_sd`` × a
    Student-t of these degrees of freedom (heavy tails: a school whose parents are far
    happier than its students), not normal.  ``process``: how a respondent's θ gives
    its codes: ``graded`` (cumulative logits, the model the all-top test fits),
    ``partial_credit`` (adjacent-category logits a(θ − b − τ_c)) or ``sequential``
    (continuation ratios: P(code ≥ c | code ≥ c − 1) = logistic(a(θ − b − τ_c))), the
    same slopes, locations and steps τ = ``THRESHOLDS``: a county whose respondents do
    not answer as the test's model says."""
    if process not in PROCESSES:
        raise ValueError(f"unknown response process {process!r}")
    reading = READING_SECONDS_PER_ITEM * items
    stratum_of = rng.integers(0, strata, schools)
    stratum_effect = rng.normal(0, 0.3, strata)
    school_effect = rng.normal(0, 0.6, schools)
    very = rng.random(schools) < very_satisfied_share
    school_effect[very] += 2.0
    school_item = rng.normal(0, school_item_sd, (schools, items))
    slope = rng.uniform(0.75, 1.35, items)
    location = rng.normal(0, 0.5, items)
    dont_know_rate = rng.uniform(0.005, 0.06, items)
    duration_scale = rng.normal(0, 0.15, schools)

    cells: list[tuple[int, str, int]] = []
    for s in range(schools):
        for g in groups:
            low, high = GROUPS[g][2], GROUPS[g][3]
            cells.append((s, g, int(rng.integers(low, high + 1))))
    eligible = [
        i
        for i, (s, _, n) in enumerate(cells)
        if n >= min_coached_n and (coach_very_satisfied or not very[s])
    ]
    if len(coaching) > len(eligible):
        raise ValueError("more coached cells than cells")
    chosen = rng.choice(eligible, size=len(coaching), replace=False)
    style_of = {int(c): coach for c, coach in zip(chosen, coaching, strict=True)}

    parts: list[tuple[NDArray[np.int16], NDArray[np.float64], NDArray[np.float64]]] = []
    labels: list[tuple[int, str, int]] = []
    coached: dict[tuple[str, str], Coaching] = {}
    truth: dict[tuple[str, str], CellTruth] = {}
    for index, (s, g, n) in enumerate(cells):
        mean, sd, _, _ = GROUPS[g]
        level = (
            mean
            + stratum_effect[stratum_of[s]]
            + school_effect[s]
            + (
                school_group_sd * rng.standard_t(school_group_df)
                if school_group_df
                else rng.normal(0, school_group_sd)
            )
        )
        spread = sd * np.exp(rng.normal(0, 0.15))
        theta = level + rng.normal(0, spread, n)
        items_at_school = location + school_item[s]
        truth[(f"S{s:03d}", g)] = CellTruth(
            float(level), float(spread), slope, items_at_school, process
        )
        answers = _draw_codes(rng, theta, slope, items_at_school, process)
        tilt = dont_know_tilt + (rng.normal(0, dont_know_tilt_sd) if dont_know_tilt_sd else 0.0)
        uniform = rng.random((n, items))
        person_rate = rng.gamma(2.0, 0.5, (n, 1))
        if tilt:
            person_rate *= np.exp(-tilt * (theta - level) - (tilt * spread) ** 2 / 2)[:, None]
        unknown = uniform < dont_know_rate * person_rate
        answers[unknown] = DONT_KNOW
        answers[rng.random((n, items)) < 0.003] = UNANSWERED
        duration = np.maximum(
            15.0, reading * 0.9 * np.exp(duration_scale[s] + rng.normal(0, 0.45, n))
        )
        minute = _waves(rng, n)
        coach = style_of.get(index)
        if coach is not None:
            coached[(f"S{s:03d}", g)] = coach
            share = max(2, round(coach.intensity * n))
            who = rng.choice(n, size=min(share, n), replace=False)
            _coach(
                rng,
                coach.style,
                answers,
                duration,
                minute,
                who,
                reading,
                theta,
                slope,
                items_at_school,
                process,
            )
        parts.append((answers, duration, np.floor(minute) + EPOCH_MINUTE))
        labels.append((s, g, n))

    school = np.concatenate([np.full(n, f"S{s:03d}", dtype=object) for s, _, n in labels])
    group = np.concatenate([np.full(n, g, dtype=object) for _, g, n in labels])
    stratum = np.concatenate([np.full(n, f"H{stratum_of[s]}", dtype=object) for s, _, n in labels])
    block = ResponseBlock(
        items=tuple(f"q{j + 1:02d}" for j in range(items)),
        answers=np.concatenate([p[0] for p in parts]).astype(np.int16),
        school=school,
        group=group,
        stratum=stratum,
        duration_seconds=np.concatenate([p[1] for p in parts]),
        submitted_minute=np.concatenate([p[2] for p in parts]),
        reading_seconds=reading,
    )
    very_names = frozenset(f"S{s:03d}" for s in np.flatnonzero(very))
    return SimulatedCounty(block=block, coached=coached, very_satisfied=very_names, truth=truth)


def all_top_probability(truth: CellTruth) -> float:
    """P(an honest respondent of the cell answers 满意 to every item), from the true
    model (Gauss–Hermite over θ).  Don't-know answers are ignored: it is the share of
    complete all-top answers among the complete answers, the share the all-top test
    counts, when don't-knows are independent of satisfaction (``dont_know_tilt`` 0)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(64)
    theta = truth.level + truth.spread * nodes
    top = _at_least(theta, truth.slope, truth.locations, truth.process)[:, :, -1]
    return float(np.exp(np.log(top).sum(axis=1)) @ weights / weights.sum())


def graded_log_probabilities(
    theta: NDArray[np.float64], slope: NDArray[np.float64], locations: NDArray[np.float64]
) -> NDArray[np.float64]:
    """log P(code c | θ) of the simulation's graded model, (θ, items, codes 1..4): what a
    test knowing the item model (``CellTruth.slope`` and ``locations``) would use."""
    at_least = _at_least(theta, slope, locations)
    ones = np.ones(at_least.shape[:2] + (1,))
    cumulative = np.concatenate([ones, at_least, 0 * ones], axis=2)
    return np.log(np.clip(cumulative[:, :, :-1] - cumulative[:, :, 1:], 1e-300, 1.0))


def _draw_codes(
    rng: np.random.Generator,
    theta: NDArray[np.float64],
    slope: NDArray[np.float64],
    location: NDArray[np.float64],
    process: str = "graded",
) -> NDArray[np.int16]:
    """Codes 1..4 of the respondents at ``theta`` under ``process``."""
    u = rng.random((theta.shape[0], location.shape[0], 1))
    return (1 + (u < _at_least(theta, slope, location, process)).sum(axis=2)).astype(np.int16)


def _at_least(
    theta: NDArray[np.float64],
    slope: NDArray[np.float64],
    locations: NDArray[np.float64],
    process: str = "graded",
) -> NDArray[np.float64]:
    """P(code ≥ c | θ) for c = 2, 3, 4, (θ, items, 3), under ``process``
    (:func:`simulate_county`); the graded model's are shared by the draws and by
    :func:`graded_log_probabilities`."""
    b = locations[None, :, None] + THRESHOLDS[None, None, :]
    step = 1 / (1 + np.exp(-slope[None, :, None] * (theta[:, None, None] - b)))
    if process == "graded":
        return step
    if process == "sequential":
        return np.cumprod(step, axis=2)
    # partial credit: log P(code c) ∝ Σ_{h ≤ c} a(θ − b − τ_h)
    eta = slope[None, :, None] * (theta[:, None, None] - b)
    log_odds = np.concatenate([np.zeros(eta.shape[:2] + (1,)), np.cumsum(eta, axis=2)], axis=2)
    p = np.exp(log_odds - log_odds.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    return np.cumsum(p[:, :, ::-1], axis=2)[:, :, ::-1][:, :, 1:]


def _waves(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    """Submission minutes: most in 2–5 waves after the link is posted, a fifth spread."""
    starts = rng.uniform(0, FIELDWORK_MINUTES - 240, int(rng.integers(2, 6)))
    wave = rng.integers(0, starts.shape[0], n)
    minute = starts[wave] + rng.exponential(45.0, n)
    spread = rng.random(n) < 0.2
    minute[spread] = rng.uniform(0, FIELDWORK_MINUTES, int(spread.sum()))
    return minute


def _coach(
    rng: np.random.Generator,
    style: str,
    answers: NDArray[np.int16],
    duration: NDArray[np.float64],
    minute: NDArray[np.float64],
    who: NDArray[np.intp],
    reading: float,
    theta: NDArray[np.float64],
    slope: NDArray[np.float64],
    location: NDArray[np.float64],
    process: str,
) -> None:
    """Overwrite the rows ``who`` of one cell in place."""
    k = answers.shape[1]
    if style == "template_all_top":
        answers[who] = SCALE_MAX
    elif style == "template_mixed":
        template = np.full(k, SCALE_MAX, dtype=np.int16)
        lower = rng.choice(k, size=int(rng.integers(2, 6)), replace=False)
        template[lower] = SCALE_MAX - 1
        if rng.random() < 0.3:
            template[lower[0]] = SCALE_MAX - 2
        answers[who] = template
    elif style == "erased":
        rows = answers[who]
        low = (rows >= 1) & (rows <= SCALE_MAX - 2)
        rows[low] = np.where(rng.random(int(low.sum())) < 0.7, SCALE_MAX - 1, SCALE_MAX)
        answers[who] = rows
    else:  # proxy
        filler = float(np.mean(theta)) + 0.5
        own = np.asarray(filler + rng.normal(0, 0.3, who.shape[0]), dtype=np.float64)
        answers[who] = _draw_codes(rng, own, slope, location, process)
        duration[who] = reading / 5 * np.exp(rng.normal(0, 0.2, who.shape[0]))
        bursts = rng.uniform(0, FIELDWORK_MINUTES - 10, 2)
        half = who.shape[0] // 2
        minute[who[:half]] = bursts[0] + rng.uniform(0, 10, half)
        minute[who[half:]] = bursts[1] + rng.uniform(0, 10, who.shape[0] - half)
