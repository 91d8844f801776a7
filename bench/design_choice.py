"""Which variance design for the schools' groups: with replacement, or Brewer (πps)?

    .venv/bin/python bench/design_choice.py              # 1,000 replicates per scenario
    .venv/bin/python bench/design_choice.py --quick      # 150 replicates, ~30 s
    .venv/bin/python bench/design_choice.py --check-r    # one replicate against R, then stop
    .venv/bin/python bench/design_choice.py --reps 4000 --scenarios S1,S7

Builds finite county populations (6 strata: urban / town / rural × primary / junior;
school sizes skewed: a few big town schools, many small village schools and teaching
points; school random effects on recognition, correlated across the groups of a
school; 8 items per respondent, 不了解 as NaN), computes the TRUE finite-population
recognition rate of each group (Σ recognised answers / Σ answered items over every
person) and the county score θ = Σ a_g p_g (``default_policy_weights``), then repeats
the platform's draw:

* schools per stratum: ``survey_app.plan.draw.default_allocation`` (or a census),
  π by ``analysis.pps.inclusion_probabilities`` (certainties included), the schools by
  ``analysis.pps.systematic_sample`` with the start ``analysis.pps.stratum_start(seed,
  stratum)`` as ``draw_schools`` does; the frame (school-code) order is a fresh random
  order each replicate, i.e. codes unrelated to size and recognition;
* in each drawn school m = min(planned, M) of each group (students, parents, teachers)
  by equal-probability systematic sampling from a roll in random order (M from
  ``survey_app.plan.second_stage.population``), weight 1/π × M/m;

and estimates θ and the group rates on five designs, the first four built by
``SurveyDesign.from_arrays`` as the loader would (``lonely_psu="adjust"``):

* ``WR``: ``cluster=school, fpc=inf`` (the loader today: with-replacement first stage);
* ``B1``: ``cluster=school, fpc=π, pps="brewer"`` (Brewer, first stage only);
* ``B2``: ``cluster=school, cluster2=respondent, fpc=π, fpc2=m/M, pps="brewer"``
  (Brewer with the second stage: R ``ids=~school+resp, fpc=~pi+f2``);
* ``B2c``: B2 with each stratum's certainty schools (π = 1) moved to a stratum of
  their own (``<stratum>:certain``);
* ``B2s``: B2 with the groups as second-stage strata in each school (R
  ``strata=~stratum+cell``), which ``from_arrays`` cannot express: Brewer's first
  stage from B1 plus a one-stage design (strata school × group, fpc M) on √π × the
  scores. A reference for what the engine's unstratified second stage costs.

The variances are the engine's (``variance_of_totals`` on R ``svyratio``'s linearised
scores, θ's scores Σ a_g × the groups'); every 50th replicate the four engine designs
also go through ``analysis.recognition.evaluate_recognition`` (the platform's call,
default ``RecognitionRule``: Korn–Graubard, 90% two-sided, verdict against 0.85, NCHS
cap of n_eff at n) and the script stops if estimate, SE, n, df or either bound differs
by more than 1e-12. Intervals and verdicts are the engine's ``interval_arrays``.

Printed per scenario and design, for θ: bias, empirical SD of the estimates, mean
estimated SE, SE/SD (root mean SE² over SD), coverage of the 90% and 95% intervals,
share of replicates whose lower 90% bound is above the truth (nominal 5%: the side a
false pass comes from), mean width of the 90% interval, verdict shares (met /
inconclusive / not met), mean df, the share of replicates where the NCHS cap binds
(n_eff = n), the 90% coverage without the cap (the design's own calibration), and the
share of replicates with a design caveat (``SurveyDesign.fpc_caveat``); then per group
SE/SD and 90% coverage. ``--check-r`` writes one replicate of S1 and of S4 (with a
deputies list and an open link added) to a temporary CSV and compares the engine's
estimates, SEs and df with R's ``survey`` for WR, B1, B2 and B2s (to 1e-9).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.design import SurveyDesign  # noqa: E402
from analysis.intervals import interval_arrays  # noqa: E402
from analysis.pps import inclusion_probabilities, stratum_start, systematic_sample  # noqa: E402
from analysis.recognition import (  # noqa: E402
    RecognitionRule,
    default_policy_weights,
    evaluate_recognition,
)
from survey_app.plan.draw import default_allocation  # noqa: E402
from survey_app.plan.second_stage import DEFAULT_RESPONDENTS, population  # noqa: E402

GROUPS = ("parent", "student", "teacher")
N_ITEMS = 8
ITEM_AREAS = tuple("government" if j < 4 else "school" for j in range(N_ITEMS))
RULE = RecognitionRule()  # the platform's default: beta (KG), alpha 0.05, threshold 0.85
POLICY = default_policy_weights(list(GROUPS))
DESIGNS = ("WR", "B1", "B2", "B2c", "B2s")
DESIGN_TEXT = {
    "WR": "with replacement (loader today)",
    "B1": "Brewer, first stage only",
    "B2": "Brewer + second stage",
    "B2c": "B2, certainties own stratum",
    "B2s": "B2, groups as stage-2 strata",
}
LONELY = "adjust"  # survey_app/results/evaluation.design_of

# stratum: share of the county's schools, median enrolment, sd of log enrolment,
# pupils per teacher, fewest teachers, logit effect on recognition
STRATA = {
    "urban-primary": (0.07, 1900, 0.35, 17.0, 40, 0.25),
    "urban-junior": (0.05, 1500, 0.35, 12.5, 45, 0.15),
    "town-primary": (0.16, 650, 0.55, 15.0, 12, 0.0),
    "town-junior": (0.10, 950, 0.45, 12.5, 25, -0.1),
    "rural-primary": (0.50, 110, 0.95, 11.0, 6, -0.15),
    "rural-junior": (0.12, 320, 0.60, 11.0, 12, -0.3),
}
GROUP_LOGIT = {"parent": 0.0, "student": 0.35, "teacher": -0.25}
DONT_KNOW = {"parent": 0.10, "student": 0.05, "teacher": 0.03}
PERSON_SD = 1.1  # person effect (items of one person are correlated)
ITEM_SD = 0.3


@dataclass(frozen=True)
class Scenario:
    key: str
    text: str
    schools: int
    school_sd: float  # SD of the school effect on the logit scale
    target: float  # true county score θ
    seed: int
    per_school: dict[str, int] = field(default_factory=dict)  # overrides of m
    census: bool = False  # every school drawn
    small_schools: bool = False  # a rural county: mostly village schools
    total: int | None = None  # schools to draw (None: draw.default_allocation)


SCENARIOS = (
    Scenario("S1", "40 schools, 26 drawn (65%), certainties", 40, 0.28, 0.87, 101),
    Scenario("S2", "40 schools, 26 drawn, truth 0.83", 40, 0.28, 0.83, 102),
    Scenario(
        "S3",
        "60 mostly small schools, 26 drawn, 8 teachers asked",
        60,
        0.28,
        0.87,
        103,
        per_school={"teacher": 8},
        small_schools=True,
    ),
    Scenario("S4", "30 schools, census of schools (all drawn)", 30, 0.28, 0.87, 104, census=True),
    Scenario("S5", "120 schools, 26 drawn (22%), low ICC", 120, 0.15, 0.87, 105),
    Scenario("S6", "300 schools, 26 drawn (9%), high ICC", 300, 0.40, 0.83, 106),
    Scenario("S7", "300 schools, 60 drawn (20%)", 300, 0.28, 0.87, 107, total=60),
)


# ---- the finite population ------------------------------------------------------------
@dataclass
class County:
    scenario: Scenario
    codes: list[str]  # stratum codes
    stratum: np.ndarray  # per school
    enrolment: np.ndarray
    population: dict[str, np.ndarray]  # M per school and group
    offset: dict[str, np.ndarray]  # first person of each school in the group's arrays
    recognised: dict[str, np.ndarray]  # (persons, items) 1 / 0 / NaN
    allocation: dict[str, int]
    true_rate: dict[str, float]
    theta: float
    icc: dict[str, float]
    planned: dict[str, int]


def build_county(sc: Scenario) -> County:
    rng = np.random.default_rng(sc.seed)
    codes = list(STRATA)
    shares = np.array([STRATA[c][0] for c in codes])
    if sc.small_schools:
        shares = shares * np.array([0.4, 0.6, 0.7, 0.8, 1.6, 1.2])
        shares = shares / shares.sum()
    counts = np.maximum(2, np.floor(shares * sc.schools)).astype(int)
    while counts.sum() < sc.schools:
        counts[int(np.argmax(shares * sc.schools - counts))] += 1
    while counts.sum() > sc.schools:
        counts[int(np.argmax(counts))] -= 1
    stratum = np.repeat(np.arange(len(codes)), counts)
    enrol, levels, teachers = [], [], []
    for h, code in enumerate(codes):
        _, median, sdlog, ratio, fewest, _ = STRATA[code]
        if sc.small_schools and code.startswith("rural"):
            median *= 0.7
        size = np.maximum(8, np.round(median * np.exp(rng.normal(0, sdlog, counts[h]))))
        for s in size:
            tp = code == "rural-primary" and s < 60
            level = "teaching_point" if tp else code.split("-")[1]
            fewest_here = int(rng.integers(2, 5)) if tp else fewest
            t = max(fewest_here, round(s / ratio * math.exp(rng.normal(0, 0.15))))
            enrol.append(int(s))
            levels.append(level)
            teachers.append(int(t))
    enrolment = np.array(enrol)
    schools = [
        SimpleNamespace(enrolment=e, level=lv, teachers=t, grade_enrolments=None)
        for e, lv, t in zip(enrol, levels, teachers, strict=True)
    ]
    pop = {g: np.array([population(s, g) for s in schools]) for g in GROUPS}
    # school effects: a shared part and a group part (correlation 0.5 between groups),
    # a stratum effect and a within-stratum size effect (bigger schools a little higher)
    n_s = len(schools)
    shared = rng.normal(0, 1, n_s)
    log_size = np.log(enrolment)
    size_z = np.zeros(n_s)
    for h in range(len(codes)):
        idx = stratum == h
        sd = log_size[idx].std()
        size_z[idx] = (log_size[idx] - log_size[idx].mean()) / (sd if sd > 0 else 1)
    h_eff = np.array([STRATA[c][5] for c in codes])[stratum]
    latent: dict[str, np.ndarray] = {}
    noise: dict[str, np.ndarray] = {}
    offset: dict[str, np.ndarray] = {}
    school_of: dict[str, np.ndarray] = {}
    for g in GROUPS:
        own = rng.normal(0, 1, n_s)
        school_eff = (
            sc.school_sd * (math.sqrt(0.5) * shared + math.sqrt(0.5) * own) + h_eff + 0.15 * size_z
        )
        m_g = pop[g]
        school_of[g] = np.repeat(np.arange(n_s), m_g)
        offset[g] = np.concatenate(([0], np.cumsum(m_g)[:-1]))
        n_p = int(m_g.sum())
        person = GROUP_LOGIT[g] + school_eff[school_of[g]] + rng.normal(0, PERSON_SD, n_p)
        item = rng.normal(0, ITEM_SD, N_ITEMS)
        latent[g] = (person[:, None] + item[None, :]).astype(np.float32)
        noise[g] = rng.logistic(0, 1, (n_p, N_ITEMS)).astype(np.float32)
        dk = rng.random((n_p, N_ITEMS)) < DONT_KNOW[g]
        noise[g][dk] = np.nan

    def rates(shift: float) -> dict[str, float]:
        out = {}
        for g in GROUPS:
            x = latent[g] + noise[g] + np.float32(shift)
            answered = ~np.isnan(x)
            out[g] = float(np.count_nonzero(x > 0) / np.count_nonzero(answered))
        return out

    lo, hi = -6.0, 6.0
    for _ in range(50):
        mid = (lo + hi) / 2
        r = rates(mid)
        if sum(POLICY[g] * r[g] for g in GROUPS) < sc.target:
            lo = mid
        else:
            hi = mid
    shift = (lo + hi) / 2
    recognised = {}
    icc = {}
    for g in GROUPS:
        x = latent[g] + noise[g] + np.float32(shift)
        rec = np.where(np.isnan(x), np.nan, (x > 0).astype(np.float32))
        recognised[g] = rec
        icc[g] = _icc(rec, school_of[g], n_s)
    true_rate = {
        g: float(np.nansum(recognised[g]) / np.count_nonzero(~np.isnan(recognised[g])))
        for g in GROUPS
    }
    theta = sum(POLICY[g] * true_rate[g] for g in GROUPS)
    frames = [
        SimpleNamespace(
            stratum=SimpleNamespace(code=code),
            schools=[schools[i] for i in np.flatnonzero(stratum == h)],
            drawable=int(np.count_nonzero(stratum == h)),
        )
        for h, code in enumerate(codes)
    ]
    if sc.census:
        allocation = {code: int(np.count_nonzero(stratum == h)) for h, code in enumerate(codes)}
    elif sc.total is None:
        allocation = default_allocation(frames)  # type: ignore[arg-type]
    else:
        from analysis.allocation import allocate

        enrol_h = [int(enrolment[stratum == h].sum()) for h in range(len(codes))]
        shares_h = allocate(sc.total, [f.drawable for f in frames], to=enrol_h)
        allocation = dict(zip(codes, shares_h, strict=True))
    planned = {**DEFAULT_RESPONDENTS, **sc.per_school}
    return County(
        sc,
        codes,
        stratum,
        enrolment,
        pop,
        offset,
        recognised,
        allocation,
        true_rate,
        theta,
        icc,
        {g: planned[g] for g in GROUPS},
    )


def _icc(rec: np.ndarray, school: np.ndarray, n_s: int) -> float:
    """One-way ANOVA ICC of the persons' recognised shares between schools."""
    share = np.nanmean(rec, axis=1)
    ok = ~np.isnan(share)
    y, s = share[ok], school[ok]
    n_i = np.bincount(s, minlength=n_s).astype(float)
    keep = n_i > 1
    sums = np.bincount(s, weights=y, minlength=n_s)
    means = np.divide(sums, n_i, out=np.zeros(n_s), where=n_i > 0)
    grand = y.mean()
    k, n = int(keep.sum()), int(n_i[keep].sum())
    inside = keep[s]
    ssb = float((n_i[keep] * (means[keep] - grand) ** 2).sum())
    ssw = float(((y[inside] - means[s[inside]]) ** 2).sum())
    msb, msw = ssb / (k - 1), ssw / (n - k)
    n0 = (n - (n_i[keep] ** 2).sum() / n) / (k - 1)
    return (msb - msw) / (msb + (n0 - 1) * msw)


