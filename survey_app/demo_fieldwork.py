"""Simulated fieldwork: a drawn campaign filled with realistic answers, for demos.

The results page, its PDF and the benchmarks need answers to show; typing two thousand
questionnaires by hand is not a demo. :func:`simulate_fieldwork` makes ``n`` submitted
responses *the way phones make them*, through the platform's own services, so what is
stored is exactly what real fieldwork stores (and a change to those services shows up
here too):

* **Where.** The responses are spread over the plan's cells in proportion to what the
  plan calls for: each school in the field (drawn and not refused, or a substitute) with
  its quota per group (``PlanQuota.planned``; never more than the school has, M), the
  members drawn from each list (never more than were drawn), and each open link's
  residents (never past its quota: slots are taken with ``reserve_slot``, as a phone
  opening the link takes one). Students of a nine-year school are split between the
  primary and the junior questionnaire as their codes are when issued.
* **Who answers.** The plan's codes are issued first, as a supervisor issues them
  (``issue_planned_codes``: every school's and list's missing codes, kept in memory,
  since only their hashes are stored), and not all of them come back: each school has a
  turnout of its own (a group's usual turnout, :data:`TURNOUT`, shifted on the logit
  scale by a school effect of sd :data:`TURNOUT_SD` shared by its groups: an organised
  school brings every group in), so the responses are shared in proportion to planned
  codes × turnout, never past a cell's planned codes while the plan has room, and the
  fieldwork page's response rates differ between schools, groups and strata as in the
  field. Codes issued before (and not known here) stay as they are.
* **How.** Each simulated respondent takes one of those codes (or, past the plan, a
  fresh one from ``issue_codes``, ``issue_list_codes``) or a slot of an open link, opens it
  (``find_code``, ``claim_draft``), saves every screen (``save_draft``; in zh_Hans
  mostly, some in ug) and submits (``submit_response``) at a simulated moment inside
  the fieldwork window: the start times spread over the days the fieldwork has been
  open so far, mostly in the daytime, and the time taken is a realistic reading time
  (seconds per question with log-normal noise), so ``duration_seconds`` and
  ``submitted_minute`` look like the field's.
* **What.** Whether an answer is "recognised" follows a logistic model: each group has a
  recognition rate (most between 0.88 and 0.95; teachers and residents below the 85%
  threshold, so the verdict has something to say), shifted on the logit scale by a
  random school effect (sd 0.5, shared by every group of a school: the intra-school
  correlation the design effect is about; none for lists and open links), a respondent
  effect and an item effect. The group's logit is calibrated so that the rate averaged
  over these effects is about the group's rate. About 5% of answers are 不了解 (the
  scale's don't-know code); recognised answers are chosen among the scale's own
  recognised options (its ``recognised`` flags; the most favourable most often, e.g.
  满意 > 比较满意 > 基本满意), the others among its non-recognised ones.

* **Coaching** (``coached=K``, for demos of the integrity checks): K schools' groups of
  at least :data:`MIN_COACHED` planned responses answer as coached schools make them
  answer, one style after another (:data:`COACHING_STYLES`): *template*, three in five
  copy the school's "standard answers" (满意 everywhere but about two items 比较满意); *erased*,
  nobody answers below 比较满意 (a recognised answer is 满意 or 比较满意, never 基本满意,
  and 不满意 becomes 比较满意); *proxy*, a third of the codes are filled by one person in
  two ten-minute bursts at a fifth of the reading time, nearly the same answers each
  time. The rest of the campaign is as above.

Reproducible: the same campaign and seed give the same answers whatever ``now`` is
(the times come from a random stream of their own, so a longer window moves the times,
not the answers; turnout has a third), and with the same ``now`` the same times too
(the codes themselves are random, as every code is). Plain functions: they flush, the caller
commits.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np
from sqlalchemy import func, select

from analysis.allocation import allocate
from analysis.integrity.blocks import READING_SECONDS_PER_ITEM
from questionnaires import Item, Scale
from survey_app.extensions import db
from survey_app.models import Campaign, ListFrame, OpenLink, Response, School
from survey_app.models.base import as_utc
from survey_app.plan import code_batches, lists, second_stage
from survey_app.plan.draw import plan_of
from survey_app.plan.issuing import issue_codes, issue_list_codes
from survey_app.respond import open_links as respond_links
from survey_app.respond import services
from survey_app.vocabulary import STUDENT

MAX_RESPONSES = 200_000

# Recognition rate per group, averaged over schools, respondents and items.
GROUP_RATES = {
    "student": 0.94,
    "parent": 0.91,
    "teacher": 0.83,  # below the 85% threshold
    "principal": 0.95,
    "deputy": 0.93,
    "member": 0.90,
    "resident": 0.82,  # below the 85% threshold
}
# Share of 不了解 answers per group (about 5% over all).
DONT_KNOW = {
    "student": 0.04,
    "parent": 0.05,
    "teacher": 0.02,
    "principal": 0.01,
    "deputy": 0.04,
    "member": 0.05,
    "resident": 0.08,
}
SCHOOL_SD = 0.5  # random school (or area) effect, logit scale
RESPONDENT_SD = 0.6  # random respondent effect, logit scale
ITEM_SD = 0.3  # fixed item effects, logit scale (drawn once per seed)
# Share of a group's issued codes that come back at a school of average turnout; the
# school's own turnout is shifted by a normal effect of TURNOUT_SD on the logit scale.
TURNOUT = {
    "student": 0.93,  # answered in class
    "parent": 0.82,
    "teacher": 0.95,
    "principal": 0.98,
    "deputy": 0.78,
    "member": 0.74,
    "resident": 1.0,  # an open link: whoever opens it answers
}
TURNOUT_SD = 0.7
UYGHUR_SHARE = 0.12  # respondents answering in ug; the others in zh_Hans
COMMENT_SHARE = 0.04
COMMENTS = (
    "希望增加学生的体育活动时间。",
    "学校食堂的饭菜可以再改进。",
    "老师们很负责，谢谢！",
    "上学放学时校门口交通拥堵，希望改善。",
    "希望农村学校也能有更多音乐、美术老师。",
    "作业量比以前少了，孩子睡眠更充足。",
)
# Seconds a respondent spends per question (median), and on the welcome screen.
SECONDS_PER_ITEM = {"student": 14.0, "principal": 9.0, "teacher": 9.0}
DEFAULT_SECONDS_PER_ITEM = 11.0
WELCOME_SECONDS = 20.0


class FieldworkRefused(Exception):
    """The campaign cannot be filled as asked (the message says why, in one line)."""


@dataclass(frozen=True)
class Cell:
    """Where respondents come from: a school's group, a drawn list, or an open link;
    ``planned`` weights the share of responses, ``room`` caps it."""

    respondent_group: str
    planned: int
    room: int
    school: School | None = None
    frame: ListFrame | None = None
    link: OpenLink | None = None


@dataclass(frozen=True)
class FieldworkResult:
    responses: int
    per_group: dict[str, int]
    coached: tuple[tuple[str, str, str], ...] = ()  # (school code, group, style)


COACHING_STYLES = ("template", "erased", "proxy")
MIN_COACHED = 20  # a coached school's group has at least this many responses
TEMPLATE_SHARE = 0.6
PROXY_SHARE = 1 / 3
PROXY_SPEED = 0.2  # of the reading time


def planned_cells(campaign: Campaign) -> list[Cell]:
    """The plan's cells in a fixed order (schools in the field by school id and group,
    then lists, then open links), or :class:`FieldworkRefused` when nothing is drawn."""
    plan = plan_of(campaign)
    if plan is None:
        raise FieldworkRefused(f"campaign {campaign.key} has no drawn plan: draw it first")
    in_field = {row.school_id for row in plan.schools if row.in_field}
    cells = [
        Cell(quota.respondent_group, quota.planned, quota.population, school=quota.school)
        for quota in sorted(plan.quotas, key=lambda q: (q.school_id, q.respondent_group))
        if quota.school_id in in_field and quota.planned > 0
    ]
    for frame in lists.lists_of(campaign):
        drawn = len(frame.drawn_positions or [])
        if drawn:
            cells.append(Cell(frame.respondent_group, drawn, drawn, frame=frame))
    links = db.session.scalars(
        select(OpenLink)
        .where(OpenLink.campaign_id == campaign.id)
        .order_by(OpenLink.id)
        .execution_options(populate_existing=True)  # slots taken since: as stored now
    )
    for link in links:
        # Half of the free slots at most: the link stays open for real phones (the demo
        # prints it), and a link is seldom full before its window ends.
        room = 0 if link.closed else (link.quota - link.reserved) // 2
        if room > 0:
            cells.append(Cell(link.respondent_group, link.quota, room, link=link))
    return cells


def allocate_responses(
    cells: list[Cell], n: int, turnout: Sequence[float] | None = None
) -> list[int]:
    """``n`` responses over the cells in proportion to what each plans (times its
    ``turnout``, 1 if not given), none past its planned codes while the plan has room for
    ``n``, else none past its room: over the groups first, then over each group's cells
    (largest remainders, ``analysis.allocation``), so rounding in many small cells (a
    principal a school) does not move responses from one group to another."""
    room = sum(cell.room for cell in cells)
    if n > room:
        raise FieldworkRefused(f"the plan has room for {room} responses, not {n}")
    within_plan = [min(cell.planned, cell.room) for cell in cells]
    bound = within_plan if n <= sum(within_plan) else [cell.room for cell in cells]
    weight = [
        cell.planned * (1.0 if turnout is None else turnout[i]) for i, cell in enumerate(cells)
    ]
    groups = sorted({cell.respondent_group for cell in cells})
    members = {g: [i for i, c in enumerate(cells) if c.respondent_group == g] for g in groups}
    group_counts = allocate(
        n,
        [sum(bound[i] for i in members[g]) for g in groups],
        minimum=0,
        to=[sum(weight[i] for i in members[g]) for g in groups],
    )
    counts = [0] * len(cells)
    for group, total in zip(groups, group_counts, strict=True):
        shares = allocate(
            total,
            [bound[i] for i in members[group]],
            minimum=0,
            to=[weight[i] for i in members[group]],
        )
        for index, share in zip(members[group], shares, strict=True):
            counts[index] = share
    return counts


def simulate_fieldwork(
    campaign: Campaign,
    n: int,
    *,
    seed: int,
    now: datetime,
    items_per_page: int = 5,
    coached: int = 0,
) -> FieldworkResult:
    """Store ``n`` simulated responses in the campaign's plan (see the module's docstring);
    ``now`` ends the simulated fieldwork (the window's close if earlier); ``coached``
    schools' groups are coached."""
    if not 1 <= n <= MAX_RESPONSES:
        raise FieldworkRefused(f"the number of responses is 1 to {MAX_RESPONSES}")
    if campaign.status != "open":
        raise FieldworkRefused(f"campaign {campaign.key} is {campaign.status}, not open")
    window = _window(campaign, now)
    cells = planned_cells(campaign)
    answers, clock, turnout = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    counts = allocate_responses(cells, n, _turnout(cells, turnout))
    simulator = _Simulator(campaign, answers, clock, window, items_per_page)
    simulator.ready = _issue_the_plan(campaign, turnout)
    styles = _coached_cells(cells, counts, coached, answers)
    per_group: Counter[str] = Counter()
    for index, (cell, count) in enumerate(zip(cells, counts, strict=True)):
        if count:
            per_group[cell.respondent_group] += simulator.fill(cell, count, styles.get(index))
    found = tuple(
        (school.code, cells[i].respondent_group, style)
        for i, style in sorted(styles.items())
        if (school := cells[i].school) is not None
    )
    return FieldworkResult(sum(per_group.values()), dict(per_group), found)


def _turnout(cells: list[Cell], rng: np.random.Generator) -> list[float]:
    """Each cell's turnout: its group's, shifted by its school's effect (none for lists
    and open links, whose people share no school)."""
    effects: dict[int, float] = {}
    shares = []
    for cell in cells:
        effect = 0.0
        if cell.school is not None:
            if cell.school.id not in effects:
                effects[cell.school.id] = float(rng.normal(0.0, TURNOUT_SD))
            effect = effects[cell.school.id]
        base = TURNOUT.get(cell.respondent_group, 1.0)
        shares.append(1.0 if base >= 1 else _expit(_logit(base) + effect))
    return shares


def _issue_the_plan(
    campaign: Campaign, rng: np.random.Generator
) -> dict[tuple[int | None, str], list[str]]:
    """The plan's missing codes, issued as the codes page issues them, by cell (a school's
    group, or a list's group with no school), each cell's in random order."""
    try:
        issued = code_batches.issue_planned_codes(campaign, plan_of(campaign))
    except code_batches.NothingToIssue:
        return {}
    ready: dict[tuple[int | None, str], list[str]] = {}
    for slip in issued:
        key = (slip.school.id if slip.school is not None else None, slip.respondent_group)
        ready.setdefault(key, []).append(slip.code)
    return {key: [codes[i] for i in rng.permutation(len(codes))] for key, codes in ready.items()}


def _coached_cells(
    cells: list[Cell], counts: list[int], coached: int, rng: np.random.Generator
) -> dict[int, str]:
    """Which cells are coached, and how: schools' groups large enough, chosen at random,
    the styles in turn."""
    if coached <= 0:
        return {}
    eligible = [
        i
        for i, (cell, count) in enumerate(zip(cells, counts, strict=True))
        if cell.school is not None and count >= MIN_COACHED
    ]
    if coached > len(eligible):
        raise FieldworkRefused(
            f"only {len(eligible)} schools' groups get {MIN_COACHED} responses or more: "
            f"cannot coach {coached}"
        )
    chosen = sorted(rng.choice(eligible, size=coached, replace=False).tolist())
    return {i: COACHING_STYLES[k % len(COACHING_STYLES)] for k, i in enumerate(chosen)}


def responses_of(campaign: Campaign) -> int:
    counted = select(func.count()).where(Response.campaign_id == campaign.id)
    return int(db.session.scalar(counted) or 0)


def _window(campaign: Campaign, now: datetime) -> tuple[datetime, datetime]:
    opens = as_utc(campaign.opens_at)
    ends = min(as_utc(campaign.closes_at), now)
    if ends - opens < timedelta(hours=1):
        raise FieldworkRefused(f"the fieldwork of {campaign.key} has not started yet")
    return opens, ends


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _calibrated_logit(rate: float, sd: float) -> float:
    """The mean logit whose rate, averaged over normal effects of ``sd``, is ``rate``
    (the probit approximation: E[expit(μ + e)] ≈ expit(μ / √(1 + c²σ²)))."""
    c2 = (16 * math.sqrt(3) / (15 * math.pi)) ** 2
    return _logit(rate) * math.sqrt(1 + c2 * sd * sd)


class _Simulator:
    """The random state of one simulation: effects drawn once, respondents one by one;
    what they answer from ``rng``, when and how fast from ``clock`` (how many draws a
    start time takes depends on the window)."""

    def __init__(
        self,
        campaign: Campaign,
        rng: np.random.Generator,
        clock: np.random.Generator,
        window: tuple[datetime, datetime],
        items_per_page: int,
    ) -> None:
        self.campaign = campaign
        self.rng = rng
        self.clock = clock
        self.opens, self.ends = window
        self.items_per_page = items_per_page
        self.unit_effects: dict[tuple[str, int], float] = {}
        self.item_effects: dict[tuple[str, str], float] = {}
        # Codes issued for the plan and not answered yet, by (school id or None, group).
        self.ready: dict[tuple[int | None, str], list[str]] = {}
        total_sd = math.sqrt(SCHOOL_SD**2 + RESPONDENT_SD**2 + ITEM_SD**2)
        self.group_logits = {g: _calibrated_logit(r, total_sd) for g, r in GROUP_RATES.items()}

    def fill(self, cell: Cell, count: int, coaching: str | None = None) -> int:
        """``count`` respondents of one cell, each through one of the cell's issued codes
        (fresh ones past them); returns how many submitted (an open link may turn out
        fuller than read, by people answering now).  ``coaching``: one of
        :data:`COACHING_STYLES` (a school's group only)."""
        if cell.school is not None:
            unit = ("school", cell.school.id)
            codes = self._take((cell.school.id, cell.respondent_group), count)
            codes += self._school_codes(cell.school, cell.respondent_group, count - len(codes))
        elif cell.frame is not None:
            unit = ("list", cell.frame.id)
            codes = self._take((None, cell.respondent_group), count)
            if len(codes) < count:
                codes += issue_list_codes(
                    cell.frame, count - len(codes), expires_at=self.campaign.closes_at
                )
        else:
            assert cell.link is not None  # noqa: S101 - a cell is one of the three
            return self._fill_link(cell.link, count, ("link", cell.link.id))
        effect = self._unit_effect(unit)
        coach = (
            _Coach(coaching, self.rng, self.clock, self._start(), self._start())
            if coaching
            else None
        )
        for typed in codes:
            start = self._start()
            code = services.find_code(typed)  # the QR slip scanned
            style = coach.style_of_next() if coach is not None else None
            if style == "proxy":
                assert coach is not None  # noqa: S101 - a proxy is a coach's
                start = coach.burst_start()
            services.check_usable(code, start)
            self._answer(code, effect, start, coach=coach if style else None)
        return len(codes)

    def _take(self, key: tuple[int | None, str], count: int) -> list[str]:
        """Up to ``count`` of the cell's issued codes; the others stay unanswered."""
        ready = self.ready.get(key, [])
        taken, self.ready[key] = ready[:count], ready[count:]
        return taken

    def _school_codes(self, school: School, group: str, count: int) -> list[str]:
        """Codes as the plan's batches issue them: students of a nine-year school split
        between the primary and junior questionnaires (``code_batches``)."""
        levels: list[tuple[str | None, int]] = [(None, count)]
        if group == STUDENT and school.level == "nine_year":
            junior = round(count * second_stage.junior_share(school))
            levels = [("primary", count - junior), ("junior", junior)]
        codes: list[str] = []
        for level, k in levels:
            if k:
                codes += issue_codes(
                    school, group, k, reading_level=level, expires_at=self.campaign.closes_at
                )
        return codes

    def _fill_link(self, link: OpenLink, count: int, unit: tuple[str, int]) -> int:
        effect = self._unit_effect(unit)
        state = respond_links.find_link(link.token)
        done = 0
        for _index in range(count):
            start = self._start()
            try:
                code_id = respond_links.reserve_slot(state, start)
            except respond_links.LinkRefused:
                break  # full (real respondents hold slots) or closed: never past the quota
            code = services.usable_code(code_id, start)
            self._answer(code, effect, start, hold=respond_links.DEFAULT_HOLD)
            done += 1
        return done

    def _unit_effect(self, unit: tuple[str, int]) -> float:
        if unit not in self.unit_effects:
            # Schools only: a list's people share no place, and an open link's area is
            # often the only one of its group (one draw would move the whole group).
            sd = SCHOOL_SD if unit[0] == "school" else 0.0
            self.unit_effects[unit] = float(self.rng.normal(0.0, sd))
        return self.unit_effects[unit]

    def _start(self) -> datetime:
        """When a respondent opens the code: a day of the fieldwork so far, in the
        daytime mostly (07:00-22:00 China time)."""
        span = (self.ends - self.opens).total_seconds()
        days = max(1, math.ceil(span / 86_400))
        for _attempt in range(20):
            day = int(self.clock.integers(days))
            hour = float(self.clock.triangular(7, 19, 22)) - 8  # UTC+8 → UTC
            moment = self.opens.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
                days=day, hours=hour
            )
            if self.opens <= moment < self.ends - timedelta(minutes=30):
                return moment
        return self.opens + timedelta(seconds=float(self.clock.uniform(0, span - 1_800)))

    def _item_effect(self, questionnaire: str, item: Item) -> float:
        key = (questionnaire, item.id)
        if key not in self.item_effects:
            self.item_effects[key] = float(self.rng.normal(0.0, ITEM_SD))
        return self.item_effects[key]

    def _answer(
        self,
        code: services.CodeState,
        unit_effect: float,
        start: datetime,
        hold: timedelta | None = None,
        coach: _Coach | None = None,
    ) -> None:
        """One respondent with a code just opened: claim it, save each screen, submit
        (as ``coach`` makes them, if coached)."""
        group = code.respondent_group
        services.claim_draft(code, start)
        questionnaire = services.questionnaire_of(code)
        items = questionnaire.items_for(group)
        language = "ug" if self.rng.random() < UYGHUR_SHARE else "zh_Hans"
        person = self.group_logits[group] + unit_effect + float(self.rng.normal(0, RESPONDENT_SD))
        per_item = SECONDS_PER_ITEM.get(group, DEFAULT_SECONDS_PER_ITEM)
        # A proxy clicks through the whole questionnaire at a fifth of the reading time.
        pace = PROXY_SPEED if coach is not None and coach.style == "proxy" else 1.0
        if pace < 1:
            per_item = READING_SECONDS_PER_ITEM * pace  # the integrity checks' reading time
        welcome = WELCOME_SECONDS * float(self.clock.lognormal(0, 0.4))
        moment = start + timedelta(seconds=welcome * pace)
        pages = services.paginate(items, self.items_per_page)
        for number, page in enumerate(pages, start=1):
            answers = {
                item.id: self._choice(questionnaire.key, item, person, group) for item in page
            }
            if coach is not None:
                answers = coach.answers(items, answers)
            seconds = sum(per_item * float(self.clock.lognormal(0, 0.45)) for _item in page)
            moment += timedelta(seconds=seconds)
            comment = None
            last = number == len(pages)
            if last and language == "zh_Hans" and self.rng.random() < COMMENT_SHARE:
                comment = COMMENTS[int(self.rng.integers(len(COMMENTS)))]
                moment += timedelta(seconds=float(self.clock.uniform(20, 90)))
            services.save_draft(
                code, answers, moment, language=language, comment=comment, hold=hold
            )
        moment += timedelta(seconds=float(self.clock.uniform(3, 25)) * pace)  # the review screen
        services.submit_response(code.id, min(moment, self.ends - timedelta(seconds=1)), language)

    def _choice(self, questionnaire: str, item: Item, person: float, group: str) -> int:
        """An answer code: 不了解 at the group's rate, else recognised or not by the
        model, the option among the scale's own recognised (or other) options."""
        if self.rng.random() < DONT_KNOW[group]:
            return item.dont_know_code
        logit = person + self._item_effect(questionnaire, item)
        recognised = self.rng.random() < _expit(logit)
        codes, cumulative = _side(item.scale, recognised)
        return codes[bisect.bisect_right(cumulative, self.rng.random() * cumulative[-1])]


