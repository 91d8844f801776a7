"""Open links for groups that cannot be reached one by one (residents): a QR link per
area with a quota, posted where the area's residents see it.

Each link is a stratum of its own (``area-<slug>``) whose units are the people who
answered through it; ``population`` (the area's residents, when known) is what the
analysis weights them to. How a slot is taken and given back is in
``respond/open_links.py``; this module is the supervisor's side.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from survey_app.extensions import db
from survey_app.models import Campaign, OneTimeCode, OpenLink, Stratum
from survey_app.plan import audit
from survey_app.untrusted import clean_text
from survey_app.vocabulary import OPEN_LINK_GROUPS, area_stratum_code

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")
MAX_QUOTA = 100_000
MAX_LABEL = 80


class OpenLinkRefused(Exception):
    """The link cannot be made or changed as asked; ``code`` (slug, label, quota,
    population, exists, closed, unknown) names the reason for pages."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/o/{token}"


def create_open_link(
    campaign: Campaign,
    *,
    slug: str,
    label: str,
    quota: int,
    now: datetime,
    population: int | None = None,
    group: str = "resident",
) -> OpenLink:
    """A new open link with its own area stratum; the token is random (128 bits)."""
    if campaign.status == "closed":
        raise OpenLinkRefused(f"campaign {campaign.key} is closed", "closed")
    if group not in OPEN_LINK_GROUPS:
        raise OpenLinkRefused(f"{group} are not reached by open links", "group")
    if not SLUG_PATTERN.match(slug):
        raise OpenLinkRefused(
            "the area's short name is 1-30 lower-case letters, digits, - or _", "slug"
        )
    name = clean_text(label).strip()
    if not name or len(name) > MAX_LABEL:
        raise OpenLinkRefused(f"the area's name is 1 to {MAX_LABEL} characters", "label")
    if not 1 <= quota <= MAX_QUOTA:
        raise OpenLinkRefused(f"the quota is 1 to {MAX_QUOTA}", "quota")
    if population is not None and not 0 <= population <= 10**9:
        raise OpenLinkRefused("the population is a whole number ≥ 0", "population")
    code = area_stratum_code(slug)
    exists = db.session.scalar(
        select(Stratum.id).where(Stratum.campaign_id == campaign.id, Stratum.code == code)
    )
    if exists is not None:
        raise OpenLinkRefused(f"campaign {campaign.key} has an area {slug!r} already", "exists")
    stratum = Stratum(campaign_id=campaign.id, code=code, kind="area")
    db.session.add(stratum)
    db.session.flush()
    link = OpenLink(
        campaign_id=campaign.id,
        stratum_id=stratum.id,
        respondent_group=group,
        token=secrets.token_urlsafe(16),
        label=name,
        population=population,
        quota=quota,
        reserved=0,
        closed=False,
        created_at=now,
    )
    db.session.add(link)
    db.session.flush()
    audit.record(
        campaign,
        "open_link_created",
        {"area": code, "quota": quota, "population": population, "group": group},
    )
    return link


def close_open_link(campaign: Campaign, slug: str) -> OpenLink:
    """Stop a link taking new respondents (those answering may finish)."""
    link = _link(campaign, slug)
    link.closed = True
    db.session.flush()
    audit.record(campaign, "open_link_closed", {"area": area_stratum_code(slug)})
    return link


def _link(campaign: Campaign, slug: str) -> OpenLink:
    missing = OpenLinkRefused(f"campaign {campaign.key} has no open link {slug!r}", "unknown")
    if not SLUG_PATTERN.match(slug):  # not a slug of ours (a NUL in the URL): no look-up
        raise missing
    link = db.session.scalar(
        select(OpenLink)
        .join(Stratum, OpenLink.stratum_id == Stratum.id)
        .where(OpenLink.campaign_id == campaign.id, Stratum.code == area_stratum_code(slug))
    )
    if link is None:
        raise missing
    return link


def area_labels(campaign: Campaign) -> dict[str, str]:
    """Each open link's stratum code and the area's name as staff gave it: the pages
    name an area stratum by it (:func:`survey_app.vocabulary.stratum_label`)."""
    rows = db.session.execute(
        select(Stratum.code, OpenLink.label)
        .join(Stratum, OpenLink.stratum_id == Stratum.id)
        .where(OpenLink.campaign_id == campaign.id)
    ).all()
    return {code: label for code, label in rows}


@dataclass(frozen=True)
class OpenLinkProgress:
    link: OpenLink
    area: str  # the stratum's code
    answering: int  # slots held by responses in progress
    answered: int

    @property
    def slug(self) -> str:
        return self.area.removeprefix("area-")


def links_of(campaign: Campaign) -> list[OpenLinkProgress]:
    """The campaign's open links with their counts (one grouped query for the codes)."""
    links = db.session.execute(
        select(OpenLink, Stratum.code)
        .join(Stratum, OpenLink.stratum_id == Stratum.id)
        .where(OpenLink.campaign_id == campaign.id)
        .order_by(Stratum.code)
    ).all()
    counts = {
        link_id: (int(issued or 0), int(used or 0))
        for link_id, issued, used in db.session.execute(
            select(
                OneTimeCode.open_link_id,
                func.sum(case((OneTimeCode.status == "issued", 1), else_=0)),
                func.sum(case((OneTimeCode.status == "used", 1), else_=0)),
            )
            .where(OneTimeCode.campaign_id == campaign.id, OneTimeCode.open_link_id.is_not(None))
            .group_by(OneTimeCode.open_link_id)
        )
    }
    return [OpenLinkProgress(link, area, *counts.get(link.id, (0, 0))) for link, area in links]
