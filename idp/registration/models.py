"""Registrations in progress and administrator candidacies."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.accounts.models import Account, _str_enum
from idp.extensions import db
from idp.models_common import UTCDateTime, utcnow


class Registration(db.Model):
    """An unfinished « inscription »: survives reloads and the back button, purged later."""

    __tablename__ = "registrations"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)  # random, kept in the session
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    step: Mapped[int] = mapped_column(Integer, default=1)  # the furthest step reached
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CandidacyStatus(enum.StrEnum):
    """Where an administrator candidacy stands."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REFUSED = "refused"


class AdminCandidacy(db.Model):
    """A later administrator (« candidat AD ») waiting for cooptation or an activation key."""

    __tablename__ = "admin_candidacies"
    __table_args__ = (Index("ix_admin_candidacies_siren", "siren", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                                  unique=True)
    siren: Mapped[str] = mapped_column(String(9))
    activation_key_hash: Mapped[str] = mapped_column(String(200))
    status: Mapped[CandidacyStatus] = mapped_column(
        _str_enum(CandidacyStatus, "candidacy_status"), default=CandidacyStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship(foreign_keys=[account_id])