# ---- one replicate: the platform's draw ---------------------------------------------------
@dataclass
class Sample:
    groups: np.ndarray
    strata: np.ndarray
    school: np.ndarray
    person: np.ndarray
    weights: np.ndarray
    pi: np.ndarray
    f2: np.ndarray
    big_m: np.ndarray  # M of the row's group at its school
    recognised: np.ndarray


def draw(county: County, rep: int) -> Sample:
    sc = county.scenario
    seed = sc.seed * 1_000_000 + rep
    rng = np.random.default_rng(seed)
    chosen, chosen_pi = [], []
    for h, code in enumerate(county.codes):
        members = np.flatnonzero(county.stratum == h)
        frame = members[rng.permutation(members.size)]  # this replicate's code order
        pik = inclusion_probabilities(
            county.enrolment[frame].astype(float), county.allocation[code]
        )
        picked = systematic_sample(pik, stratum_start(seed, code))
        chosen.extend(frame[picked].tolist())
        chosen_pi.extend(pik[picked].tolist())
    school = np.repeat(np.array(chosen), len(GROUPS))
    pi = np.repeat(np.array(chosen_pi), len(GROUPS))
    gi = np.tile(np.arange(len(GROUPS)), len(chosen))
    big_m = np.array([county.population[GROUPS[g]][s] for s, g in zip(school, gi, strict=True)])
    m = np.minimum(np.array([county.planned[GROUPS[g]] for g in gi]), big_m)
    # systematic from a roll in random order = a simple random sample of m of M
    take = [
        county.offset[GROUPS[g]][s] + rng.choice(bm, k, replace=False)
        for s, g, bm, k in zip(school, gi, big_m, m, strict=True)
    ]
    row_g = np.repeat(gi, m)
    row_take = np.concatenate(take)
    recognised = np.empty((row_take.size, N_ITEMS))
    for j, g in enumerate(GROUPS):
        rows = row_g == j
        recognised[rows] = county.recognised[g][row_take[rows]]
    return Sample(
        groups=np.array(GROUPS, dtype=object)[row_g],
        strata=np.array(county.codes, dtype=object)[county.stratum[np.repeat(school, m)]],
        school=np.repeat(school, m),
        person=row_g * 10_000_000 + row_take,
        weights=np.repeat(big_m / m / pi, m),
        pi=np.repeat(pi, m),
        f2=np.repeat(m / big_m, m),
        big_m=np.repeat(big_m.astype(float), m),
        recognised=recognised,
    )


