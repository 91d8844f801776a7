"""One-time codes: a sampled respondent slot, its draft in progress, never a person.

* A :class:`OneTimeCode` knows the campaign, group and stratum it was issued for, and
  the school (PSU) when its group is reached through schools; never a person: who
  received which QR slip is not recorded anywhere. Only a SHA-256 digest of the code is
  stored, so a database dump cannot be turned back into links.
* Saved answers are shown only to the browser that started them (``resume_digest``):
  another phone with the same slip may continue, but sees none of them.
* At submission the code is marked ``used`` without a timestamp and its draft is erased
  in the transaction that stores the response, which has no link back to it
  (``models/response.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.models.base import Base
from survey_app.models.campaign import Campaign
from survey_app.models.frame import School
from survey_app.vocabulary import CODE_STATUSES, READING_LEVELS, RESPONDENT_GROUPS, sql_in


class OneTimeCode(Base):
    """A single-use access code for one sampled respondent slot (not a person)."""

    __tablename__ = "one_time_code"
    __table_args__ = (
        CheckConstraint(sql_in("respondent_group", RESPONDENT_GROUPS), name="respondent_group"),
        CheckConstraint(sql_in("status", CODE_STATUSES), name="status"),
        CheckConstraint(
            "reading_level IS NULL OR " + sql_in("reading_level", READING_LEVELS),
            name="reading_level",
        ),
        ForeignKeyConstraint(
            ["school_id", "campaign_id"],
            ["school.id", "school.campaign_id"],
            name="fk_one_time_code_school_same_campaign",
        ),
        # The code's stratum is its school's own, in the code's campaign.
        ForeignKeyConstraint(
            ["school_id", "stratum_id"],
            ["school.id", "school.stratum_id"],
            name="fk_one_time_code_school_own_stratum",
        ),
        ForeignKeyConstraint(
            ["stratum_id", "campaign_id"],
            ["stratum.id", "stratum.campaign_id"],
            name="fk_one_time_code_stratum_same_campaign",
        ),
        CheckConstraint("open_link_id IS NULL OR school_id IS NULL", name="open_link_no_school"),
        CheckConstraint("held_until IS NULL OR open_link_id IS NOT NULL", name="held_open_link"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)  # sha256(code)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    # NULL for people drawn from a list (deputies, members) or come by an open link.
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id"), index=True)
    stratum_id: Mapped[int] = mapped_column(ForeignKey("stratum.id"), index=True)
    # A code made when someone opened an open link: it holds one of the link's slots
    # until ``held_until`` (moved on at every save), then the slot may be given back.
    # Both are cleared at submission: a used code keeps no time.
    open_link_id: Mapped[int | None] = mapped_column(ForeignKey("open_link.id"), index=True)
    held_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    respondent_group: Mapped[str] = mapped_column(String(12))
    reading_level: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default="issued")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The answers given so far, saved page by page: {"lang": .., "answers": {item: code}, ..}.
    # Erased (SQL NULL) when the response is submitted.
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # SHA-256 of a random token held in the cookie of the browser that opened the code
    # first: only that browser is shown the saved answers (a school that kept the slip
    # can finish the questionnaire, as it could anyway, but cannot read the answers).
    resume_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    # Moved on by every write of the draft (and by submission): a save writes only if
    # the row is still the one it read (compare-and-swap), so saving a screen takes no
    # row lock and no transaction of its own (respond/services.save_draft).
    revision: Mapped[int] = mapped_column(default=0, server_default="0")

    school: Mapped[School | None] = relationship(foreign_keys=[school_id])
    campaign: Mapped[Campaign] = relationship(foreign_keys=[campaign_id])
