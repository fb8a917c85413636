"""Ending a session everywhere: the IdP session, its refresh tokens, and every partner that
took part in it, told through OpenID Connect Back-Channel Logout 1.0 — from the delivery
worker, so that a slow or absent partner never holds up a sign-out."""

from __future__ import annotations

import logging
import secrets
import time
import uuid

import requests
from joserfc import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.audit.service import AuditJournal
from idp.delivery.queue import DeliveryQueue, RetryLater
from idp.models_common import utcnow
from idp.oidc.clients import ClientRegistry
from idp.oidc.keys import KeyRing
from idp.oidc.models import RefreshToken
from idp.oidc.service import AuthorizationRecorder
from idp.oidc.tokens import RevocationList

log = logging.getLogger(__name__)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
BACKCHANNEL_LOGOUT = "backchannel_logout"  # the kind of delivery
DELIVERY_TIMEOUT_SECONDS = 5


class LogoutService:
    """Revokes a session's tokens and notifies its partners."""

    def __init__(self, session: Session, journal: AuditJournal, registry: ClientRegistry,
                 recorder: AuthorizationRecorder, keyring: KeyRing,
                 revocations: RevocationList, issuer: str, deliveries: DeliveryQueue):
        self._session = session
        self._journal = journal
        self._registry = registry
        self._recorder = recorder
        self._keyring = keyring
        self._revocations = revocations
        self._issuer = issuer
        self._deliveries = deliveries

    def end_session(self, account_id: uuid.UUID, sid: str | None) -> None:
        """Revoke the session's tokens and tell every partner that took part in it."""
        if not sid:
            return
        families = self._session.scalars(select(RefreshToken.family_id).where(
            RefreshToken.sid == sid, RefreshToken.revoked_at.is_(None)).distinct()).all()
        # The marks before the rows, as RefreshTokens does: a token being issued into one of
        # these families either is found by the UPDATE or sees the mark when stored.
        for family in families:
            self._revocations.revoke_family(family)
        self._session.execute(update(RefreshToken).where(
            RefreshToken.sid == sid, RefreshToken.revoked_at.is_(None)
        ).values(revoked_at=utcnow()))
        self._session.commit()
        for client_id in sorted(self._recorder.session_clients(sid)):
            client = self._registry.find(client_id)
            if client and client.backchannel_logout_uri:
                self._deliveries.enqueue(BACKCHANNEL_LOGOUT, {
                    "client_id": client_id, "sub": str(account_id), "sid": sid})

    def logout_token(self, client_id: str, sub: str, sid: str) -> str:
        """A signed logout token (Back-Channel Logout 1.0 §2.4)."""
        key = self._keyring.signer("RS256")
        now = int(time.time())
        claims = {"iss": self._issuer, "aud": client_id, "iat": now, "exp": now + 120,
                  "jti": secrets.token_urlsafe(16), "sub": sub, "sid": sid,
                  "events": {BACKCHANNEL_EVENT: {}}}
        return jwt.encode({"alg": "RS256", "typ": "logout+jwt", "kid": key.kid}, claims, key)

    def notify(self, payload: dict) -> None:
        """Post a fresh logout token to the partner (§2.5); ``RetryLater`` unless it answers
        200 or 204. Each attempt is journaled."""
        client = self._registry.find(payload["client_id"])
        if client is None or not client.backchannel_logout_uri:
            return  # the partner was removed or stopped listening meanwhile
        # Signed at each attempt: a token signed for a first attempt would expire (``exp``)
        # before a retry an hour later.
        token = self.logout_token(client.client_id, payload["sub"], payload["sid"])
        outcome, status = "failure", None
        try:
            response = requests.post(client.backchannel_logout_uri, data={"logout_token": token},
                                     timeout=DELIVERY_TIMEOUT_SECONDS, allow_redirects=False)
            status = response.status_code
            outcome = "success" if response.status_code in (200, 204) else "failure"
        except requests.RequestException as exc:
            log.warning("back-channel logout to %s failed: %s", client.client_id,
                        type(exc).__name__)
        self._journal.record("logout.backchannel", outcome,
                             details={"client_id": client.client_id, "status": status})
        self._session.commit()
        if outcome == "failure":
            raise RetryLater(f"partenaire {client.client_id} : statut {status}")
