"""Groups drawn from their own lists: deputies (人大代表) and members (政协委员).

They are not reached through schools: each list is a stratum of its own (``list-deputy``,
``list-member``) whose units are the people on it, drawn with equal probability n/N
by systematic selection in list order from a random start derived from the plan's
seed and the stratum's name (R: ``UPsystematic(rep(n/N, N))`` with that start, the
same functions as the schools' draw). The analysis takes each respondent as a unit of
the list's stratum with fpc N (shared/statistics.md: small finite populations).

A list is given as its size (the office numbers its published list 1…N) or as its
anonymous ids in list order (one per line, e.g. the list's own numbers; never names).
Until codes of the list are issued, the list may be replaced and drawn again.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from analysis.pps import inclusion_probabilities, stratum_start, systematic_sample
from analysis.sample_size import for_margin
from survey_app.extensions import db
from survey_app.models import Campaign, ListFrame, OneTimeCode, SamplingPlan, Stratum
from survey_app.plan import audit
from survey_app.untrusted import clean_text
from survey_app.vocabulary import LIST_GROUPS, list_stratum_code

MAX_LIST_SIZE = 100_000
MAX_ID_LENGTH = 40
# Without a number given: enough for ±10 points at 85% (95% confidence) with the
# finite-population correction, e.g. 40 of 212 deputies.
DEFAULT_MARGIN = 0.10


class ListRefused(Exception):
    """The list cannot be set or drawn as asked; ``code`` names the reason for pages
    (group, size, planned, ids, frozen) and ``params`` fills the message."""

    def __init__(self, message: str, code: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def default_planned(list_size: int) -> int:
    return min(list_size, for_margin(0.85, DEFAULT_MARGIN, population=list_size).n)


def parse_member_ids(data: bytes) -> list[str]:
    """Anonymous ids, one per line (a CSV's first column; a header ``id`` or ``编号`` is
    skipped); every problem is reported with its line, and nothing is taken if any."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as error:
            raise ListRefused("the list is not UTF-8 or GBK text", "ids") from error
    ids: list[str] = []
    problems: list[str] = []
    lines: list[dict[str, int]] = []  # the same problems for pages: line, first (or 0)
    seen: dict[str, int] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        value = clean_text(row[0]).strip() if row else ""
        if number == 1 and value.lower() in ("id", "编号", "序号"):
            continue
        if not value:
            continue
        if len(value) > MAX_ID_LENGTH:
            problems.append(f"line {number}, id: longer than {MAX_ID_LENGTH} characters")
            lines.append({"line": number, "first": 0})
        elif value in seen:
            problems.append(f"line {number}, id: {value!r} is also on line {seen[value]}")
            lines.append({"line": number, "first": seen[value]})
        else:
            seen[value] = number
            ids.append(value)
    if problems:
        raise ListRefused("; ".join(problems), "ids", lines=lines)
    if not ids:
        raise ListRefused("the list has no ids", "ids")
    return ids


def set_list(
    campaign: Campaign,
    group: str,
    *,
    list_size: int | None = None,
    member_ids: list[str] | None = None,
    planned: int | None = None,
    now: datetime,
) -> ListFrame:
    """Create or replace the campaign's list of ``group`` (its size, or its ids)."""
    if group not in LIST_GROUPS:
        raise ListRefused(
            f"{group} are not drawn from a list (lists: {', '.join(LIST_GROUPS)})", "group"
        )
    if member_ids is not None:
        list_size = len(member_ids)
    if list_size is None or not 1 <= list_size <= MAX_LIST_SIZE:
        raise ListRefused(f"a list has 1 to {MAX_LIST_SIZE} people", "size", n=MAX_LIST_SIZE)
    if planned is None:
        planned = default_planned(list_size)
    if not 0 <= planned <= list_size:
        raise ListRefused(f"cannot draw {planned} of a list of {list_size}", "planned", n=list_size)
    frame = list_of(campaign, group)
    if frame is not None:
        _check_not_frozen(campaign, frame)
    else:
        stratum = _list_stratum(campaign, group)
        frame = ListFrame(campaign_id=campaign.id, stratum_id=stratum.id, respondent_group=group)
        db.session.add(frame)
    frame.list_size = list_size
    frame.member_ids = member_ids
    frame.planned = planned
    frame.random_start = frame.drawn_positions = frame.drawn_at = None
    db.session.flush()
    plan = db.session.scalar(select(SamplingPlan).where(SamplingPlan.campaign_id == campaign.id))
    if plan is not None:  # drawn already: the list is drawn at once with the plan's seed
        draw_list(frame, plan.seed, now)
    audit.record(
        campaign,
        "list_set",
        {"group": group, "list_size": list_size, "planned": planned, "ids": bool(member_ids)},
    )
    return frame


