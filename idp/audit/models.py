"""The security journal: one row per security-relevant event, never updated or deleted."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Index, String, Uuid, event
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db
from idp.models_common import BigId, UTCDateTime, utcnow


class AuditEvent(db.Model):
    """Who did what, when, from where, with which outcome."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_account", "account_id", "occurred_at"),
        Index("ix_audit_events_action", "action", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    # No foreign key: the journal outlives the accounts it speaks of.
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict] = mapped_column(JSON, default=dict)


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_changes(mapper, connection, target):
    """Append-only in the ORM too (the database refuses it as well, see the migration)."""
    raise PermissionError("Le journal d'audit ne peut être ni modifié ni effacé.")
