"""What a person decided about one school's group that the integrity checks looked at
(``survey_app/integrity``): keep its answers, or set aside those submitted up to the
decision (the evaluators' call, or the supervisor's when the group is surveyed again).

One row per (campaign, school, group), the latest decision; every decision, with its
reason, is also appended to the audit log, so the history stays. The analysis reads
these rows: a set-aside cell's responses submitted up to ``decided_at`` are left out
of every figure (``results/loader.py``), and counted as set aside; a group surveyed
again gets its planned codes anew (``plan/code_batches.py``), its unused ones revoked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from survey_app.models.base import Base
from survey_app.vocabulary import INTEGRITY_DECISIONS, SCHOOL_GROUPS, sql_in


class IntegrityDecision(Base):
    __tablename__ = "integrity_decision"
    __table_args__ = (
        UniqueConstraint("campaign_id", "school_id", "respondent_group", name="uq_integrity_cell"),
        CheckConstraint(sql_in("decision", INTEGRITY_DECISIONS), name="decision"),
        CheckConstraint(sql_in("respondent_group", SCHOOL_GROUPS), name="respondent_group"),
        CheckConstraint("length(reason) > 0", name="reason"),
        ForeignKeyConstraint(
            ["school_id", "campaign_id"],
            ["school.id", "school.campaign_id"],
            name="fk_integrity_school_same_campaign",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"))
    respondent_group: Mapped[str] = mapped_column(String(12))
    decision: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(254))  # a staff e-mail, or "command line"
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # A group surveyed again: its codes answered by then, which no longer count as the
    # plan's codes issued, so that the codes page issues the group's planned codes anew.
    codes_answered_before: Mapped[int | None] = mapped_column(Integer)
