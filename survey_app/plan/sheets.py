"""The supervisor's sheet for each selected school: who answers, picked on site by a rule
anyone with the plan's seed can redo, so that the school does not choose them.

Per group the plan gives n (``PlanQuota.planned``) of M (``population``). On the list of
the group (class rolls, the staff list) people are taken by a systematic draw: interval
k = M/n, start r = k·(1 − u) with u = ``analysis.pps.stratum_start(seed,
"<school code>/<group>")`` (so 0 < r ≤ k, and the same seed gives the same start on any
machine), positions ⌈r⌉, ⌈r + k⌉, …, ⌈r + (n−1)k⌉. Arithmetic is exact (fractions:
u is a binary fraction), so the positions are n distinct whole numbers from 1 to M.
Parents have a draw of their own on the whole school's roll, not the sampled students.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import TYPE_CHECKING

import segno
from flask import render_template
from flask_babel import force_locale

from analysis.pps import stratum_start
from survey_app.contact import links
from survey_app.models import Campaign, PlanQuota, SamplingPlan, School
from survey_app.plan import code_batches
from survey_app.vocabulary import SCHOOL_GROUPS, STUDENT

if TYPE_CHECKING:
    from weasyprint.document import Document


class UnknownSchool(Exception):
    """No selected school of the plan has this code."""


@dataclass(frozen=True)
class SystematicDraw:
    """Every ⌈r + i·k⌉-th person of a list of M, n of them (no positions when n is 0)."""

    planned: int  # n
    population: int  # M
    unit_start: float  # u ∈ [0, 1), from the seed
    positions: tuple[int, ...]

    @property
    def interval(self) -> Fraction | None:
        """k = M/n (None when nobody is drawn)."""
        return Fraction(self.population, self.planned) if self.planned else None

    @property
    def start(self) -> Fraction | None:
        """r = k·(1 − u), in (0, k]."""
        k = self.interval
        return None if k is None else k * (1 - Fraction(self.unit_start))


def start_name(school_code: str, group: str) -> str:
    """What the seed is hashed with for one school and group (printed on the sheet)."""
    return f"{school_code}/{group}"


def systematic_draw(seed: int, school_code: str, group: str, n: int, m: int) -> SystematicDraw:
    """Positions on the list of ``group`` at the school; n ≤ M as the plan ensures."""
    if not 0 <= n <= m:
        raise ValueError(f"cannot draw {n} of {m}")
    u = stratum_start(seed, start_name(school_code, group))
    if n == 0:
        return SystematicDraw(n, m, u, ())
    k = Fraction(m, n)
    r = k * (1 - Fraction(u))
    return SystematicDraw(n, m, u, tuple(math.ceil(r + i * k) for i in range(n)))


@dataclass(frozen=True)
class GroupSheet:
    """One group's rule at the school; ``reading_levels`` splits the student slips of a
    nine-year school between the primary and junior questionnaires (as codes are issued)."""

    respondent_group: str
    draw: SystematicDraw
    reading_levels: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class SchoolSheet:
    school: School
    stratum: str
    seed: int
    groups: tuple[GroupSheet, ...]
    contact_link: str
    contact_qr: str  # the contact link as an SVG data URI


def school_sheets(
    campaign: Campaign,
    plan: SamplingPlan,
    secret_key: str,
    base_url: str,
    school_code: str | None = None,
) -> list[SchoolSheet]:
    """One sheet per school with quotas (selected, in frame order per stratum), or only
    the school ``school_code`` (:class:`UnknownSchool` if it has none)."""
    quotas: dict[int, list[PlanQuota]] = {}
    for quota in plan.quotas:
        quotas.setdefault(quota.school_id, []).append(quota)
    rows = sorted(
        (row for row in plan.schools if row.in_field and row.school_id in quotas),
        key=lambda row: (row.school.stratum.code, row.frame_order),
    )
    if school_code is not None:
        rows = [row for row in rows if row.school.code == school_code]
        if not rows:
            raise UnknownSchool(f"no selected school {school_code!r} in campaign {campaign.key}")
    return [
        _sheet(campaign, plan, row.school, quotas[row.school_id], secret_key, base_url)
        for row in rows
    ]


def _sheet(
    campaign: Campaign,
    plan: SamplingPlan,
    school: School,
    quotas: list[PlanQuota],
    secret_key: str,
    base_url: str,
) -> SchoolSheet:
    order = {group: index for index, group in enumerate(SCHOOL_GROUPS)}
    groups = tuple(
        GroupSheet(
            quota.respondent_group,
            systematic_draw(
                plan.seed, school.code, quota.respondent_group, quota.planned, quota.population
            ),
            _reading_levels(quota),
        )
        for quota in sorted(quotas, key=lambda q: order.get(q.respondent_group, len(order)))
    )
    contact = links.link(base_url, links.token_for(secret_key, campaign, school))
    return SchoolSheet(
        school=school,
        stratum=school.stratum.code,
        seed=plan.seed,
        groups=groups,
        contact_link=contact,
        contact_qr=qr_svg(contact),
    )


def _reading_levels(quota: PlanQuota) -> tuple[tuple[str, int], ...]:
    """The split ``code_batches`` issues the planned student codes in (nine-year only)."""
    if quota.respondent_group != STUDENT or quota.school.level != "nine_year":
        return ()
    split = code_batches._by_reading_level(quota, quota.planned)  # the rule codes are issued by
    return tuple((level, n) for level, n in split if level is not None)


def qr_svg(text: str) -> str:
    """A QR code of ``text`` as an SVG data URI (vector: sharp on screen and in print)."""
    return segno.make(text, error="m", micro=False).svg_data_uri(scale=4, border=2)  # type: ignore[no-any-return]


def sheets_document(
    campaign: Campaign, sheets: list[SchoolSheet], language: str, now: datetime
) -> Document:
    """The sheets laid out for A4, one school a page (or more, if its lists are long)."""
    from weasyprint import HTML

    with force_locale(language):
        html = render_template(
            "plan/sheets_print.html",
            campaign=campaign,
            sheets=sheets,
            language=language,
            now=now,
        )
    return HTML(string=html).render()


def sheets_pdf(
    campaign: Campaign, sheets: list[SchoolSheet], language: str, now: datetime
) -> bytes:
    return sheets_document(campaign, sheets, language, now).write_pdf()  # type: ignore[no-any-return]
