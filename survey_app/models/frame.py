"""The school frame: the sampling clusters of a campaign."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.models.base import Base
from survey_app.models.campaign import Stratum
from survey_app.vocabulary import LOCATIONS, SCHOOL_LEVELS, sql_in


class School(Base):
    """A school (or 教学点) of the county with the counts that size its populations."""

    __tablename__ = "school"
    __table_args__ = (
        UniqueConstraint("campaign_id", "code"),
        CheckConstraint(sql_in("level", SCHOOL_LEVELS), name="level"),
        CheckConstraint(sql_in("location", LOCATIONS), name="location"),
        CheckConstraint("enrolment >= 0 AND teachers >= 0", name="counts"),
        # Targets for composite keys elsewhere: a row that names a school and its
        # stratum or campaign must name the school's own (PSUs nest in strata).
        UniqueConstraint("id", "stratum_id", name="uq_school_id_stratum"),
        UniqueConstraint("id", "campaign_id", name="uq_school_id_campaign"),
        ForeignKeyConstraint(
            ["stratum_id", "campaign_id"],
            ["stratum.id", "stratum.campaign_id"],
            name="fk_school_stratum_same_campaign",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    stratum_id: Mapped[int] = mapped_column(ForeignKey("stratum.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))  # 学校标识码
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(String(12))
    enrolment: Mapped[int] = mapped_column(Integer)
    teachers: Mapped[int] = mapped_column(Integer)
    # Pupils per grade ("1" … "9" → count) when the frame gives them: students are drawn
    # by grade (grades 3-6 read the primary questionnaire, 7-9 the junior one).
    grade_enrolments: Mapped[dict[str, int] | None] = mapped_column(JSON(none_as_null=True))

    stratum: Mapped[Stratum] = relationship(foreign_keys=[stratum_id])
