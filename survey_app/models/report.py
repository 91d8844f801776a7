"""A certification report as issued: the signed PDF and what it was made from.

A row is written once, when the report is issued (``results/report.py``), and never
changed. ``public_id`` is what the report prints and its QR code links to
(``/verify/<public_id>``): 16 random bytes, so it names one report without being
guessable. ``sha256`` is the hash of the final signed file, which anyone holding a copy
can compare; ``pdf`` keeps those exact bytes for re-download (a report is a few hundred
KB, a campaign has a handful: kept with its row, in the same transaction and backup).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from survey_app.models.base import Base


class CertificationReport(Base):
    __tablename__ = "certification_report"
    __table_args__ = (
        CheckConstraint("length(sha256) = 64", name="sha256"),
        CheckConstraint("length(public_id) >= 16", name="public_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_by: Mapped[str] = mapped_column(String(254))  # a staff e-mail, or "command line"
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # hex, of the signed PDF
    # The evaluation the report prints (results.evaluation.evaluation_json), as issued.
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # read on download only
