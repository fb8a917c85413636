"""Refresh token families, authorization codes and access-token revocation (no Flask here)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from idp.audit.service import AuditJournal
from idp.hashing import sha256_hex as digest
from idp.models_common import utcnow
from idp.oidc.models import RefreshToken
from idp.store import Store

# A rotation's two statements, built once (SQLAlchemy would rebuild them at every refresh).
_TABLE = RefreshToken.__table__
_INSERT = insert(_TABLE)
_CLAIM = (update(_TABLE)
          .where(_TABLE.c.token_digest == bindparam("digest"),
                 _TABLE.c.client_id == bindparam("client"), _TABLE.c.used_at.is_(None),
                 _TABLE.c.revoked_at.is_(None), _TABLE.c.expires_at > bindparam("now"))
          .values(used_at=bindparam("now")).returning(*_TABLE.c))

# The private claim that ties an access token to its refresh-token family, so that revoking
# the family reaches it (a private claim, RFC 7519 §4.3).
FAMILY_CLAIM = "token_family"


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

    # RFC 6749 §4.1.2: a code used twice SHOULD revoke the tokens it gave; its family is
    # remembered this long for that.
    REUSE_MEMORY_SECONDS = 24 * 3600

    def __init__(self, store: Store, lifetime: int, clock: Callable[[], float] = time.time):
        self._store = store
        self._lifetime = lifetime
        self._clock = clock

    def save(self, code: str, record: AuthorizationCode) -> None:
        """Keep ``record`` under the code's digest for the code's lifetime."""
        record.expires_at = self._clock() + self._lifetime
        key = digest(code)
        # The family is written before the code can be used, so that every use but the one
        # that takes the code finds it, however close together they come.
        self._store.set(f"oidc-code-family:{key}", record.family_id, self.REUSE_MEMORY_SECONDS)
        self._store.set(f"oidc-code:{key}", json.dumps(asdict(record)), self._lifetime)

    def redeem(self, code: str) -> tuple[AuthorizationCode | None, str | None]:
        """Take the code (atomically); return (record, None), or (None, family to revoke)."""
        key = digest(code)
        raw = self._store.pop(f"oidc-code:{key}")
        if raw is None:
            return None, self._store.get(f"oidc-code-family:{key}")
        record = AuthorizationCode(**json.loads(raw))
        if record.expires_at <= self._clock():
            return None, None  # RFC 6749 §4.1.2: a code lives a short while
        return record, None


class RevocationList:
    """Access tokens are stateless JWTs: revoked ones, and revoked families, are listed here
    until the tokens they cover have expired."""

    def __init__(self, store: Store, access_token_lifetime: int):
        self._store = store
        self._lifetime = access_token_lifetime

    def revoke_jti(self, jti: str, ttl: int | None = None) -> None:
        """List one access token as revoked until it would have expired anyway."""
        self._store.set(f"oidc-revoked-jti:{jti}", "1", max(1, ttl or self._lifetime))

    def revoke_family(self, family_id: str) -> None:
        """List a family as revoked: every access token it carries is refused.

        The mark lives one access-token lifetime from now. A token minted before it is set
        expires before it does; one minted into the family later is seen by
        ``family_revoked`` at issuance, which sets the mark again.
        """
        self._store.set(f"oidc-revoked-family:{family_id}", "1", self._lifetime)

    def family_revoked(self, family_id: str) -> bool:
        """Whether the family ``family_id`` was revoked (within an access-token lifetime)."""
        return self._store.get(f"oidc-revoked-family:{family_id}") is not None

    def is_revoked(self, claims: dict) -> bool:
        """Whether the access token with ``claims`` was revoked, alone or with its family."""
        family = claims.get(FAMILY_CLAIM)
        return (self._store.get(f"oidc-revoked-jti:{claims.get('jti', '')}") is not None
                or (family is not None and self.family_revoked(family)))


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
        """Record a new refresh token of ``login``'s family; if the family was revoked while
        it was being issued (a concurrent reuse), revoke it again so the newcomers die too."""
        now = utcnow()
        self._session.execute(_INSERT, {
            "token_digest": digest(token), "family_id": login.family_id,
            "client_id": client_id, "account_id": uuid.UUID(login.account_id),
            "scope": scope, "sid": login.sid, "auth_time": login.auth_time,
            "amr": list(login.amr), "acr": login.acr, "issued_at": now,
            "expires_at": now + self._lifetime})
        self._session.commit()
        # Checked after the commit: a revocation marks the family before its UPDATE, so it
        # either finds this row or its mark is seen here (RFC 9700 §4.14).
        if self._revocations.family_revoked(login.family_id):
            self._revoke(login.family_id)

    def claim(self, token: str, client_id: str):
        """Take ``client_id``'s refresh token for one rotation: its row (the columns of
        ``RefreshToken``), or None; reuse revokes its family. Another partner's token is
        left as it is (it may not use it up).

        One UPDATE … WHERE used_at IS NULL … RETURNING takes it: of two simultaneous uses of
        one token only one wins, and the loser finds it used, which is a reuse. Not committed
        here: the claim is committed with the token that replaces it (``store``), one
        transaction per rotation; until then the row stays locked (PostgreSQL) or the
        database reserved (SQLite), so a simultaneous use waits and then finds it used.
        """
        now = utcnow()
        claimed = self._session.execute(_CLAIM, {"digest": digest(token), "client": client_id,
                                                 "now": now}).one_or_none()
        if claimed is not None:
            return claimed
        self._session.rollback()
        row = self.find(token)
        if row is not None and row.client_id == client_id and row.used_at is not None \
                and row.revoked_at is None and row.expires_at > now:
            self.revoke_family(row.family_id, reason="refresh_token_reuse",
                               account_id=row.account_id, client_id=row.client_id)
        return None

    def revoke_family(self, family_id: str, *, reason: str, account_id=None,
                      client_id=None) -> None:
        """Revoke every refresh and access token of a family, and journal why."""
        self._revoke(family_id)
        self._journal.record("token.family_revoked", "success",
                             account_id=account_id,
                             details={"reason": reason, "client_id": client_id,
                                      "family": family_id})
        self._session.commit()

    def _revoke(self, family_id: str) -> None:
        # The mark first, the rows after: see ``store``.
        self._revocations.revoke_family(family_id)
        self._session.execute(update(RefreshToken).where(
            RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None)
        ).values(revoked_at=utcnow()))
        self._session.commit()

    def find(self, token: str) -> RefreshToken | None:
        """The refresh token row for ``token``, whatever its state."""
        return self._session.scalar(
            select(RefreshToken).where(RefreshToken.token_digest == digest(token)))