def designs(sample: Sample) -> dict[str, SurveyDesign]:
    n = sample.weights.size
    certain = np.where(sample.pi >= 1.0, sample.strata + ":certain", sample.strata)
    return {
        "WR": SurveyDesign.from_arrays(
            weights=sample.weights,
            strata=sample.strata,
            cluster=sample.school,
            fpc=np.full(n, np.inf),
            lonely_psu=LONELY,
        ),
        "B1": SurveyDesign.from_arrays(
            weights=sample.weights,
            strata=sample.strata,
            cluster=sample.school,
            fpc=sample.pi,
            pps="brewer",
            lonely_psu=LONELY,
        ),
        "B2": SurveyDesign.from_arrays(
            weights=sample.weights,
            strata=sample.strata,
            cluster=sample.school,
            fpc=sample.pi,
            cluster2=sample.person,
            fpc2=sample.f2,
            pps="brewer",
            lonely_psu=LONELY,
        ),
        "B2c": SurveyDesign.from_arrays(
            weights=sample.weights,
            strata=certain,
            cluster=sample.school,
            fpc=sample.pi,
            cluster2=sample.person,
            fpc2=sample.f2,
            pps="brewer",
            lonely_psu=LONELY,
        ),
    }


# ---- the simulation ------------------------------------------------------------------------
KEYS = ("theta", *GROUPS)
ENGINE_DESIGNS = ("WR", "B1", "B2", "B2c", "B2s")
CHECK_EVERY = 50  # every 50th replicate is also run through evaluate_recognition


