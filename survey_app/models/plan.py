"""The sampling plan of a campaign and the draw it recorded.

A plan is drawn from a recorded seed: each stratum's random start derives from it
(``analysis.pps.stratum_start``), so the same seed and frame give the same schools on
any machine. Every frame school is kept with its frame position and inclusion
probability π, selected or not, so the draw can be checked (``flask plan export``)
and the weights of the analysis follow (1/π at the first stage).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.models.base import Base
from survey_app.models.campaign import Stratum
from survey_app.models.frame import School
from survey_app.vocabulary import RESPONDENT_GROUPS, sql_in

# Within a stratum, schools are listed by 学校标识码 before the systematic draw: the code
# follows the administrative divisions, so the draw spreads over townships (implicit
# geographic stratification).
FRAME_ORDER = "school_code"


class SamplingPlan(Base):
    """One campaign's draw of schools (PPS by enrolment, systematic, per stratum)."""

    __tablename__ = "sampling_plan"
    __table_args__ = (CheckConstraint("seed >= 0", name="seed"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), unique=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    frame_order: Mapped[str] = mapped_column(String(20), default=FRAME_ORDER)
    size_measure: Mapped[str] = mapped_column(String(20), default="enrolment")
    drawn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    strata: Mapped[list[PlanStratum]] = relationship(
        cascade="all, delete-orphan", order_by="PlanStratum.id"
    )
    schools: Mapped[list[PlanSchool]] = relationship(
        cascade="all, delete-orphan", order_by="(PlanSchool.stratum_id, PlanSchool.frame_order)"
    )
    quotas: Mapped[list[PlanQuota]] = relationship(
        cascade="all, delete-orphan", order_by="(PlanQuota.school_id, PlanQuota.respondent_group)"
    )


class PlanStratum(Base):
    """A stratum's allocation and its random start."""

    __tablename__ = "plan_stratum"
    __table_args__ = (
        UniqueConstraint("plan_id", "stratum_id"),
        CheckConstraint("schools_drawn >= 0", name="schools_drawn"),
        CheckConstraint("random_start >= 0 AND random_start < 1", name="random_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("sampling_plan.id", ondelete="CASCADE"))
    stratum_id: Mapped[int] = mapped_column(ForeignKey("stratum.id"))
    schools_drawn: Mapped[int] = mapped_column(Integer)  # n_h
    random_start: Mapped[float] = mapped_column(Float)  # u of UPsystematic

    stratum: Mapped[Stratum] = relationship()


class PlanSchool(Base):
    """A frame school in the draw: its position, size, π and whether it was selected."""

    __tablename__ = "plan_school"
    __table_args__ = (
        UniqueConstraint("plan_id", "school_id"),
        CheckConstraint("inclusion_probability >= 0 AND inclusion_probability <= 1", name="pi"),
        CheckConstraint("frame_order >= 1", name="frame_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("sampling_plan.id", ondelete="CASCADE"), index=True
    )
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"))
    stratum_id: Mapped[int] = mapped_column(ForeignKey("stratum.id"))
    frame_order: Mapped[int] = mapped_column(Integer)  # 1-based, within the stratum
    size: Mapped[int] = mapped_column(Integer)
    inclusion_probability: Mapped[float] = mapped_column(Float)
    selected: Mapped[bool] = mapped_column(Boolean)  # as drawn; never changed afterwards
    # After the freeze: a selected school that refused to take part, and the frame
    # school that replaced it (its row names the refused school's row).
    refused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    substitute_for_id: Mapped[int | None] = mapped_column(ForeignKey("plan_school.id"), unique=True)

    school: Mapped[School] = relationship()

    @property
    def in_field(self) -> bool:
        """Drawn and not refused, or a substitute for a school that refused."""
        return (self.selected and not self.refused) or self.substitute_for_id is not None


class PlanQuota(Base):
    """The second stage at a selected school: how many of one group are to answer
    (``planned``, the codes to issue) out of how many the school has (``population``,
    M of the weight M/m)."""

    __tablename__ = "plan_quota"
    __table_args__ = (
        UniqueConstraint("plan_id", "school_id", "respondent_group"),
        CheckConstraint(sql_in("respondent_group", RESPONDENT_GROUPS), name="respondent_group"),
        CheckConstraint("planned >= 0 AND planned <= population", name="planned"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("sampling_plan.id", ondelete="CASCADE"), index=True
    )
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"))
    respondent_group: Mapped[str] = mapped_column(String(12))
    planned: Mapped[int] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(Integer)

    school: Mapped[School] = relationship()
