"""Staff accounts: who may sign in, in which role, for which campaigns.

Respondents never have accounts (they hold one-time codes). A supervisor or an
evaluator sees only the campaigns granted to them (:class:`CampaignAccess`); an admin
sees every campaign. Passwords are stored as argon2id hashes only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.models.base import Base
from survey_app.models.campaign import Campaign
from survey_app.security import password_fingerprint
from survey_app.vocabulary import STAFF_ROLES, sql_in


class User(Base):
    """A member of staff; ``email`` is stored in lower case (the login name)."""

    __tablename__ = "staff_user"
    __table_args__ = (
        CheckConstraint(sql_in("role", STAFF_ROLES), name="role"),
        CheckConstraint("email = lower(email)", name="email_lower_case"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(12))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    campaigns: Mapped[list[Campaign]] = relationship(
        secondary="campaign_access", order_by="Campaign.opens_at.desc()"
    )

    # Flask-Login's user interface.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The id and the password's fingerprint: a new password (set or reset) ends
        every session signed in with the old one (``auth.views.load_user``)."""
        return f"{self.id}.{password_fingerprint(self.password_hash)}"


class CampaignAccess(Base):
    """A campaign granted to a supervisor or an evaluator."""

    __tablename__ = "campaign_access"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True
    )
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True, index=True
    )