def linearised(
    groups: np.ndarray,
    weights: np.ndarray,
    recognised: np.ndarray,
    policy: dict,
    separately: tuple = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates (θ, then each group of ``policy`` in order), per-row linearised scores
    (rows, 1 + groups) and rows per estimate.

    A group's rate is the ratio Σ w·recognised / Σ w·answered over its rows (R
    ``svyratio`` on the domain): score w·(y − p̂·x)/Σ w·x on the group's rows, 0
    elsewhere; θ's score is Σ a_g × the group scores (R ``svycontrast``) over the
    groups not in ``separately`` (their variance is added apart, as the platform does).
    """
    x = np.count_nonzero(~np.isnan(recognised), axis=1).astype(float)
    y = np.nansum(recognised, axis=1)
    w = weights
    scores = np.zeros((w.size, 1 + len(policy)))
    est = np.zeros(1 + len(policy))
    n = np.zeros(1 + len(policy))
    for j, g in enumerate(policy, start=1):
        rows = groups == g
        den = float(np.sum(w[rows] * x[rows]))
        p = float(np.sum(w[rows] * y[rows])) / den
        scores[rows, j] = w[rows] * (y[rows] - p * x[rows]) / den
        est[j], n[j] = p, float(np.count_nonzero(rows))
        if g not in separately:
            scores[:, 0] += policy[g] * scores[:, j]
        est[0] += policy[g] * p
    n[0] = n[1:].sum()
    return est, scores, n


def second_stage_by_group(
    school: np.ndarray,
    groups: np.ndarray,
    person: np.ndarray,
    weights: np.ndarray,
    big_m: np.ndarray,
) -> SurveyDesign:
    """The within-school variance with the groups as second-stage strata: one stage,
    strata = school × group, each respondent a unit, fpc = M; fed with √π × scores it
    gives Σ_i π_i Σ_g (1 − m/M)·m/(m − 1)·Σ_j (z_j − z̄_ig)² (R: ``strata=~stratum+cell``)."""
    cell = np.array([f"{s}|{g}" for s, g in zip(school, groups, strict=True)], dtype=object)
    return SurveyDesign.from_arrays(
        weights=weights,
        strata=cell,
        cluster=person,
        fpc=big_m,
        lonely_psu=LONELY,
    )


def simulate(county: County, reps: int) -> dict:
    """Per design: (reps, 4 estimates, [est, se, n, df]) and the share with a caveat."""
    designs_all = (*ENGINE_DESIGNS, "B2s")
    values = {d: np.full((reps, len(KEYS), 4), np.nan) for d in designs_all}
    caveats = dict.fromkeys(designs_all, 0)
    checked = 0
    worst = 0.0
    for r in range(reps):
        sample = draw(county, r)
        est, scores, n = linearised(sample.groups, sample.weights, sample.recognised, POLICY)
        built = designs(sample)
        masks = [None] + [sample.groups == g for g in GROUPS]
        for d, design in built.items():
            var = np.diag(design.variance_of_totals(scores))
            df = [design.degrees_of_freedom(mask) for mask in masks]
            values[d][r] = np.column_stack([est, np.sqrt(var), n, df])
            caveats[d] += design.fpc_caveat is not None
        b1 = built["B1"]
        within = second_stage_by_group(
            sample.school, sample.groups, sample.person, sample.weights, sample.big_m
        )
        root_pi = np.sqrt(sample.pi)[:, None]
        var = np.diag(b1.variance_of_totals(scores) + within.variance_of_totals(scores * root_pi))
        values["B2s"][r] = np.column_stack([est, np.sqrt(var), n, values["B2"][r][:, 3]])
        if r % CHECK_EVERY == 0:
            for d, design in built.items():
                worst = max(worst, _engine_difference(design, sample, values[d][r]))
                checked += 1
    if worst > 1e-12:
        raise AssertionError(f"fast path differs from evaluate_recognition by {worst:.2e}")
    return {"values": values, "caveats": caveats, "checked": checked, "worst": worst}


def _engine_difference(design: SurveyDesign, sample: Sample, row: np.ndarray) -> float:
    """The largest difference between this script's (estimate, SE, n, df) and what the
    platform's ``evaluate_recognition`` reports for θ and the group rates."""
    report = evaluate_recognition(
        design, sample.groups, sample.recognised, ITEM_AREAS, rule=RULE, policy_weights=POLICY
    )
    worst = 0.0
    for j, k in enumerate(KEYS):
        e = report.county.score if k == "theta" else report.groups[k].rate
        ours = row[j]
        worst = max(
            worst,
            abs(e.estimate - ours[0]),
            abs(e.se - ours[1]),
            abs(e.n - ours[2]),
            abs(e.df - ours[3]),
        )
        lo, hi, _, _ = interval_arrays(
            ours[0],
            ours[1],
            ours[2],
            ours[3],
            method=RULE.method,
            level=1 - 2 * RULE.alpha,
            threshold=RULE.threshold,
            nchs=RULE.nchs,
        )
        worst = max(worst, abs(float(lo) - e.ci_low), abs(float(hi) - e.ci_high))
    return worst


