"""One campaign's responses, read straight into the arrays ``analysis/`` takes.

A few narrow queries (responses, the plan's π and populations, lists, open links), no
ORM object per row. Each response's answers come packed in one column
(``answer_codes.py``); on PostgreSQL a campaign's responses come as one byte string of
fixed-size records per group and questionnaire version, read by numpy as they are (a
million responses in about a second); the long answer table is read only for responses
stored before answers were packed. What comes out is the design of the survey as drawn:

* **Schools' groups** (students, parents, teachers, principals): stratum = the school's
  stratum, PSU = the school. The weight is 1/π of the school (a substitute takes the
  π of the school it replaced, ``plan/changes.py``) × M/m, M the school's population
  of the group (``PlanQuota.population``) and m the group's responses at the school, so
  non-response within a school and group is adjusted there.
* **Lists** (deputies, members): stratum ``list-<group>``, each respondent a PSU of it,
  weight N/m (N the list's size).
* **Open links** (residents): stratum ``area-<slug>``, each respondent a PSU, weight =
  the area's residents / m (without a population: the group's county population shared
  over the links by quota, else 1), no fpc.

The design is the draw as it is made: the schools' first stage **πps without
replacement with Brewer's approximation** and the respondents as a second stage, R's
``svydesign(ids=~psu+resp, strata=~stratum, weights=~w, fpc=~pi+f2, pps="brewer")``
with ``options(survey.lonely.psu="adjust")``. Each row carries its PSU's first-stage
inclusion probability ``pi`` and its second-stage sampling fraction ``f2``:

* schools' groups: ``pi`` = π of the school (the refused school's for a substitute;
  1 for a certainty), ``f2`` = m/M of the row's group at the school;
* lists: ``pi`` = m/N (each respondent a PSU: Brewer's 1 − π is the list's own fpc
  1 − m/N, the same SE as a finite-population correction N), ``f2`` = 1;
* open links: ``pi`` = 1e-300 (no frame, no fpc: 1 − π is exactly 1), ``f2`` = 1.

Both are fractions: with ``pps="brewer"`` R and ``SurveyDesign.from_arrays`` refuse an
fpc above 1, so a cell with more responses than its population (M or N out of date) is
taken as a census of it (fraction 1).

Why (``bench/design_choice.py``, figures in bench/README.md, 1,000 simulated draws in
each of seven counties): the with-replacement ("ultimate cluster") first stage the
loader used before overstates the SE 1.3–1.8× wherever many of a stratum's schools are
drawn (two thirds, or a census) and so left 19–24 percentage points more of those
counties "inconclusive"; Brewer without the second stage understates it badly (SE/SD
0.21 at π ≈ 0.65, 0 for a census); Brewer with the second stage is calibrated
everywhere, SE/SD 0.97–1.02 from 9% of the schools drawn to a census.

Responses that are not in the plan (a school not drawn, a group without a quota there)
are **set aside**, counted by reason: they cannot be weighted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select, text

from analysis.levels import Factor
from analysis.recognition_tables import AnswerBlock, AnswerPositions
from questionnaires import Questionnaire, load_version
from survey_app import answer_codes
from survey_app.extensions import db
from survey_app.models import (
    Answer,
    Campaign,
    GroupPopulation,
    IntegrityDecision,
    ListFrame,
    OpenLink,
    PlanQuota,
    PlanSchool,
    Response,
    SamplingPlan,
    School,
    Stratum,
)
from survey_app.vocabulary import RESPONDENT_GROUPS

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CampaignData:
    """Rows are responses kept for the analysis (in the order they were stored); columns
    of ``codes`` and ``recognised`` are items (``<questionnaire>.<item id>``): the option
    code answered (-1 not asked), and 1 recognised, 0 not, NaN for 不了解 or not asked.

    Label columns are held coded, a row's index into a small table (its group among
    ``RESPONDENT_GROUPS``, its stratum among the campaign's, ...): the analysis takes
    them as :class:`Factor`; the label arrays (``groups``, ``strata``, ...) of a million
    strings are built only when a page or an export asks for them."""

    group_index: NDArray[np.intp]  # into RESPONDENT_GROUPS
    stratum_index: NDArray[np.intp]  # into the next three (the campaign's strata)
    stratum_codes: NDArray[Any]
    stratum_locations: NDArray[Any]  # "" for a stratum outside schools
    stratum_levels: NDArray[Any]
    psu: NDArray[Any]
    weights: FloatArray
    pi: FloatArray  # the row's PSU's first-stage inclusion probability (see above)
    f2: FloatArray  # the row's second-stage sampling fraction within its PSU
    positions: AnswerPositions  # where the recognised, not recognised and NaN answers lie
    answers: PackedAnswers  # the codes, compact: ``codes`` unpacks them when asked
    version_index: NDArray[np.intp]  # into version_keys
    version_keys: tuple[tuple[str, int], ...]  # (questionnaire key, version)
    school_index: NDArray[np.intp]  # into school_code_table
    school_code_table: NDArray[Any]  # 学校标识码, "" outside schools
    items: tuple[str, ...]
    item_areas: tuple[str, ...]
    item_versions: tuple[tuple[str, int], ...]  # the questionnaire version naming each item
    durations: FloatArray  # seconds from opening the code to submitting (NaN: unknown)
    submitted_minutes: FloatArray  # the minute each was submitted, minutes since 1970 (UTC)
    separately_drawn: tuple[str, ...]  # groups in strata of their own (lists, links)
    set_aside: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.weights.shape[0])

    @property
    def cut_by_decisions(self) -> bool:
        """Whether a person's integrity decision left any response out."""
        return "integrity_decision" in self.set_aside

    @property
    def group_factor(self) -> Factor:
        return Factor(self.group_index, _GROUP_NAMES)

    @property
    def stratum_factor(self) -> Factor:
        return Factor(self.stratum_index, self.stratum_codes)

    @cached_property
    def groups(self) -> NDArray[Any]:
        return _GROUP_NAMES[self.group_index]

    @cached_property
    def strata(self) -> NDArray[Any]:
        return self.stratum_codes[self.stratum_index]

    @cached_property
    def locations(self) -> NDArray[Any]:
        """The school's location, "" outside schools."""
        return self.stratum_locations[self.stratum_index]

    @cached_property
    def school_levels(self) -> NDArray[Any]:
        """The school's level, "" outside schools."""
        return self.stratum_levels[self.stratum_index]

    @cached_property
    def school_codes(self) -> NDArray[Any]:
        """学校标识码, "" outside schools."""
        return self.school_code_table[self.school_index]

    @cached_property
    def questionnaires(self) -> NDArray[Any]:
        """The questionnaire key answered, per row."""
        keys = np.array([key for key, _v in self.version_keys], dtype=object)
        return keys[self.version_index]

    @cached_property
    def versions(self) -> NDArray[np.int32]:
        """And its version."""
        return np.array([v for _k, v in self.version_keys], dtype=np.int32)[self.version_index]

    @cached_property
    def recognised(self) -> FloatArray:
        """rows × items: 1 recognised, 0 not, NaN for 不了解 or not asked (the analysis
        reads ``positions``; this matrix is built only when asked for)."""
        return self.positions.dense()

    @cached_property
    def codes(self) -> NDArray[np.int16]:
        """rows × items: the option code answered, -1 where the item was not asked (the
        exports'; the analysis needs only ``recognised``)."""
        return self.answers.unpack(len(self.items))


