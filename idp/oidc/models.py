"""Partner sites (OAuth clients) and the IdP's signing keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.extensions import db
from idp.habilitations.models import Service
from idp.models_common import BigId, UTCDateTime, utcnow

# Which services a partner hosts: its tokens carry habilitations on these services only.
client_services = Table(
    "client_services",
    db.metadata,
    Column("client_pk", ForeignKey("oauth_clients.id", ondelete="CASCADE"), primary_key=True),
    Column("service_code", ForeignKey("services.code"), primary_key=True),
)


class OAuthClient(db.Model):
    """A partner site registered with the IdP."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 of a high-entropy secret (docs/architecture.md §6): argon2 would slow every
    # token call.
    client_secret_digest: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    initiate_login_uri: Mapped[str | None] = mapped_column(String(500))
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(500))
    widget_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The partners (client_ids) this one may ask tokens for by token exchange (RFC 8693).
    exchange_audiences: Mapped[list[str]] = mapped_column(JSON, default=list,
                                                          server_default="[]")
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    response_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text, default="openid")
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(40), default="client_secret_basic"
    )
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="RS256")
    jwks: Mapped[dict | None] = mapped_column(JSON)  # for private_key_jwt
    theme: Mapped[dict] = mapped_column(JSON, default=dict)  # widget colours, logo, labels
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    services: Mapped[list[Service]] = relationship(secondary=client_services)


class SigningKey(db.Model):
    """A key the IdP signs tokens with; its public half stays in the JWKS until ``expires_at``."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10))
    private_jwk: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signs_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RefreshToken(db.Model):
    """A refresh token (stored as its SHA-256), one link of a rotation family.

    Each use rotates it: the old one is marked used and a new one joins the family. A used
    token presented again means it leaked; the whole family is then revoked (RFC 9700 §4.14).
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family_id"),
                      Index("ix_refresh_tokens_account", "account_id"),
                      # Sign-out revokes the session's live tokens: found by this index,
                      # not by a scan of every token ever issued.
                      Index("ix_refresh_tokens_live_sid", "sid",
                            sqlite_where=text("revoked_at IS NULL"),
                            postgresql_where=text("revoked_at IS NULL")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    sid: Mapped[str | None] = mapped_column(String(64))
    auth_time: Mapped[int | None] = mapped_column(BigInteger)
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    acr: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthorizationGrant(db.Model):
    """That an account let a partner in, with which scopes, first and last time.

    Registered partners are trusted federation members, so no consent screen is shown; the
    grant is still recorded, for the account's history and for audits.
    """

    __tablename__ = "authorization_grants"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(Text)
    first_granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