def _list_stratum(campaign: Campaign, group: str) -> Stratum:
    code = list_stratum_code(group)
    stratum = db.session.scalar(
        select(Stratum).where(Stratum.campaign_id == campaign.id, Stratum.code == code)
    )
    if stratum is None:
        stratum = Stratum(campaign_id=campaign.id, code=code, kind="list")
        db.session.add(stratum)
        db.session.flush()
    return stratum


def _check_not_frozen(campaign: Campaign, frame: ListFrame) -> None:
    issued = codes_of(frame)
    if campaign.status != "draft" or issued:
        raise ListRefused(
            f"the {frame.respondent_group} list of {campaign.key} is in the field: it is frozen",
            "frozen",
        )


def codes_of(frame: ListFrame) -> int:
    """Codes issued for the list (revoked ones included)."""
    counted = select(func.count()).where(OneTimeCode.stratum_id == frame.stratum_id)
    return int(db.session.scalar(counted) or 0)


def list_of(campaign: Campaign, group: str) -> ListFrame | None:
    return db.session.scalar(
        select(ListFrame).where(
            ListFrame.campaign_id == campaign.id, ListFrame.respondent_group == group
        )
    )


def lists_of(campaign: Campaign) -> list[ListFrame]:
    query = select(ListFrame).where(ListFrame.campaign_id == campaign.id)
    return list(db.session.scalars(query.order_by(ListFrame.respondent_group)))


def draw_list(frame: ListFrame, seed: int, now: datetime) -> list[int]:
    """Draw the list's members (positions 1…N) from the plan's seed; returns them."""
    start = stratum_start(seed, list_stratum_code(frame.respondent_group))
    pik = inclusion_probabilities([1.0] * frame.list_size, frame.planned)
    chosen = systematic_sample(pik, start)
    positions = [int(i) + 1 for i in chosen.nonzero()[0]]
    frame.random_start = start
    frame.drawn_positions = positions
    frame.drawn_at = now
    db.session.flush()
    return positions


@dataclass(frozen=True)
class DrawnMember:
    position: int  # 1-based, in list order
    label: str  # the member's anonymous id, else the position


def drawn_members(frame: ListFrame) -> list[DrawnMember]:
    return [
        DrawnMember(position, frame.member_label(position))
        for position in frame.drawn_positions or []
    ]


@dataclass(frozen=True)
class ListProgress:
    """A drawn list's codes: planned, issued (not revoked), answered, revoked."""

    frame: ListFrame
    planned: int
    issued: int
    used: int
    void: int


def list_progress(campaign: Campaign) -> list[ListProgress]:
    """The drawn lists with their codes' counts (one grouped query)."""
    counts = {
        stratum_id: (int(issued or 0), int(used or 0), int(void or 0))
        for stratum_id, issued, used, void in db.session.execute(
            select(
                OneTimeCode.stratum_id,
                func.sum(case((OneTimeCode.status == "issued", 1), else_=0)),
                func.sum(case((OneTimeCode.status == "used", 1), else_=0)),
                func.sum(case((OneTimeCode.status == "void", 1), else_=0)),
            )
            .where(OneTimeCode.campaign_id == campaign.id, OneTimeCode.school_id.is_(None))
            .group_by(OneTimeCode.stratum_id)
        )
    }
    rows = []
    for frame in lists_of(campaign):
        if frame.drawn_positions is None:
            continue
        issued, used, void = counts.get(frame.stratum_id, (0, 0, 0))
        rows.append(ListProgress(frame, frame.planned, issued + used, used, void))
    return rows