@lru_cache(maxsize=256)
def _side(scale: Scale, recognised: bool) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The codes of a scale's recognised (or other) options, most favourable first, and
    their cumulative weights: each half as likely as the one before (满意 > 比较满意 >
    基本满意; 不太满意 > 很不满意)."""
    codes = tuple(option.code for option in scale.options if option.recognised is recognised)
    if not codes:  # a scale without options on this side: the other side's
        codes = tuple(option.code for option in scale.options)
    return codes, tuple(itertools.accumulate(0.5**rank for rank in range(len(codes))))


class _Coach:
    """How a coached school's group answers (:data:`COACHING_STYLES`): decided once per
    group (its template, its two bursts), applied respondent by respondent."""

    def __init__(
        self,
        style: str,
        rng: np.random.Generator,
        clock: np.random.Generator,
        first: datetime,
        second: datetime,
    ) -> None:
        self.style = style
        self.rng = rng
        self.clock = clock
        self.bursts = (first, second)
        self.template: dict[str, int] = {}
        self.current: str | None = None

    def style_of_next(self) -> str | None:
        """The next respondent's part: coached as the group's style, or answering freely
        (template and proxy styles reach only a share of the group)."""
        share = {"template": TEMPLATE_SHARE, "proxy": PROXY_SHARE}.get(self.style, 1.0)
        self.current = self.style if self.rng.random() < share else None
        return self.current

    def burst_start(self) -> datetime:
        burst = self.bursts[int(self.clock.integers(2))]
        return burst + timedelta(seconds=float(self.clock.uniform(0, 600)))

    def answers(self, items: Sequence[Item], chosen: dict[str, int]) -> dict[str, int]:
        if self.current is None:
            return chosen
        if self.style == "erased":
            return {item: _raised(code) for item, code in chosen.items()}
        for item in items:  # the school's "standard answers", one per item it meets
            if item.id not in self.template:
                codes = sorted(o.code for o in item.scale.options)
                lowered = self.rng.random() < 2 / len(items)
                self.template[item.id] = codes[-2] if lowered else codes[-1]
        if self.style == "template":
            return {item: self.template[item] for item in chosen}
        # proxy: the same hand, an answer changed here and there
        return {
            item: (code if self.rng.random() < 0.1 else self.template[item])
            for item, code in chosen.items()
        }


def _raised(code: int) -> int:
    """Erased dissatisfaction on the 4-point scale: nothing below 比较满意 (3)."""
    return code if code == 0 or code >= 3 else 3
