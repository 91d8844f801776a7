"""The stored anonymous responses and their answers.

Anonymity by construction
-------------------------
* A :class:`Response` has no foreign key to its code and no column a code could be
  matched on: at submission the response is written from the code's *sampling cell*
  (campaign, group, school, stratum, reading level), the code is marked ``used`` without
  a timestamp and its draft is erased in the same transaction (see ``models/code.py``).
* No table has a column for a name, a phone number or an IP address; rate limiting keys
  on a keyed hash of the address held only in the limiter's expiring store.
* The submission time is kept to the minute (for burst detection); with many codes per
  school the time does not identify a code either.

What this does not cover: someone with administrator access to the live database
server (transaction ids such as PostgreSQL's ``xmin``, write-ahead logs and dead row
versions can tie the code update to the response insert of the same transaction), and
groups with one member per school (a principal's response names its school). Reports
must suppress such cells; the database and its backups are kept from schools.

Reading a million responses fast
--------------------------------
Answers are small integers (0 = 不了解) in a long table, so new questionnaire versions
need no schema change. Each response also carries them packed, one byte per item
(``answer_codes``, see ``survey_app/answer_codes.py``): analysis reads a campaign with
one narrow, index-backed query of ``response`` by ``campaign_id`` straight into numpy
arrays, and touches the long table only for responses without the packed form.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.models.base import Base
from survey_app.vocabulary import RESPONDENT_GROUPS, sql_in


class Response(Base):
    """One submitted questionnaire; knows its sampling cell and questionnaire version only."""

    __tablename__ = "response"
    __table_args__ = (
        CheckConstraint(sql_in("respondent_group", RESPONDENT_GROUPS), name="respondent_group"),
        CheckConstraint("questionnaire_version >= 1", name="questionnaire_version"),
        Index("ix_response_campaign_group", "campaign_id", "respondent_group"),
        UniqueConstraint("id", "campaign_id", name="uq_response_id_campaign"),
        # The sampling cell is the school's own: its stratum and its campaign.
        ForeignKeyConstraint(
            ["school_id", "stratum_id"],
            ["school.id", "school.stratum_id"],
            name="fk_response_school_own_stratum",
        ),
        ForeignKeyConstraint(
            ["school_id", "campaign_id"],
            ["school.id", "school.campaign_id"],
            name="fk_response_school_same_campaign",
        ),
        ForeignKeyConstraint(
            ["stratum_id", "campaign_id"],
            ["stratum.id", "stratum.campaign_id"],
            name="fk_response_stratum_same_campaign",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    respondent_group: Mapped[str] = mapped_column(String(12))
    # The PSU; NULL for a person of a list or an open link's area, each their own unit.
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id"), index=True)
    stratum_id: Mapped[int] = mapped_column(ForeignKey("stratum.id"))
    reading_level: Mapped[str | None] = mapped_column(String(8))
    questionnaire_key: Mapped[str] = mapped_column(String(40))
    questionnaire_version: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8))
    submitted_minute: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    # The answers again, packed one byte per item of the version (``answer_codes.py``):
    # what the analysis reads. NULL for responses stored before it existed.
    answer_codes: Mapped[bytes | None] = mapped_column(LargeBinary)

    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", foreign_keys="Answer.response_id"
    )


class Answer(Base):
    """One item's answer: the option code (0 = 不了解, don't know)."""

    __tablename__ = "answer"
    __table_args__ = (
        CheckConstraint("value >= 0", name="value"),
        ForeignKeyConstraint(
            ["response_id", "campaign_id"],
            ["response.id", "response.campaign_id"],
            name="fk_answer_response_same_campaign",
            ondelete="CASCADE",
        ),
        # Leading campaign_id: analysis reads a whole campaign with one index range scan.
        Index("ix_answer_campaign_item", "campaign_id", "item_id"),
    )

    response_id: Mapped[int] = mapped_column(
        ForeignKey("response.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    value: Mapped[int] = mapped_column(SmallInteger)

    response: Mapped[Response] = relationship(back_populates="answers", foreign_keys=[response_id])
