"""One campaign's responses, read straight into the arrays ``analysis/`` takes.

A few narrow queries (responses, answers, the plan's π and populations, lists, open
links), no ORM object per row. What comes out is the design of the survey as drawn:

* **Schools' groups** (students, parents, teachers, principals): stratum = the school's
  stratum, PSU = the school. The weight is 1/π of the school (a substitute takes the
  π of the school it replaced, ``plan/changes.py``) × M/m, M the school's population
  of the group (``PlanQuota.population``) and m the group's responses at the school, so
  non-response within a school and group is adjusted there.
* **Lists** (deputies, members): stratum ``list-<group>``, each respondent a PSU of it,
  weight N/m and the finite-population correction N (the list's size).
* **Open links** (residents): stratum ``area-<slug>``, each respondent a PSU, weight =
  the area's residents / m (without a population: the group's county population shared
  over the links by quota, else 1), no fpc.

The first stage of the schools is taken **with replacement** (no fpc for school
strata): R's ``svydesign(ids=~psu, strata=~stratum, weights=~w, fpc=~fpc)`` with fpc
infinite there. It is the conservative, standard "ultimate cluster" variance: it
includes the second stage's variance and never understates it (statistics.md: a
first-stage-only fpc understates it badly at large sampling fractions).

Responses that are not in the plan (a school not drawn, a group without a quota there)
are **set aside**, counted by reason: they cannot be weighted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from questionnaires import Questionnaire, load_version
from survey_app.extensions import db
from survey_app.models import (
    Answer,
    Campaign,
    GroupPopulation,
    ListFrame,
    OpenLink,
    PlanQuota,
    PlanSchool,
    Response,
    SamplingPlan,
    School,
    Stratum,
)

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CampaignData:
    """Rows are responses kept for the analysis (in the order they were stored); columns
    of ``codes`` and ``recognised`` are items (``<questionnaire>.<item id>``): the option
    code answered (-1 not asked), and 1 recognised, 0 not, NaN for 不了解 or not asked."""

    groups: NDArray[Any]
    strata: NDArray[Any]
    psu: NDArray[Any]
    weights: FloatArray
    fpc: FloatArray  # N per row (inf: no correction)
    recognised: FloatArray
    codes: NDArray[np.int16]
    questionnaires: NDArray[Any]  # the questionnaire key answered, per row
    versions: NDArray[np.int32]  # and its version
    school_codes: NDArray[Any]  # 学校标识码, "" outside schools
    items: tuple[str, ...]
    item_areas: tuple[str, ...]
    item_versions: tuple[tuple[str, int], ...]  # the questionnaire version naming each item
    locations: NDArray[Any]  # the school's location, "" outside schools
    school_levels: NDArray[Any]  # the school's level, "" outside schools
    separately_drawn: tuple[str, ...]  # groups in strata of their own (lists, links)
    set_aside: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.weights.shape[0])


def load_campaign(campaign: Campaign) -> CampaignData:
    """The campaign's responses with their weights (see the module's docstring)."""
    responses = db.session.execute(
        select(
            Response.id,
            Response.respondent_group,
            Response.school_id,
            Response.stratum_id,
            Response.questionnaire_key,
            Response.questionnaire_version,
            School.code.label("school_code"),
        )
        .outerjoin(School, School.id == Response.school_id)
        .where(Response.campaign_id == campaign.id)
        .order_by(Response.id)
    ).all()
    strata = {
        row.id: row
        for row in db.session.execute(
            select(
                Stratum.id, Stratum.code, Stratum.kind, Stratum.location, Stratum.school_level
            ).where(Stratum.campaign_id == campaign.id)
        )
    }
    cells = _Cells.build(campaign, strata)
    keep: list[int] = []
    set_aside: Counter[str] = Counter()
    counts: Counter[tuple[object, str]] = Counter()
    for index, row in enumerate(responses):
        unit = cells.unit_of(row.school_id, row.stratum_id, row.respondent_group)
        if isinstance(unit, str):
            set_aside[unit] += 1
            continue
        keep.append(index)
        counts[(unit, row.respondent_group)] += 1
    kept = [responses[i] for i in keep]
    weights = np.array([cells.weight(row, counts) for row in kept], dtype=np.float64)
    codes, recognised, items, areas, sources = _answers(campaign, kept)
    stratum_rows = [strata[row.stratum_id] for row in kept]
    return CampaignData(
        groups=np.array([row.respondent_group for row in kept], dtype=object),
        strata=np.array([s.code for s in stratum_rows], dtype=object),
        psu=np.array(
            [f"school-{r.school_id}" if r.school_id else f"response-{r.id}" for r in kept],
            dtype=object,
        ),
        weights=weights,
        fpc=np.array([cells.fpc(row) for row in kept], dtype=np.float64),
        recognised=recognised,
        codes=codes,
        questionnaires=np.array([row.questionnaire_key for row in kept], dtype=object),
        versions=np.array([row.questionnaire_version for row in kept], dtype=np.int32),
        school_codes=np.array([row.school_code or "" for row in kept], dtype=object),
        items=items,
        item_areas=areas,
        item_versions=sources,
        locations=np.array([s.location or "" for s in stratum_rows], dtype=object),
        school_levels=np.array([s.school_level or "" for s in stratum_rows], dtype=object),
        separately_drawn=tuple(
            sorted({row.respondent_group for row in kept if row.school_id is None})
        ),
        set_aside=dict(set_aside),
    )


@dataclass
class _Cells:
    """What the plan says about each sampling cell: π and M of school groups, the lists'
    sizes and the links' populations."""

    pi: dict[int, float]  # school id → π (a substitute: its refused school's)
    population: dict[tuple[int, str], int]  # (school id, group) → M
    list_size: dict[int, int]  # stratum id → N
    area_population: dict[int, float]  # stratum id → residents the link stands for
    kinds: dict[int, str]  # stratum id → school, list, area

    @classmethod
    def build(cls, campaign: Campaign, strata: dict[int, Any]) -> _Cells:
        plan_id = db.session.scalar(
            select(SamplingPlan.id).where(SamplingPlan.campaign_id == campaign.id)
        )
        pi: dict[int, float] = {}
        population: dict[tuple[int, str], int] = {}
        if plan_id is not None:
            rows = db.session.execute(
                select(
                    PlanSchool.id,
                    PlanSchool.school_id,
                    PlanSchool.inclusion_probability,
                    PlanSchool.selected,
                    PlanSchool.refused,
                    PlanSchool.substitute_for_id,
                ).where(PlanSchool.plan_id == plan_id)
            ).all()
            by_row = {row.id: row for row in rows}
            for row in rows:
                if row.substitute_for_id is not None:
                    pi[row.school_id] = by_row[row.substitute_for_id].inclusion_probability
                elif row.selected and not row.refused:
                    pi[row.school_id] = row.inclusion_probability
            population = {
                (school_id, group): int(m)
                for school_id, group, m in db.session.execute(
                    select(
                        PlanQuota.school_id, PlanQuota.respondent_group, PlanQuota.population
                    ).where(PlanQuota.plan_id == plan_id)
                )
            }
        list_size = {
            stratum_id: int(size)
            for stratum_id, size in db.session.execute(
                select(ListFrame.stratum_id, ListFrame.list_size).where(
                    ListFrame.campaign_id == campaign.id
                )
            )
        }
        return cls(
            pi=pi,
            population=population,
            list_size=list_size,
            area_population=_area_populations(campaign),
            kinds={stratum_id: row.kind for stratum_id, row in strata.items()},
        )

    def unit_of(self, school_id: int | None, stratum_id: int, group: str) -> object:
        """The weighting cell's key, or why the response is set aside (a str)."""
        if school_id is not None:
            if school_id not in self.pi:
                return "school_not_in_plan"
            if (school_id, group) not in self.population:
                return "group_not_planned_at_school"
            return school_id
        kind = self.kinds.get(stratum_id)
        if kind == "list" and stratum_id in self.list_size:
            return ("list", stratum_id)
        if kind == "area":
            return ("area", stratum_id)
        return "not_in_plan"

    def weight(self, row: Any, counts: Counter[tuple[object, str]]) -> float:
        group = row.respondent_group
        if row.school_id is not None:
            m = counts[(row.school_id, group)]
            return float(self.population[(row.school_id, group)]) / m / self.pi[row.school_id]
        if self.kinds[row.stratum_id] == "list":
            return self.list_size[row.stratum_id] / counts[(("list", row.stratum_id), group)]
        m = counts[(("area", row.stratum_id), group)]
        return self.area_population.get(row.stratum_id, float(m)) / m

    def fpc(self, row: Any) -> float:
        if row.school_id is None and self.kinds[row.stratum_id] == "list":
            return float(self.list_size[row.stratum_id])
        return float("inf")