def summarise(county: County, result: dict) -> dict[str, dict]:
    rows = {}
    for d, v in result["values"].items():
        row: dict = {}
        for j, k in enumerate(KEYS):
            est, se, n, df = v[:, j].T
            truth = county.theta if k == "theta" else county.true_rate[k]
            lo, hi, _, _ = interval_arrays(
                est,
                se,
                n,
                df,
                method=RULE.method,
                level=1 - 2 * RULE.alpha,
                threshold=RULE.threshold,
                nchs=RULE.nchs,
            )
            lo95, hi95, _, _ = interval_arrays(
                est, se, n, df, method=RULE.method, level=0.95, nchs=RULE.nchs
            )
            raw_lo, raw_hi, _, _ = interval_arrays(
                est, se, n, df, method=RULE.method, level=1 - 2 * RULE.alpha, nchs=False
            )
            sd = float(est.std(ddof=1))
            row[k] = {
                "capped": float(np.mean(raw_lo != lo)),
                "cov90_raw": float(np.mean((raw_lo <= truth) & (truth <= raw_hi))),
                "bias": float(est.mean() - truth),
                "sd": sd,
                "se": float(se.mean()),
                "ratio": float(np.sqrt(np.mean(se**2)) / sd),
                "cov90": float(np.mean((lo <= truth) & (truth <= hi))),
                "cov95": float(np.mean((lo95 <= truth) & (truth <= hi95))),
                "low_miss": float(np.mean(lo > truth)),
                "width": float(np.mean(hi - lo)),
                "df": float(np.mean(df)),
            }
            if k == "theta":  # the verdict as recognition._verdict gives it
                met = lo >= RULE.threshold
                not_met = ~met & (hi < RULE.threshold)
                row["verdict"] = {
                    "met": float(np.mean(met)),
                    "inconclusive": float(np.mean(~met & ~not_met)),
                    "not_met": float(np.mean(not_met)),
                }
        row["caveat"] = result["caveats"][d] / v.shape[0]
        rows[d] = row
    return rows


def describe(county: County) -> str:
    sc = county.scenario
    n_h = np.bincount(county.stratum, minlength=len(county.codes))
    pis = []
    certain = 0
    for h, code in enumerate(county.codes):
        pik = inclusion_probabilities(
            county.enrolment[county.stratum == h].astype(float), county.allocation[code]
        )
        certain += int(np.count_nonzero(pik >= 1 - 1e-6))
        pis.append(pik[pik > 0])
    pi = np.concatenate(pis)
    drawn = sum(county.allocation.values())
    f2 = {}
    for g in GROUPS:
        m = np.minimum(county.planned[g], county.population[g])
        f2[g] = float(
            np.sum(pi * m / county.population[g]) / np.sum(pi)
        )  # expected mean m/M of drawn
    rates = ", ".join(f"{g} {county.true_rate[g]:.4f}" for g in GROUPS)
    iccs = ", ".join(f"{g} {county.icc[g]:.3f}" for g in GROUPS)
    return (
        f"{sc.key}: {sc.text}\n"
        f"    {len(county.stratum)} schools (per stratum {n_h.tolist()}), enrolment median "
        f"{int(np.median(county.enrolment))}, max {int(county.enrolment.max())}; drawn {drawn} "
        f"({county.allocation}), certainties {certain}, mean π {pi.mean():.2f}\n"
        f"    m per school {county.planned}; mean m/M in drawn schools: "
        + ", ".join(f"{g} {f2[g]:.2f}" for g in GROUPS)
        + f"\n    truth: θ {county.theta:.4f} ({rates}); ICC {iccs}"
    )