@dataclass(frozen=True)
class PackedAnswers:
    """Each row's answers as stored, one byte per item of its questionnaire version
    (``answer_codes.py``): ``packed[row, :len(columns[layout[row]])]``, where
    ``columns[v]`` are the item columns of version ``v``'s items, in order."""

    packed: NDArray[np.uint8]
    layout: NDArray[np.intp]
    columns: tuple[NDArray[np.intp], ...]

    def unpack(self, n_items: int) -> NDArray[np.int16]:
        codes = np.full((self.layout.size, n_items), -1, dtype=np.int16)
        for number, at in enumerate(self.columns):
            rows = np.flatnonzero(self.layout == number)
            block = self.packed[rows, : at.size]
            chosen = block.astype(np.int16)
            chosen[block == answer_codes.NOT_ASKED] = -1
            codes[rows[:, None], at] = chosen
        return codes


@dataclass(frozen=True)
class CellCut:
    """One school's group whose responses submitted up to the minute ``until`` (minutes
    since 1970, UTC; infinity: all of them) are left out of the analysis."""

    school_id: int
    group: str
    until: float = math.inf


def decided_cuts(campaign: Campaign) -> tuple[CellCut, ...]:
    """The cells a person set aside, or chose to survey again (``models/integrity.py``):
    their responses up to the decision."""
    rows = db.session.execute(
        select(
            IntegrityDecision.school_id,
            IntegrityDecision.respondent_group,
            IntegrityDecision.decided_at,
        ).where(
            IntegrityDecision.campaign_id == campaign.id,
            IntegrityDecision.decision.in_(_CUTTING_DECISIONS),
        )
    )
    return tuple(CellCut(school, group, math.floor(_minutes(at))) for school, group, at in rows)


