"""A campaign is one county's evaluation round; its strata and group populations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.models.base import Base, as_utc
from survey_app.vocabulary import (
    CAMPAIGN_STATUSES,
    LOCATIONS,
    RESPONDENT_GROUPS,
    SCHOOL_LEVELS,
    STAGES,
    STRATUM_KINDS,
    VERDICT_RULES,
    sql_in,
    stratum_code,
)


class Campaign(Base):
    """One county's survey round at one stage (自评, 省级, 国家) within a collection window."""

    __tablename__ = "campaign"
    __table_args__ = (
        CheckConstraint(sql_in("stage", STAGES), name="stage"),
        CheckConstraint(sql_in("status", CAMPAIGN_STATUSES), name="status"),
        CheckConstraint("closes_at > opens_at", name="window"),
        CheckConstraint("key <> ''", name="key"),
        CheckConstraint("threshold > 0 AND threshold < 1", name="threshold"),
        CheckConstraint(sql_in("verdict_rule", VERDICT_RULES), name="verdict_rule"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # How staff and the command line name a campaign (--campaign KEY), e.g. 2026-hx-self.
    key: Mapped[str] = mapped_column(String(40), unique=True)
    county_code: Mapped[str] = mapped_column(String(12))  # GB/T 2260 administrative code
    county_name: Mapped[str] = mapped_column(String(80))
    stage: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resident_population: Mapped[int] = mapped_column(Integer)
    # The 85% rule as this province applies it (analysis.RecognitionRule): the threshold,
    # and whether "met" needs the one-sided lower confidence bound at or above it
    # ("confidence") or only the estimate ("point").
    threshold: Mapped[float] = mapped_column(Float, default=0.85)
    verdict_rule: Mapped[str] = mapped_column(String(12), default="confidence")
    # Policy weight of each respondent group in the county score (group → weight, summing
    # to 1); NULL: the national composition (parents 0.5, the other groups share 0.5).
    policy_weights: Mapped[dict[str, float] | None] = mapped_column(JSON(none_as_null=True))

    strata: Mapped[list[Stratum]] = relationship(back_populates="campaign")
    group_populations: Mapped[list[GroupPopulation]] = relationship(back_populates="campaign")

    def is_collecting(self, now: datetime) -> bool:
        """True while respondents may answer: open status and inside the window."""
        return is_collecting(self.status, self.opens_at, self.closes_at, now)


def is_collecting(status: str, opens_at: datetime, closes_at: datetime, now: datetime) -> bool:
    """The fieldwork rule, for a campaign object and for a row read without one."""
    return status == "open" and as_utc(opens_at) <= now < as_utc(closes_at)


class Stratum(Base):
    """A sampling stratum. Schools: a location (城区/镇区/乡村) crossed with a school
    level, the schools its clusters. Lists: deputies or members, each person a unit
    (fpc = the list's size). Areas: the residents answering through one open link."""

    __tablename__ = "stratum"
    __table_args__ = (
        UniqueConstraint("campaign_id", "code"),
        UniqueConstraint("id", "campaign_id", name="uq_stratum_id_campaign"),
        CheckConstraint(sql_in("kind", STRATUM_KINDS), name="kind"),
        CheckConstraint(sql_in("location", LOCATIONS), name="location"),
        CheckConstraint(sql_in("school_level", SCHOOL_LEVELS), name="school_level"),
        CheckConstraint(
            "(kind = 'school' AND location IS NOT NULL AND school_level IS NOT NULL)"
            " OR (kind <> 'school' AND location IS NULL AND school_level IS NULL)",
            name="school_columns",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(8), default="school", server_default="school")
    location: Mapped[str | None] = mapped_column(String(12))
    school_level: Mapped[str | None] = mapped_column(String(16))

    campaign: Mapped[Campaign] = relationship(back_populates="strata")

    @classmethod
    def of_schools(cls, campaign_id: int, location: str, school_level: str) -> Stratum:
        """The school stratum location × level, named as the CLI and exports name it."""
        return cls(
            campaign_id=campaign_id,
            code=stratum_code(location, school_level),
            kind="school",
            location=location,
            school_level=school_level,
        )


class GroupPopulation(Base):
    """How many people of one respondent group live in the county: the weighting target."""

    __tablename__ = "group_population"
    __table_args__ = (
        UniqueConstraint("campaign_id", "respondent_group"),
        CheckConstraint(sql_in("respondent_group", RESPONDENT_GROUPS), name="respondent_group"),
        CheckConstraint("population >= 0", name="population"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    respondent_group: Mapped[str] = mapped_column(String(12))
    population: Mapped[int] = mapped_column(Integer)

    campaign: Mapped[Campaign] = relationship(back_populates="group_populations")
