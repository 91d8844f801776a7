"""Groups not reached through schools: people drawn from official lists, and residents
answering through an open link. Each has a stratum of its own, and each person is a
sampling unit of it (``Stratum.kind`` ``list`` or ``area``), never attached to a school.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.models.base import Base
from survey_app.models.campaign import Stratum
from survey_app.vocabulary import LIST_GROUPS, OPEN_LINK_GROUPS, sql_in


class ListFrame(Base):
    """The official list of a group (人大代表, 政协委员): its size, optionally its
    anonymous ids in the published order, and the members drawn from it.

    Members are drawn with equal probability n/N by systematic selection from a random
    start (R: ``UPsystematic(rep(n/N, N))``) in list order, from the plan's seed; the
    positions drawn are stored, so the office holding the names hands each slip to the
    member at that position. The analysis takes each member as a unit of the list's
    stratum with fpc N.
    """

    __tablename__ = "list_frame"
    __table_args__ = (
        UniqueConstraint("campaign_id", "respondent_group"),
        CheckConstraint(sql_in("respondent_group", LIST_GROUPS), name="respondent_group"),
        CheckConstraint("list_size >= 1", name="list_size"),
        CheckConstraint("planned >= 0 AND planned <= list_size", name="planned"),
        CheckConstraint(
            "random_start IS NULL OR (random_start >= 0 AND random_start < 1)", name="random_start"
        ),
        ForeignKeyConstraint(
            ["stratum_id", "campaign_id"],
            ["stratum.id", "stratum.campaign_id"],
            name="fk_list_frame_stratum_same_campaign",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    stratum_id: Mapped[int] = mapped_column(ForeignKey("stratum.id"), unique=True)
    respondent_group: Mapped[str] = mapped_column(String(12))
    list_size: Mapped[int] = mapped_column(Integer)  # N
    # Anonymous ids (e.g. the list's own numbers) in list order, when a list was imported.
    member_ids: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    planned: Mapped[int] = mapped_column(Integer)  # n
    # The draw: the systematic start u and the 1-based list positions drawn.
    random_start: Mapped[float | None] = mapped_column(Float)
    drawn_positions: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))
    drawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    stratum: Mapped[Stratum] = relationship(foreign_keys=[stratum_id])

    def member_label(self, position: int) -> str:
        """How the list office finds a drawn member: its id, else its position."""
        if self.member_ids:
            return self.member_ids[position - 1]
        return str(position)


class OpenLink(Base):
    """A QR link anyone in an area may open (residents), with a quota that cannot fill
    past ``quota``: opening it reserves a slot (``reserved`` rises in one conditional
    UPDATE); a slot whose response was abandoned is given back (see
    ``plan/open_links.py``). The token is in the posted link, so it is kept as it is."""

    __tablename__ = "open_link"
    __table_args__ = (
        CheckConstraint(sql_in("respondent_group", OPEN_LINK_GROUPS), name="respondent_group"),
        CheckConstraint("quota >= 1", name="quota"),
        CheckConstraint("reserved >= 0 AND reserved <= quota", name="reserved"),
        CheckConstraint("population IS NULL OR population >= 0", name="population"),
        ForeignKeyConstraint(
            ["stratum_id", "campaign_id"],
            ["stratum.id", "stratum.campaign_id"],
            name="fk_open_link_stratum_same_campaign",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    stratum_id: Mapped[int] = mapped_column(ForeignKey("stratum.id"), unique=True)
    respondent_group: Mapped[str] = mapped_column(String(12))
    token: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(80))  # the area, as staff name it
    population: Mapped[int | None] = mapped_column(Integer)  # residents of the area
    quota: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0)  # slots held or answered
    closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    stratum: Mapped[Stratum] = relationship(foreign_keys=[stratum_id])