@dataclass(frozen=True, eq=False)
class StoredCampaign:
    """A campaign's responses and plan as read at one moment: every cut of it
    (:func:`load_campaign`'s ``stored``) comes from the same responses, so the verdicts a
    page puts side by side differ only by what was cut, and the database is read once."""

    stored: _Stored
    strata: _Strata
    cells: _Cells
    unit: NDArray[np.int64]
    reason: NDArray[np.intp]  # why set aside before any cut (0: kept)


def read_campaign(campaign: Campaign) -> StoredCampaign:
    stored = _Stored.read(campaign)
    strata = _Strata.read(campaign)
    cells = _Cells.build(campaign, strata)
    unit, reason = cells.units(stored, strata)
    return StoredCampaign(stored, strata, cells, unit, reason)


def load_campaign(
    campaign: Campaign,
    cuts: Sequence[CellCut] | None = None,
    stored_campaign: StoredCampaign | None = None,
) -> CampaignData:
    """The campaign's responses with their weights (see the module's docstring), without
    the cells cut: by default those of a person's integrity decisions
    (:func:`decided_cuts`); ``cuts=()`` keeps every response in the plan.
    ``stored_campaign``: the campaign as :func:`read_campaign` read it (else read now)."""
    if stored_campaign is None:
        stored_campaign = read_campaign(campaign)
    stored, strata, cells = stored_campaign.stored, stored_campaign.strata, stored_campaign.cells
    unit, reason = stored_campaign.unit, stored_campaign.reason.copy()
    _cut(stored, reason, decided_cuts(campaign) if cuts is None else cuts)
    set_aside = {
        name: int(np.count_nonzero(reason == code))
        for code, name in enumerate(SET_ASIDE_REASONS, start=1)
        if np.any(reason == code)
    }
    kept = stored.take(np.flatnonzero(reason == 0))
    unit = unit[reason == 0]
    # m: the responses of each weighting cell (a school's group, a list, an area's group).
    _cells, cell_of, m = np.unique(
        unit * len(RESPONDENT_GROUPS) + kept.group, return_inverse=True, return_counts=True
    )
    responded = m[cell_of].astype(np.float64)
    stratum = strata.position(kept.stratum)
    school = cells.position(kept.school)  # each row's school in the plan's tables
    school_pi = cells.pi_at(school)
    school_m = cells.population_at(school, kept.group)
    at_school = kept.school != 0
    is_list = ~at_school & (strata.kind[stratum] == _LIST)
    weights = np.where(
        at_school,
        school_m / school_pi,
        np.where(is_list, strata.list_size[stratum], strata.area_population[stratum]),
    )
    # An open link without a population stands for its own respondents (weight 1).
    weights = np.where(np.isnan(weights), responded, weights) / responded
    # The design's fractions (module docstring); m over a population smaller than m: 1.
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = np.where(
            at_school,
            school_pi,
            np.where(is_list, np.minimum(responded / strata.list_size[stratum], 1.0), 1e-300),
        )
        f2 = np.where(
            at_school,
            np.minimum(responded / school_m, 1.0),
            1.0,
        )
    answers, positions, items, areas, sources = _answers(campaign, kept)
    return CampaignData(
        group_index=kept.group,
        stratum_index=stratum,
        stratum_codes=strata.code,
        stratum_locations=strata.location,
        stratum_levels=strata.school_level,
        psu=np.where(at_school, kept.school, -kept.id),
        weights=weights,
        pi=pi,
        f2=f2,
        positions=positions,
        answers=answers,
        version_index=kept.version,
        version_keys=tuple(kept.versions),
        school_index=school,
        school_code_table=cells.school_codes,
        items=items,
        item_areas=areas,
        item_versions=sources,
        durations=kept.duration,
        submitted_minutes=kept.submitted,
        separately_drawn=tuple(sorted({str(g) for g in _GROUP_NAMES[kept.group[~at_school]]})),
        set_aside=set_aside,
    )


