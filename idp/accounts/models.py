"""Accounts: the people who sign in for an establishment, and their second factors."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.directory.models import Establishment
from idp.extensions import db
from idp.models_common import UTCDateTime, utcnow


class Role(enum.StrEnum):
    """What an account may do for its company."""

    ADMINISTRATOR = "administrator"
    DECLARANT = "declarant"


class Status(enum.StrEnum):
    """Where an account stands in its life."""

    PENDING_EMAIL = "pending_email"
    ACTIVE = "active"
    CANDIDATE_ADMIN = "candidate_admin"
    LOCKED = "locked"
    REMOVED = "removed"


def _str_enum(enum_class: type[enum.StrEnum], name: str) -> Enum:
    """A portable enum column: a VARCHAR with a CHECK constraint on both databases."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


class Account(db.Model):
    """A person who signs in with SIRET + Nom + Prénom + mot de passe; ``id`` is the OIDC sub."""

    __tablename__ = "accounts"
    __table_args__ = (
        # The login triple, unique among accounts that are not removed; also the sign-in lookup.
        Index(
            "uq_accounts_login",
            "siret",
            "last_name_key",
            "first_name_key",
            unique=True,
            sqlite_where=text("status != 'removed'"),
            postgresql_where=text("status != 'removed'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    siret: Mapped[str] = mapped_column(ForeignKey("establishments.siret"))
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    # Case- and accent-folded names (see accounts.names.name_key): what sign-in compares.
    last_name_key: Mapped[str] = mapped_column(String(100))
    first_name_key: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(20))
    mobile: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[Role] = mapped_column(_str_enum(Role, "account_role"))
    status: Mapped[Status] = mapped_column(_str_enum(Status, "account_status"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    secret_question: Mapped[str | None] = mapped_column(String(200))
    secret_answer_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # Last TOTP time step accepted: a code of that step or an earlier one is a replay.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    establishment: Mapped[Establishment] = relationship()
    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )
    passkeys: Mapped[list[Passkey]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="Passkey.id"
    )

    @property
    def has_second_factor(self) -> bool:
        """Whether sign-in asks for a second step: an authenticator app or a passkey."""
        return bool(self.totp_secret) or bool(self.passkeys)

    @property
    def is_administrator(self) -> bool:
        """Whether the account has the administrator role (active or still a candidate)."""
        return self.role is Role.ADMINISTRATOR

    @property
    def is_active_administrator(self) -> bool:
        """Whether the account may manage its company now: the one definition every
        administrator page and service uses (a candidate is not one yet)."""
        return self.role is Role.ADMINISTRATOR and self.status is Status.ACTIVE


class RecoveryCode(db.Model):
    """A one-use 2FA recovery code, stored hashed."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(Text)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship(back_populates="recovery_codes")


class ResetRequestStatus(enum.StrEnum):
    """Where a request to the administrators stands."""

    PENDING = "pending"
    LINK_SENT = "link_sent"
    REFUSED = "refused"


class PasswordResetRequest(db.Model):
    """A person asked the administrators of their establishment to reset their password."""

    __tablename__ = "password_reset_requests"
    __table_args__ = (Index("ix_password_reset_requests_siret", "siret", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    siret: Mapped[str] = mapped_column(String(14))
    status: Mapped[ResetRequestStatus] = mapped_column(
        _str_enum(ResetRequestStatus, "reset_request_status"), default=ResetRequestStatus.PENDING)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()


class ApplicationPassword(db.Model):
    """A named secret a person gives to payroll software instead of their password: valid
    only at ``/authentifier/1.0/``, stored as a SHA-256 digest (it is random and long)."""

    __tablename__ = "application_passwords"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClientCertificate(db.Model):
    """An X.509 certificate a person registered to sign in with; known by its SHA-256
    fingerprint (the certificate itself is public and not kept)."""

    __tablename__ = "client_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(500))
    issuer: Mapped[str] = mapped_column(String(500))
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()


class Passkey(db.Model):
    """A WebAuthn credential (a passkey or security key) used as the second sign-in step:
    its id and public key, as the authenticator gave them at registration."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship(back_populates="passkeys")