def print_tables(county: County, rows: dict, reps: int) -> None:
    truth = county.theta
    print(describe(county))
    print(
        f"    county score θ (truth {truth:.4f}), {reps} replicates:\n"
        "    design                           bias     SD     SE  SE/SD cov90 cov95  lo>θ "
        "width90   met incon notmet  df capped cov90nocap caveat"
    )
    for d in DESIGNS:
        t = rows[d]["theta"]
        v = rows[d]["verdict"]
        print(
            f"    {d:<4}{DESIGN_TEXT[d]:<29}{t['bias']:+.4f} {t['sd']:.4f} {t['se']:.4f} "
            f"{t['ratio']:5.2f} {t['cov90']:.3f} {t['cov95']:.3f} {t['low_miss']:.3f} "
            f"{t['width']:.4f} {v['met']:.3f} {v['inconclusive']:.3f} {v['not_met']:.3f} "
            f"{t['df']:3.0f} {t['capped']:6.2f} {t['cov90_raw']:10.3f} {rows[d]['caveat']:6.2f}"
        )
    print("    groups: SE/SD and cov90 per design (" + ", ".join(DESIGNS) + ")")
    for g in GROUPS:
        parts = "   ".join(
            f"{d} {rows[d][g]['ratio']:.2f} {rows[d][g]['cov90']:.3f}" for d in DESIGNS
        )
        print(
            f"    {g:<8} (truth {county.true_rate[g]:.4f}, SD {rows['WR'][g]['sd']:.4f})  {parts}"
        )
    print()


# ---- the check against R -----------------------------------------------------------------
R_SCRIPT = r"""
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c(stratum = "character", psu = "character",
              resp = "character", cell = "character", group = "character"))
policy <- read.csv(args[2], colClasses = c(group = "character"))
designs <- list(
  WR = svydesign(ids = ~psu, strata = ~stratum, weights = ~w, fpc = ~fpc, data = d),
  # the open link's pi of 1e-300 (no fpc) makes R warn of a population over ten billion
  B1 = suppressWarnings(svydesign(ids = ~psu, strata = ~stratum, weights = ~w, fpc = ~pi,
                 pps = "brewer", data = d)),
  B2 = suppressWarnings(svydesign(ids = ~psu + resp, strata = ~stratum, weights = ~w,
                 fpc = ~pi + f2, pps = "brewer", data = d)),
  B2s = suppressWarnings(svydesign(ids = ~psu + resp, strata = ~stratum + cell, weights = ~w,
                 fpc = ~pi + f2, pps = "brewer", data = d))
)
# svyby(..., covmat = TRUE) fails on PPS designs in survey 4.1 (subset keeps every row),
# so the groups' joint covariance is svyratio(covmat = TRUE) of the groups' own totals on
# the whole design (as tests/reference/pps_reference.R does), and θ = Σ a_g p_g with
# Var = aᵀVa (what svycontrast computes)
out <- NULL
for (name in names(designs)) {
  des <- designs[[name]]
  by_group <- svyby(~rec, ~group, des, svyratio, denominator = ~ans)
  groups <- as.character(by_group$group)
  v <- des$variables
  for (g in groups) {
    v[[paste0("n_", g)]] <- ifelse(v$group == g, v$rec, 0)
    v[[paste0("d_", g)]] <- ifelse(v$group == g, v$ans, 0)
  }
  des$variables <- v
  joint <- svyratio(as.formula(paste0("~", paste0("n_", groups, collapse = "+"))),
                    as.formula(paste0("~", paste0("d_", groups, collapse = "+"))), des,
                    covmat = TRUE)
  pick <- (seq_along(groups) - 1) * length(groups) + seq_along(groups)
  rates <- as.vector(coef(joint))[pick]
  vcov_g <- unname(vcov(joint)[pick, pick])
  stopifnot(all.equal(rates, as.vector(coef(by_group)), tolerance = 1e-12),
            all.equal(sqrt(diag(vcov_g)), as.vector(SE(by_group)), tolerance = 1e-12))
  a <- policy$a[match(groups, policy$group)]
  out <- rbind(out, data.frame(design = name, what = c(paste0("rate:", groups), "theta"),
                               estimate = c(rates, sum(a * rates)),
                               se = c(sqrt(diag(vcov_g)), sqrt(drop(a %*% vcov_g %*% a)))))
  for (item in c("y1", "y5")) {
    if (name == "B2s") next
    d_num <- paste0(item, "_rec"); d_den <- paste0(item, "_ans")
    it <- svyby(as.formula(paste0("~", d_num)), ~group, des, svyratio,
                denominator = as.formula(paste0("~", d_den)))
    out <- rbind(out, data.frame(design = name, what = paste0(item, ":", it$group),
                                 estimate = as.numeric(coef(it)), se = as.numeric(SE(it))))
  }
  m <- svymean(~rec1, des)
  out <- rbind(out, data.frame(design = name, what = "mean:rec1", estimate = as.numeric(coef(m)),
                               se = as.numeric(SE(m))))
  out <- rbind(out, data.frame(design = name, what = "degf", estimate = degf(des), se = 0))
}
write.csv(out, args[3], row.names = FALSE)
"""


