"""A notification, each person's state of it, and each person's e-mail settings."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db
from idp.models_common import BigId, UTCDateTime

# The category of an AT/MP rate decision: also shown to the client's accounting firm (the
# declarant of its latest DSN), whatever the firm's habilitations.
ATMP_RATE = "taux_atmp"


class Notification(db.Model):
    """One notice for one establishment and one service, published by the partner hosting
    that service. Kept for everyone: a person's reading, archiving or deleting is theirs."""

    __tablename__ = "notifications"
    __table_args__ = (
        # The partner's idempotency key: publishing the same key again finds this row.
        UniqueConstraint("client_id", "key", name="uq_notifications_key"),
        # « What is there for these (service, SIRET) pairs? », the list's probe per right.
        Index("ix_notifications_service_siret", "service_code", "siret", "id"),
        Index("ix_notifications_service_siren", "service_code", "siren", "id"),
        # The accounting firm's rates, by its clients' SIRETs.
        Index("ix_notifications_category_siret", "category", "siret", "id"),
        # The sender's question: what has not been mailed yet.
        Index("ix_notifications_unmailed", "id", sqlite_where=db.text("mailed_at IS NULL"),
              postgresql_where=db.text("mailed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(100))
    siret: Mapped[str] = mapped_column(ForeignKey("establishments.siret"))
    siren: Mapped[str] = mapped_column(String(9))
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"))
    category: Mapped[str | None] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(2000))
    document: Mapped[str | None] = mapped_column(String(2000))
    # The yearly campaign: accounting firms are e-mailed first, without waiting for the week.
    campaign: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the e-mails it calls for were queued (one per person, or a digest to come).
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationState(db.Model):
    """What one person did with one notification; no row: unread."""

    __tablename__ = "notification_states"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailSettings(db.Model):
    """A person's notification e-mails: one per notice, or the weekly digest; and the
    digest's progress (the notices up to ``through_id`` were in one already)."""

    __tablename__ = "notification_mail_settings"
    __table_args__ = (
        Index("ix_notification_mail_settings_pending", "pending_since",
              sqlite_where=db.text("pending_since IS NOT NULL"),
              postgresql_where=db.text("pending_since IS NOT NULL")),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    weekly_digest: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when a notice for the digest arrives; cleared by the digest that carries it.
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    campaign_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    through_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
