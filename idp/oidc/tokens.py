"""Refresh token families, authorization codes and access-token revocation (no Flask here)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.audit.service import AuditJournal
from idp.hashing import sha256_hex as digest
from idp.models_common import utcnow
from idp.oidc.models import RefreshToken
from idp.store import Store


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    """An authorization code as kept in the store until redeemed (one minute at most)."""

    client_id: str
    redirect_uri: str
    scope: str
    account_id: str
    family_id: str
    sid: str | None = None
    nonce: str | None = None
    auth_time: int | None = None
    amr: list[str] = field(default_factory=list)
    acr: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    expires_at: float = 0.0  # the store's TTL forgets it too; this is the rule

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return self.acr

    def get_amr(self):
        return self.amr or None


class CodeStore:
    """Authorization codes: one use each; a second use revokes what the first issued."""

    def __init__(self, store: Store, lifetime: int, clock: Callable[[], float] = time.time):
        self._store = store
        self._lifetime = lifetime
        self._clock = clock

    def save(self, code: str, record: AuthorizationCode) -> None:
        """Keep ``record`` under the code's digest for the code's lifetime."""
        record.expires_at = self._clock() + self._lifetime
        self._store.set(f"oidc-code:{digest(code)}", json.dumps(asdict(record)), self._lifetime)

    def redeem(self, code: str) -> tuple[AuthorizationCode | None, str | None]:
        """Take the code (atomically); return (record, None), or (None, family to revoke)."""
        key = digest(code)
        raw = self._store.pop(f"oidc-code:{key}")
        if raw is None:
            # RFC 6749 §4.1.2: a code used twice SHOULD revoke the tokens it gave.
            return None, self._store.get(f"oidc-code-used:{key}")
        record = AuthorizationCode(**json.loads(raw))
        self._store.set(f"oidc-code-used:{key}", record.family_id, 24 * 3600)
        if record.expires_at <= self._clock():
            return None, None  # RFC 6749 §4.1.2: a code lives a short while
        return record, None


class RevocationList:
    """Access tokens are stateless JWTs; revoked ones are listed here until they expire."""

    def __init__(self, store: Store, access_token_lifetime: int):
        self._store = store
        self._lifetime = access_token_lifetime

    def remember_issued(self, family_id: str, jti: str) -> None:
        """Note that ``jti`` belongs to ``family_id``, so revoking the family reaches it."""
        self._store.add_member(f"oidc-family-jti:{family_id}", jti, self._lifetime)

    def revoke_jti(self, jti: str, ttl: int | None = None) -> None:
        """List one access token as revoked until it would have expired anyway."""
        self._store.set(f"oidc-revoked-jti:{jti}", "1", max(1, ttl or self._lifetime))

    def revoke_family(self, family_id: str) -> None:
        """List every live access token of a family as revoked."""
        for jti in self._store.members(f"oidc-family-jti:{family_id}"):
            self.revoke_jti(jti)

    def is_revoked(self, jti: str) -> bool:
        """Whether the access token ``jti`` was revoked."""
        return self._store.get(f"oidc-revoked-jti:{jti}") is not None


@dataclass(frozen=True)
class LoginContext:
    """Who signed in and how: what tokens say in sub, auth_time, amr, acr and sid."""

    account_id: str
    auth_time: int | None
    amr: tuple[str, ...]
    acr: str | None
    sid: str | None
    family_id: str
    services: frozenset[str] = frozenset()  # what the requesting partner hosts

    def get_user_id(self):
        return self.account_id


class RefreshTokens:
    """Issues, rotates and revokes refresh tokens in families."""

    def __init__(self, session: Session, revocations: RevocationList, journal: AuditJournal,
                 lifetime: timedelta):
        self._session = session
        self._revocations = revocations
        self._journal = journal
        self._lifetime = lifetime

    def store(self, token: str, client_id: str, scope: str, login: LoginContext) -> None:
        """Record a new refresh token of ``login``'s family."""
        self._session.add(RefreshToken(
            token_digest=digest(token), family_id=login.family_id, client_id=client_id,
            account_id=uuid.UUID(login.account_id), scope=scope, sid=login.sid,
            auth_time=login.auth_time, amr=list(login.amr), acr=login.acr,
            issued_at=utcnow(), expires_at=utcnow() + self._lifetime))
        self._session.commit()

    def claim(self, token: str) -> RefreshToken | None:
        """Take a refresh token for one rotation, or None; reuse revokes its family.

        The UPDATE … WHERE used_at IS NULL makes the claim atomic: of two concurrent uses of
        one token, only one wins, and the loser is treated as a reuse.
        """
        row = self._session.scalar(
            select(RefreshToken).where(RefreshToken.token_digest == digest(token)))
        if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
            return None
        claimed = self._session.execute(
            update(RefreshToken).where(RefreshToken.id == row.id,
                                       RefreshToken.used_at.is_(None))
            .values(used_at=utcnow())).rowcount
        self._session.commit()
        if not claimed:
            self.revoke_family(row.family_id, reason="refresh_token_reuse",
                               account_id=row.account_id, client_id=row.client_id)
            return None
        return row

    def revoke_family(self, family_id: str, *, reason: str, account_id=None,
                      client_id=None) -> None:
        """Revoke every refresh and access token of a family, and journal why."""
        self._session.execute(update(RefreshToken).where(
            RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None)
        ).values(revoked_at=utcnow()))
        self._revocations.revoke_family(family_id)
        self._journal.record("token.family_revoked", "success",
                             account_id=account_id,
                             details={"reason": reason, "client_id": client_id,
                                      "family": family_id})
        self._session.commit()

    def find(self, token: str) -> RefreshToken | None:
        """The refresh token row for ``token``, whatever its state."""
        return self._session.scalar(
            select(RefreshToken).where(RefreshToken.token_digest == digest(token)))