def _area_populations(campaign: Campaign) -> dict[int, float]:
    """Residents each open link stands for: its own population, else the residents of
    the county shared over the links in proportion to their quotas."""
    links = db.session.execute(
        select(OpenLink.stratum_id, OpenLink.population, OpenLink.quota).where(
            OpenLink.campaign_id == campaign.id
        )
    ).all()
    residents = db.session.scalar(
        select(GroupPopulation.population).where(
            GroupPopulation.campaign_id == campaign.id,
            GroupPopulation.respondent_group == "resident",
        )
    )
    total_quota = sum(link.quota for link in links)
    shares: dict[int, float] = {}
    for link in links:
        if link.population is not None:
            shares[link.stratum_id] = float(link.population)
        elif residents and total_quota:
            shares[link.stratum_id] = residents * link.quota / total_quota
    return shares


def _answers(
    campaign: Campaign, kept: list[Any]
) -> tuple[
    NDArray[np.int16], FloatArray, tuple[str, ...], tuple[str, ...], tuple[tuple[str, int], ...]
]:
    """The answered codes (rows × items, one query of the campaign's answers) and what
    each means for recognition, read from each row's questionnaire version."""
    versions = sorted({(row.questionnaire_key, row.questionnaire_version) for row in kept})
    loaded: dict[tuple[str, int], Questionnaire] = {v: load_version(*v) for v in versions}
    columns: dict[tuple[str, str], int] = {}
    areas: list[str] = []
    sources: list[tuple[str, int]] = []
    for version, questionnaire in loaded.items():
        for item in questionnaire.items:
            key = (questionnaire.key, item.id)
            if key not in columns:
                columns[key] = len(columns)
                areas.append(item.area)
                sources.append(version)
    row_of = {row.id: index for index, row in enumerate(kept)}
    key_of = {row.id: row.questionnaire_key for row in kept}
    codes = np.full((len(kept), len(columns)), -1, dtype=np.int16)
    answers = db.session.execute(
        select(Answer.response_id, Answer.item_id, Answer.value).where(
            Answer.campaign_id == campaign.id
        )
    )
    for response_id, item_id, value in answers:
        found = row_of.get(response_id)
        if found is None:
            continue
        position = columns.get((key_of[response_id], item_id))
        if position is not None and 0 <= value < 2**15:
            codes[found, position] = value
    recognised = np.full(codes.shape, np.nan)
    number_of = {version: number for number, version in enumerate(versions)}
    by_version = np.fromiter(
        (number_of[(r.questionnaire_key, r.questionnaire_version)] for r in kept),
        dtype=np.intp,
        count=len(kept),
    )
    for number, version in enumerate(versions):
        rows = np.flatnonzero(by_version == number)
        table = _meaning(loaded[version], columns)
        sub = codes[rows]
        known = (sub >= 0) & (sub < table.shape[1])
        meaning = np.full(sub.shape, np.nan)
        column_index = np.broadcast_to(np.arange(sub.shape[1]), sub.shape)
        meaning[known] = table[column_index[known], sub[known]]
        recognised[rows] = meaning
    items = tuple(f"{key}.{item_id}" for key, item_id in columns)
    return codes, recognised, items, tuple(areas), tuple(sources)


def _meaning(questionnaire: Questionnaire, columns: dict[tuple[str, str], int]) -> FloatArray:
    """[column, code] → 1 recognised, 0 not, NaN 不了解 or not one of the item's codes."""
    top = max((code for item in questionnaire.items for code in item.scale.codes), default=0)
    table = np.full((len(columns), top + 1), np.nan)
    for item in questionnaire.items:
        column = columns[(questionnaire.key, item.id)]
        for option in item.scale.options:
            table[column, option.code] = 1.0 if option.recognised else 0.0
    return table