def check_r(county: County) -> int:
    """One replicate of ``county`` plus a deputies list and an open link, against R."""
    from analysis.estimators import mean

    sample = draw(county, 0)
    rng = np.random.default_rng(7)
    n = sample.weights.size
    # deputies: N = 200 on the list, 30 drawn at random (each a PSU of stratum
    # list-deputy, π = 30/200, one person per PSU so f2 = 1); residents: 40 from an
    # open link standing for 50,000 residents (no fpc: π tiny, f2 = 1)
    n_dep, big_n, n_res = 30, 200, 40
    extra_groups = np.array(["deputy"] * n_dep + ["resident"] * n_res, dtype=object)
    extra_rec = (rng.random((n_dep + n_res, N_ITEMS)) < 0.88).astype(float)
    extra_rec[rng.random(extra_rec.shape) < 0.06] = np.nan
    groups = np.concatenate([sample.groups, extra_groups])
    strata = np.concatenate(
        [sample.strata, np.array(["list-deputy"] * n_dep + ["area-1"] * n_res, dtype=object)]
    )
    school_ids = np.array([f"s{int(s):05d}" for s in sample.school], dtype=object)
    psu = np.concatenate(
        [school_ids, np.array([f"r{i:05d}" for i in range(n_dep + n_res)], dtype=object)]
    )
    resp = np.array([f"p{i:07d}" for i in range(n + n_dep + n_res)], dtype=object)
    weights = np.concatenate(
        [sample.weights, np.full(n_dep, big_n / n_dep), np.full(n_res, 50_000 / n_res)]
    )
    big_m = np.concatenate([sample.big_m, np.ones(n_dep + n_res)])
    tiny = 1e-300  # an open link: no finite-population correction (1 − π == 1 exactly)
    pi = np.concatenate([sample.pi, np.full(n_dep, n_dep / big_n), np.full(n_res, tiny)])
    f2 = np.concatenate([sample.f2, np.ones(n_dep + n_res)])
    fpc_wr = np.concatenate(
        [np.full(n, np.inf), np.full(n_dep, float(big_n)), np.full(n_res, np.inf)]
    )
    rec = np.vstack([sample.recognised, extra_rec])
    # R pairs π with the PSUs by row order: sort rows by stratum, PSU, respondent
    order = np.lexsort((resp, psu, strata))
    groups, strata, psu, resp = groups[order], strata[order], psu[order], resp[order]
    weights, pi, f2, fpc_wr, rec = weights[order], pi[order], f2[order], fpc_wr[order], rec[order]
    big_m = big_m[order]
    cell = np.array([f"{p}|{g}" for p, g in zip(psu, groups, strict=True)], dtype=object)
    ours = {
        "WR": SurveyDesign.from_arrays(
            weights=weights, strata=strata, cluster=psu, fpc=fpc_wr, lonely_psu=LONELY
        ),
        "B1": SurveyDesign.from_arrays(
            weights=weights, strata=strata, cluster=psu, fpc=pi, pps="brewer", lonely_psu=LONELY
        ),
        "B2": SurveyDesign.from_arrays(
            weights=weights,
            strata=strata,
            cluster=psu,
            fpc=pi,
            cluster2=resp,
            fpc2=f2,
            pps="brewer",
            lonely_psu=LONELY,
        ),
    }
    all_groups = sorted(set(groups.tolist()))
    policy = default_policy_weights(all_groups)
    separately = ("deputy", "resident")
    py: dict[tuple[str, str], tuple[float, float]] = {}
    rec1 = np.nan_to_num(rec[:, 0])
    for name, design in ours.items():
        report = evaluate_recognition(
            design,
            groups,
            rec,
            ITEM_AREAS,
            items=[f"y{j + 1}" for j in range(N_ITEMS)],
            rule=RULE,
            policy_weights=policy,
            separately_drawn=separately,
        )
        for g in all_groups:
            r = report.groups[g]
            py[(name, f"rate:{g}")] = (r.rate.estimate, r.rate.se)
            for item in ("y1", "y5"):
                py[(name, f"{item}:{g}")] = (r.items[item].estimate, r.items[item].se)
        py[(name, "theta")] = (report.county.score.estimate, report.county.score.se)
        m = mean(design, rec1)
        py[(name, "mean:rec1")] = (m.estimate, m.se)
        py[(name, "degf")] = (float(design.degrees_of_freedom()), 0.0)
    # B2s: Brewer's first stage + the second stage with the groups as strata in each school
    est, scores, _ = linearised(groups, weights, rec, policy, separately)
    within = second_stage_by_group(psu, groups, resp, weights, big_m)
    v = ours["B1"].variance_of_totals(scores) + within.variance_of_totals(
        scores * np.sqrt(pi)[:, None]
    )
    var = np.diag(v).copy()
    var[0] += sum(policy[g] ** 2 * var[1 + j] for j, g in enumerate(policy) if g in separately)
    for j, g in enumerate(policy):
        py[("B2s", f"rate:{g}")] = (est[1 + j], math.sqrt(var[1 + j]))
    py[("B2s", "theta")] = (est[0], math.sqrt(var[0]))
    v_mean = ours["B1"].variance_of_totals(
        weights * (rec1 - np.sum(weights * rec1) / weights.sum()) / weights.sum()
    ) + within.variance_of_totals(
        np.sqrt(pi) * weights * (rec1 - np.sum(weights * rec1) / weights.sum()) / weights.sum()
    )
    py[("B2s", "mean:rec1")] = (float(np.sum(weights * rec1) / weights.sum()), math.sqrt(v_mean))
    py[("B2s", "degf")] = py[("B2", "degf")]
    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "replicate.csv")
        answered = ~np.isnan(rec)
        with open(data_path, "w", encoding="utf-8") as fh:
            head = [
                "stratum",
                "psu",
                "resp",
                "cell",
                "group",
                "w",
                "pi",
                "f2",
                "fpc",
                "rec",
                "ans",
                "rec1",
            ]
            head += [f"y{j}_{k}" for j in (1, 5) for k in ("rec", "ans")]
            fh.write(",".join(head) + "\n")
            for i in range(groups.size):
                cells = [
                    strata[i],
                    psu[i],
                    resp[i],
                    cell[i],
                    groups[i],
                    repr(float(weights[i])),
                    repr(float(pi[i])),
                    repr(float(f2[i])),
                    "Inf" if np.isinf(fpc_wr[i]) else repr(float(fpc_wr[i])),
                    repr(float(np.nansum(rec[i]))),
                    repr(float(answered[i].sum())),
                    repr(float(rec1[i])),
                ]
                for j in (0, 4):
                    cells += [repr(float(np.nan_to_num(rec[i, j]))), repr(float(answered[i, j]))]
                fh.write(",".join(map(str, cells)) + "\n")
        policy_path = os.path.join(tmp, "policy.csv")
        with open(policy_path, "w", encoding="utf-8") as fh:
            fh.write("group,a\n" + "".join(f"{g},{policy[g]!r}\n" for g in all_groups))
        script = os.path.join(tmp, "check.R")
        Path(script).write_text(R_SCRIPT, encoding="utf-8")
        out_path = os.path.join(tmp, "r.csv")
        run = subprocess.run(
            ["Rscript", script, data_path, policy_path, out_path], capture_output=True, text=True
        )
        if run.returncode != 0:
            print(run.stderr, file=sys.stderr)
            return 1
        import csv

        with open(out_path, encoding="utf-8") as fh:
            r_rows = list(csv.DictReader(fh))
    print(
        f"check against R (survey): scenario {county.scenario.key}, replicate 0, "
        f"{groups.size} rows, "
        f"{len(set(psu.tolist()))} PSUs, {len(set(strata.tolist()))} strata (schools' groups, "
        f"deputies from a list of {big_n}, residents from an open link); "
        f"certainty schools: {int(np.unique(psu[pi >= 1]).size)}"
    )
    worst = {d: [0.0, 0.0] for d in ("WR", "B1", "B2", "B2s")}
    compared = 0
    for row in r_rows:
        key = (row["design"], row["what"])
        est, se = py[key]
        de = abs(est - float(row["estimate"]))
        ds = abs(se - float(row["se"]))
        worst[row["design"]][0] = max(worst[row["design"]][0], de)
        worst[row["design"]][1] = max(worst[row["design"]][1], ds)
        compared += 1
    ok = True
    for name, (de, ds) in worst.items():
        theta_py = py[(name, "theta")]
        caveat = ours[name].fpc_caveat if name in ours else None
        print(
            f"    {name:<3} {DESIGN_TEXT[name]:<32} θ {theta_py[0]:.6f} SE {theta_py[1]:.6f}; "
            f"max |diff| estimate {de:.2e}, SE {ds:.2e}; caveat "
            f"{caveat.code if caveat else '-'}"
        )
        ok = ok and de < 1e-9 and ds < 1e-9
    same = max(
        abs(py[("WR", f"rate:{g}")][1] - py[(d, f"rate:{g}")][1])
        for g in separately
        for d in ("B1", "B2")
    )
    print(
        f"    deputies (π = m/N, f2 = 1) and residents (π = 1e-300, f2 = 1) under B1/B2 vs the "
        f"loader's fpc N / none: max |SE diff| {same:.1e}"
    )
    print(
        f"    {compared} figures compared (group rates, θ, items y1 and y5 by group, a mean, "
        "degf): " + ("agree to 1e-9" if ok else "DISAGREE")
    )
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=None, help="replicates per scenario (1000)")
    parser.add_argument("--quick", action="store_true", help="150 replicates per scenario")
    parser.add_argument("--scenarios", default=None, help="e.g. S1,S4 (default: all)")
    parser.add_argument("--check-r", action="store_true", help="one replicate against R, then stop")
    args = parser.parse_args()
    reps = args.reps or (150 if args.quick else 1000)
    chosen = [s for s in SCENARIOS if args.scenarios is None or s.key in args.scenarios.split(",")]
    if args.check_r:
        status = 0
        for sc in chosen if args.scenarios else (SCENARIOS[0], SCENARIOS[3]):
            status |= check_r(build_county(sc))
        return status
    started = time.perf_counter()
    print(
        f"design_choice: {reps} replicates per scenario; KG {1 - 2 * RULE.alpha:.0%} intervals "
        f"(NCHS cap), verdict vs {RULE.threshold}; policy weights {POLICY}\n"
    )
    for sc in chosen:
        t0 = time.perf_counter()
        county = build_county(sc)
        result = simulate(county, reps)
        print_tables(county, summarise(county, result), reps)
        print(f"    ({time.perf_counter() - t0:.1f} s)\n")
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