# Why a stored response is not weighted, coded 1, 2, 3 in ``_Cells.units``, 4 by
# ``_cut`` (0: kept).
SET_ASIDE_REASONS = (
    "school_not_in_plan",
    "group_not_planned_at_school",
    "not_in_plan",
    "integrity_decision",
)
_CUTTING_DECISIONS = ("set_aside", "resurvey")


def _cut(stored: _Stored, reason: NDArray[np.intp], cuts: Sequence[CellCut]) -> None:
    """Mark the responses of ``cuts`` set aside (reason 4) where nothing else did."""
    if not cuts:
        return
    width = len(RESPONDENT_GROUPS)
    keys = np.array([c.school_id * width + _GROUP_INDEX[c.group] for c in cuts], dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    until = np.array([c.until for c in cuts], dtype=np.float64)[order]
    row_key = stored.school * width + stored.group
    at = np.minimum(np.searchsorted(keys, row_key), keys.size - 1)
    hit = (keys[at] == row_key) & (stored.school != 0) & (stored.submitted <= until[at])
    reason[hit & (reason == 0)] = SET_ASIDE_REASONS.index("integrity_decision") + 1


_SCHOOL, _LIST, _AREA = 0, 1, 2
_GROUP_INDEX = {group: index for index, group in enumerate(RESPONDENT_GROUPS)}
_GROUP_NAMES = np.array(RESPONDENT_GROUPS)
_KINDS = {"school": _SCHOOL, "list": _LIST, "area": _AREA}


@dataclass(frozen=True)
class _Stored:
    """The campaign's stored responses as columns, in the order they were stored: the
    respondent group as its index in ``RESPONDENT_GROUPS``, no school as 0, the
    questionnaire version as an index into ``versions``; ``packed`` the answers packed
    one byte per item (``answer_codes.py``), padded with ``NOT_ASKED`` to the widest,
    and ``width`` each row's own length (0: not packed, read the answer table)."""

    id: NDArray[np.int64]
    group: NDArray[np.intp]
    school: NDArray[np.int64]
    stratum: NDArray[np.int64]
    version: NDArray[np.intp]
    versions: list[tuple[str, int]]
    packed: NDArray[np.uint8]
    width: NDArray[np.int64]
    duration: FloatArray  # NaN: not known
    submitted: FloatArray  # the minute submitted, in minutes since 1970 (UTC)

    @classmethod
    def read(cls, campaign: Campaign) -> _Stored:
        if db.session.get_bind().dialect.name == "postgresql":
            return cls._read_aggregated(campaign)
        return cls._read_rows(campaign)

    @classmethod
    def _read_rows(cls, campaign: Campaign) -> _Stored:
        """Any database: one row per response."""
        rows = db.session.execute(
            select(
                Response.id,
                Response.respondent_group,
                func.coalesce(Response.school_id, 0),
                Response.stratum_id,
                Response.questionnaire_key,
                Response.questionnaire_version,
                Response.answer_codes,
                Response.duration_seconds,
                Response.submitted_minute,
            )
            .where(Response.campaign_id == campaign.id)
            .order_by(Response.id)
        ).all()
        n = len(rows)
        ids, groups, schools, strata, keys, numbers, packed, seconds, minutes = (
            zip(*rows, strict=True) if rows else ((),) * 9
        )
        version_index: dict[tuple[str, int], int] = {}
        version = np.fromiter(
            (
                version_index.setdefault(pair, len(version_index))
                for pair in zip(keys, numbers, strict=True)
            ),
            dtype=np.intp,
            count=n,
        )
        matrix, width = _pad([bytes(p) if p is not None else b"" for p in packed])
        return cls(
            id=np.fromiter(ids, dtype=np.int64, count=n),
            group=np.fromiter(map(_GROUP_INDEX.__getitem__, groups), dtype=np.intp, count=n),
            school=np.fromiter(schools, dtype=np.int64, count=n),
            stratum=np.fromiter(strata, dtype=np.int64, count=n),
            version=version,
            versions=list(version_index),
            packed=matrix,
            width=width,
            duration=np.array([np.nan if d is None else d for d in seconds], dtype=np.float64),
            submitted=np.array([_minutes(m) for m in minutes], dtype=np.float64),
        )

    @classmethod
    def _read_aggregated(cls, campaign: Campaign) -> _Stored:
        """PostgreSQL: one row per (group, questionnaire version), its responses packed
        into one byte string of fixed-size records read by numpy without a Python object
        per response (a million responses: tens of megabytes, one round trip)."""
        versions: dict[tuple[str, int], int] = {}
        parts: list[tuple[int, int, _Records]] = []
        for group, key, number, count, blob in db.session.execute(
            _AGGREGATED, {"campaign_id": campaign.id}
        ):
            version = versions.setdefault((key, number), len(versions))
            parts.append((_GROUP_INDEX[group], version, _Records.parse(bytes(blob), int(count))))
        widest = max((part[2].packed.shape[1] for part in parts), default=0)
        ids = np.concatenate([p[2].id for p in parts]) if parts else np.empty(0, np.int64)
        order = np.argsort(ids, kind="stable")  # as stored: by id
        packed = np.full((ids.size, widest), answer_codes.NOT_ASKED, dtype=np.uint8)
        start = 0
        for _group, _version, records in parts:
            packed[start : start + records.id.size, : records.packed.shape[1]] = records.packed
            start += records.id.size

        def column(values: list[NDArray[Any]], dtype: type) -> NDArray[Any]:
            joined = np.concatenate(values) if values else np.empty(0, dtype)
            return joined.astype(dtype)[order]

        return cls(
            id=ids[order].astype(np.int64),
            group=column([np.full(p[2].id.size, p[0]) for p in parts], np.intp),
            school=column([p[2].school for p in parts], np.int64),
            stratum=column([p[2].stratum for p in parts], np.int64),
            version=column([np.full(p[2].id.size, p[1]) for p in parts], np.intp),
            versions=list(versions),
            packed=packed[order],
            width=column([p[2].width for p in parts], np.int64),
            duration=column([p[2].duration for p in parts], np.float64),
            submitted=column([p[2].submitted for p in parts], np.float64),
        )

    def take(self, rows: NDArray[np.intp]) -> _Stored:
        return _Stored(
            id=self.id[rows],
            group=self.group[rows],
            school=self.school[rows],
            stratum=self.stratum[rows],
            version=self.version[rows],
            versions=self.versions,
            packed=self.packed[rows],
            width=self.width[rows],
            duration=self.duration[rows],
            submitted=self.submitted[rows],
        )


# Per (group, version): its responses as records of id, school (0: none), stratum, the
# duration in seconds (-1: none), the minute submitted (minutes since 1970; 4 bytes
# each, big-endian), the packed answers' length (2 bytes) and the packed answers.
# (date_part, a double, not extract, a numeric: a third of the query's time less.)
_AGGREGATED = text(
    """
    SELECT respondent_group, questionnaire_key, questionnaire_version, count(*),
           string_agg(int4send(id) || int4send(coalesce(school_id, 0)) || int4send(stratum_id)
                      || int4send(coalesce(duration_seconds, -1))
                      || int4send((date_part('epoch', submitted_minute) / 60)::int4)
                      || int2send(coalesce(length(answer_codes), 0)::int2)
                      || coalesce(answer_codes, ''::bytea), ''::bytea)
    FROM response WHERE campaign_id = :campaign_id
    GROUP BY respondent_group, questionnaire_key, questionnaire_version
    """
)
_HEADER = np.dtype(
    [
        ("id", ">i4"),
        ("school", ">i4"),
        ("stratum", ">i4"),
        ("duration", ">i4"),
        ("submitted", ">i4"),
        ("width", ">i2"),
    ]
)
_WIDTH_AT = _HEADER.itemsize - 2  # the packed answers' length ends a record's header


@dataclass(frozen=True)
class _Records:
    """One aggregated byte string of :data:`_AGGREGATED`, as columns."""

    id: NDArray[Any]
    school: NDArray[Any]
    stratum: NDArray[Any]
    width: NDArray[Any]
    packed: NDArray[np.uint8]
    duration: FloatArray
    submitted: FloatArray

    @classmethod
    def parse(cls, blob: bytes, count: int) -> _Records:
        width = int.from_bytes(blob[_WIDTH_AT : _WIDTH_AT + 2], "big") if blob else 0
        size = _HEADER.itemsize + width
        if width and len(blob) == count * size:
            records = np.frombuffer(blob, dtype=np.uint8).reshape(count, size)
            header = records[:, : _HEADER.itemsize].copy().view(_HEADER).ravel()
            if (header["width"] == width).all():  # every response packed, one layout
                return cls(
                    header["id"],
                    header["school"],
                    header["stratum"],
                    header["width"],
                    records[:, _HEADER.itemsize :],
                    _seconds(header["duration"]),
                    header["submitted"].astype(np.float64),
                )
        return cls._walk(blob, count)

    @classmethod
    def _walk(cls, blob: bytes, count: int) -> _Records:
        """Records of different lengths (responses stored before answers were packed):
        one at a time."""
        headers: list[bytes] = []
        packed: list[bytes] = []
        at = 0
        for _record in range(count):
            header = blob[at : at + _HEADER.itemsize]
            width = int.from_bytes(header[_WIDTH_AT : _WIDTH_AT + 2], "big")
            at += _HEADER.itemsize
            headers.append(header)
            packed.append(blob[at : at + width])
            at += width
        columns = np.frombuffer(b"".join(headers), dtype=_HEADER)
        matrix, _width = _pad(packed)
        return cls(
            columns["id"],
            columns["school"],
            columns["stratum"],
            columns["width"],
            matrix,
            _seconds(columns["duration"]),
            columns["submitted"].astype(np.float64),
        )


def _minutes(moment: datetime) -> float:
    """Minutes since 1970 (UTC); SQLite gives back naive datetimes, stored as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() / 60


def _seconds(duration: NDArray[Any]) -> FloatArray:
    return np.where(duration < 0, np.nan, duration).astype(np.float64)


def _pad(packed: list[bytes]) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Packed answers of different lengths as one matrix padded with ``NOT_ASKED``,
    and each one's length."""
    widest = max(map(len, packed), default=0)
    filler = bytes([answer_codes.NOT_ASKED])
    matrix = np.frombuffer(b"".join(p.ljust(widest, filler) for p in packed), dtype=np.uint8)
    width = np.fromiter(map(len, packed), dtype=np.int64, count=len(packed))
    return matrix.reshape(len(packed), widest), width


@dataclass(frozen=True)
class _Strata:
    """The campaign's strata as columns, sorted by id."""

    id: NDArray[np.int64]
    code: NDArray[Any]
    kind: NDArray[np.intp]
    location: NDArray[Any]
    school_level: NDArray[Any]
    list_size: FloatArray  # a list's N (NaN: not a list)
    area_population: FloatArray  # residents an open link's area stands for (NaN: none)

    @classmethod
    def read(cls, campaign: Campaign) -> _Strata:
        rows = db.session.execute(
            select(Stratum.id, Stratum.code, Stratum.kind, Stratum.location, Stratum.school_level)
            .where(Stratum.campaign_id == campaign.id)
            .order_by(Stratum.id)
        ).all()
        list_size = dict(
            db.session.execute(
                select(ListFrame.stratum_id, ListFrame.list_size).where(
                    ListFrame.campaign_id == campaign.id
                )
            ).all()
        )
        areas = _area_populations(campaign)
        return cls(
            id=np.array([row.id for row in rows], dtype=np.int64),
            code=np.array([row.code for row in rows]),
            kind=np.array([_KINDS[row.kind] for row in rows], dtype=np.intp),
            location=np.array([row.location or "" for row in rows]),
            school_level=np.array([row.school_level or "" for row in rows]),
            list_size=np.array([list_size.get(row.id, np.nan) for row in rows], dtype=float),
            area_population=np.array([areas.get(row.id, np.nan) for row in rows], dtype=float),
        )

    def position(self, stratum_ids: NDArray[np.int64]) -> NDArray[np.intp]:
        """Each stratum id's row here (every response's stratum is the campaign's)."""
        return np.searchsorted(self.id, stratum_ids)


@dataclass(frozen=True)
class _Cells:
    """What the plan says about the schools in the field: π (a substitute: its refused
    school's) and M per group, as tables indexed by the school's position in ``schools``."""

    schools: NDArray[np.int64]  # school ids in the field, sorted
    pi: FloatArray
    population: FloatArray  # [school position, group index]; NaN: no quota for the group
    school_codes: NDArray[Any]

    @classmethod
    def build(cls, campaign: Campaign, strata: _Strata) -> _Cells:
        plan_id = db.session.scalar(
            select(SamplingPlan.id).where(SamplingPlan.campaign_id == campaign.id)
        )
        pi: dict[int, float] = {}
        population: list[tuple[int, str, int]] = []
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
            population = [
                (school_id, group, int(m))
                for school_id, group, m in db.session.execute(
                    select(
                        PlanQuota.school_id, PlanQuota.respondent_group, PlanQuota.population
                    ).where(PlanQuota.plan_id == plan_id)
                )
            ]
        schools = np.array(sorted(pi), dtype=np.int64)
        table = np.full((schools.size, len(RESPONDENT_GROUPS)), np.nan)
        position = {int(school): index for index, school in enumerate(schools)}
        for school_id, group, m in population:
            if school_id in position:
                table[position[school_id], _GROUP_INDEX[group]] = m
        codes = dict(
            db.session.execute(
                select(School.id, School.code).where(School.campaign_id == campaign.id)
            ).all()
        )
        return cls(
            schools=schools,
            pi=np.array([pi[int(school)] for school in schools], dtype=float),
            population=table,
            school_codes=np.array([codes[int(school)] for school in schools] + [""]),
        )

    def position(self, school: NDArray[np.int64]) -> NDArray[np.intp]:
        """The school's row in the tables, ``schools.size`` for a school not in the field
        (and for no school)."""
        found = np.searchsorted(self.schools, school)
        inside = found < self.schools.size
        found[inside & (self.schools[np.minimum(found, self.schools.size - 1)] != school)] = (
            self.schools.size
        )
        found[~inside] = self.schools.size
        return found

    def units(self, stored: _Stored, strata: _Strata) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
        """Each response's weighting unit (a school's position, or the schools' count +
        its stratum's position for a list or an area) and why it is set aside (an index
        of ``SET_ASIDE_REASONS`` + 1; 0 kept)."""
        at = self.position(stored.school)
        stratum = strata.position(stored.stratum)
        kind = strata.kind[stratum]
        at_school = stored.school != 0
        in_field = at < self.schools.size
        planned = np.zeros(at.size, dtype=bool)
        planned[in_field] = ~np.isnan(self.population[at[in_field], stored.group[in_field]])
        outside_kept = (kind == _AREA) | ((kind == _LIST) & ~np.isnan(strata.list_size[stratum]))
        reason = np.select(
            [at_school & ~in_field, at_school & ~planned, ~at_school & ~outside_kept],
            [1, 2, 3],
            default=0,
        ).astype(np.intp)
        unit = np.where(at_school, at, self.schools.size + stratum).astype(np.int64)
        return unit, reason

    def pi_at(self, position: NDArray[np.intp]) -> FloatArray:
        """π per row, from its school's :meth:`position` (NaN outside schools)."""
        return np.append(self.pi, np.nan)[position]

    def population_at(self, position: NDArray[np.intp], group: NDArray[np.intp]) -> FloatArray:
        """M of the row's group at its school (NaN outside schools)."""
        table = np.vstack([self.population, np.full(len(RESPONDENT_GROUPS), np.nan)])
        return table[position, group]

    def school_code_at(self, position: NDArray[np.intp]) -> NDArray[Any]:
        """学校标识码 per row, "" outside schools."""
        return self.school_codes[position]


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
    campaign: Campaign, kept: _Stored
) -> tuple[
    PackedAnswers, AnswerPositions, tuple[str, ...], tuple[str, ...], tuple[tuple[str, int], ...]
]:
    """The answers (packed; responses stored without their packed form are packed here
    from the answer table) and what each means for recognition, read from each row's
    questionnaire version."""
    present = sorted(np.unique(kept.version).tolist(), key=kept.versions.__getitem__)
    versions = [kept.versions[number] for number in present]
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
    layout = np.zeros(kept.id.size, dtype=np.intp)
    at: list[NDArray[np.intp]] = []
    widest = max((len(q.items) for q in loaded.values()), default=0)
    packed = np.full((kept.id.size, widest), answer_codes.NOT_ASKED, dtype=np.uint8)
    shared = min(widest, kept.packed.shape[1])
    packed[:, :shared] = kept.packed[:, :shared]
    missing: list[NDArray[np.intp]] = [np.empty(0, dtype=np.intp)]
    rows_of: list[NDArray[np.intp]] = []
    for number, version in enumerate(versions):
        rows = np.flatnonzero(kept.version == present[number])
        rows_of.append(rows)
        layout[rows] = number
        at.append(np.array([columns[(version[0], item.id)] for item in loaded[version].items]))
        lacking = rows[kept.width[rows] != len(loaded[version].items)]
        packed[lacking] = answer_codes.NOT_ASKED
        missing.append(lacking)
    _pack_from_answer_table(campaign, kept, np.concatenate(missing), packed, versions, loaded)
    blocks = [
        AnswerBlock(rows, at[number], _meaning(loaded[version], packed[rows, : at[number].size]))
        for number, (version, rows) in enumerate(zip(versions, rows_of, strict=True))
    ]
    positions = AnswerPositions.from_blocks(kept.id.size, len(columns), blocks)
    items = tuple(f"{key}.{item_id}" for key, item_id in columns)
    return PackedAnswers(packed, layout, tuple(at)), positions, items, tuple(areas), tuple(sources)


