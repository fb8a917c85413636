"""The queue of deliveries waiting to be made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db
from idp.models_common import BigId, UTCDateTime


class Delivery(db.Model):
    """One e-mail or one partner notification, until it is made (then the row goes) or given
    up (``failed_at`` set, kept a week for the operators)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # The worker's question: what is due and not given up; failed rows stay out of it.
        Index("ix_deliveries_due", "next_attempt_at", sqlite_where=db.text("failed_at IS NULL"),
              postgresql_where=db.text("failed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)  # JSON, read by the kind's handler
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A worker's lease: another worker leaves the row alone until then.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
