"""Signing keys: kept in the database, cached per process, rotated by a CLI command.

Rotation publishes the new key in the JWKS first and signs with it only after a delay, so
that partners that cache the JWKS already know it; the old key stays published until every
token it signed has expired.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from joserfc.jwk import ECKey, Key, KeySet, RSAKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from idp.models_common import utcnow
from idp.oidc.models import SigningKey

ALGORITHMS = ("RS256", "ES256")


def generate_key(alg: str) -> Key:
    """A fresh private key for ``alg`` (RSA 2048 or P-256)."""
    params = {"alg": alg, "use": "sig"}
    if alg == "RS256":
        return RSAKey.generate_key(2048, parameters=params, auto_kid=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=params, auto_kid=True)
    raise ValueError(f"unsupported algorithm {alg}")


@dataclass(frozen=True)
class KeySnapshot:
    """What the database says at one moment: published keys and the current signers."""

    published: dict  # the JWKS document
    signers: dict[str, Key]  # alg → private key signing now
    valid_until: float  # time.monotonic() after which the database is read again


class KeyRing:
    """Reads and rotates the keys; one instance per app, with a short in-process cache."""

    def __init__(self, session_factory, cache_seconds: int = 30):
        self._session_factory = session_factory
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._snapshot: KeySnapshot | None = None

    def _session(self) -> Session:
        return self._session_factory()

    def _create_missing(self) -> None:
        """Create one key per algorithm where none signs yet (first start)."""
        session = self._session()
        now = utcnow()
        for alg in ALGORITHMS:
            current = session.scalar(select(SigningKey.kid).where(
                SigningKey.alg == alg, SigningKey.signs_from <= now,
                or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > now)))
            if current is None:
                session.add(_row(generate_key(alg), signs_from=now))
        session.commit()

    def rotate(self, publish_delay: timedelta, keep_after_retire: timedelta) -> list[str]:
        """Publish new keys now, sign with them after ``publish_delay``; return their kids.

        The keys they replace stop signing then, and leave the JWKS ``keep_after_retire``
        later (the longest lifetime of a token they signed).
        """
        session = self._session()
        now = utcnow()
        switch = now + publish_delay
        kids = []
        for alg in ALGORITHMS:
            for old in session.scalars(select(SigningKey).where(
                    SigningKey.alg == alg,
                    or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > switch))):
                old.retired_at = switch
                old.expires_at = switch + keep_after_retire
            key = generate_key(alg)
            session.add(_row(key, signs_from=switch))
            kids.append(key.kid)
        session.commit()
        self.invalidate()
        return kids

    def invalidate(self) -> None:
        """Forget the cache (after a change made by this process)."""
        with self._lock:
            self._snapshot = None

    def snapshot(self) -> KeySnapshot:
        """The keys as of at most ``cache_seconds`` ago (other workers' rotations included)."""
        snapshot = self._snapshot
        if snapshot is None or time.monotonic() >= snapshot.valid_until:
            with self._lock:
                snapshot = self._load()
                if set(snapshot.signers) != set(ALGORITHMS):  # first start: make the keys
                    self._create_missing()
                    snapshot = self._load()
                self._snapshot = snapshot
        return snapshot

    def _load(self) -> KeySnapshot:
        now = utcnow()
        rows = self._session().scalars(select(SigningKey).where(
            or_(SigningKey.expires_at.is_(None), SigningKey.expires_at > now)
        ).order_by(SigningKey.signs_from)).all()
        signers: dict[str, Key] = {}
        for row in rows:
            signing = row.signs_from <= now and (row.retired_at is None or row.retired_at > now)
            if signing:  # the newest signing key of each algorithm wins (rows are in order)
                signers[row.alg] = _import(row.private_jwk)
        published = {"keys": [json.loads(row.public_jwk) for row in rows]}
        # A key that starts or stops signing before the cache expires is picked up on time.
        changes = [r.signs_from for r in rows if r.signs_from > now]
        changes += [r.retired_at for r in rows if r.retired_at and r.retired_at > now]
        lifetime = min([self._cache_seconds] + [(c - now).total_seconds() for c in changes])
        return KeySnapshot(published=published, signers=signers,
                           valid_until=time.monotonic() + lifetime)

    def signer(self, alg: str) -> Key:
        """The private key signing ``alg`` tokens now."""
        return self.snapshot().signers[alg]

    def jwks(self) -> dict:
        """The public JWKS: signing keys, announced ones and retired ones still in use."""
        return self.snapshot().published

    def public_key_set(self) -> KeySet:
        """The published keys, to verify our own tokens."""
        return KeySet.import_key_set(self.jwks())


def _import(private_jwk: str) -> Key:
    data = json.loads(private_jwk)
    return (RSAKey if data["kty"] == "RSA" else ECKey).import_key(data)


def _row(key: Key, signs_from: datetime) -> SigningKey:
    return SigningKey(
        kid=key.kid,
        alg=key.alg,
        private_jwk=json.dumps(key.as_dict(private=True)),
        public_jwk=json.dumps(key.as_dict(private=False)),
        signs_from=signs_from,
        created_at=utcnow(),
    )