def _pack_from_answer_table(
    campaign: Campaign,
    kept: _Stored,
    rows: NDArray[np.intp],
    packed: NDArray[np.uint8],
    versions: list[tuple[str, int]],
    loaded: dict[tuple[str, int], Questionnaire],
) -> None:
    """Pack ``rows`` from the long answer table: responses stored before answers were
    packed (every code fits a byte: the questionnaire schema's limit)."""
    if not rows.size:
        return
    row_of = {int(kept.id[row]): int(row) for row in rows}
    position: dict[tuple[str, int], dict[str, int]] = {
        v: {item.id: index for index, item in enumerate(loaded[v].items)} for v in versions
    }
    version_of = {int(kept.id[row]): kept.versions[int(kept.version[row])] for row in rows}
    query = select(Answer.response_id, Answer.item_id, Answer.value).where(
        Answer.campaign_id == campaign.id
    )
    if all(kept.width[rows] == 0):
        query = query.join(Response, Response.id == Answer.response_id).where(
            Response.answer_codes.is_(None)
        )
    for response_id, item_id, value in db.session.execute(query):
        found = row_of.get(response_id)
        if found is None:
            continue
        index = position[version_of[response_id]].get(item_id)
        if index is not None and 0 <= value <= answer_codes.LARGEST_CODE:
            packed[found, index] = value


def _meaning(questionnaire: Questionnaire, block: NDArray[np.uint8]) -> NDArray[np.int8]:
    """A version's packed codes (its rows x its items) → 1 recognised, 0 not, -1 不了解,
    not asked or not one of the item's codes."""
    table = np.full((len(questionnaire.items), answer_codes.NOT_ASKED + 1), -1, dtype=np.int8)
    for index, item in enumerate(questionnaire.items):
        for option in item.scale.options:
            table[index, option.code] = 1 if option.recognised else 0
    offsets = np.arange(len(questionnaire.items), dtype=np.intp) * (answer_codes.NOT_ASKED + 1)
    return table.ravel()[block + offsets]
