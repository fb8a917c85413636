"""Builds the OIDC services of the current app with their dependencies injected."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from idp.audit.deps import audit_journal
from idp.delivery.deps import delivery_queue
from idp.extensions import app_clock, db, store
from idp.habilitations.deps import habilitation_service
from idp.oidc.claims import ClaimsBuilder
from idp.oidc.clients import ClientRegistry
from idp.oidc.issuer import TokenIssuer
from idp.oidc.keys import KeyRing
from idp.oidc.logout import LogoutService
from idp.oidc.service import AuthorizationRecorder
from idp.oidc.tokens import CodeStore, RefreshTokens, RevocationList


def config(name: str):
    """An OIDC setting of the current app."""
    return current_app.config[name]


def keyring() -> KeyRing:
    """The current app's signing keys (one ring per app, with its cache)."""
    return current_app.extensions["idp_keyring"]


def client_registry() -> ClientRegistry:
    """The partner registry, with the app's client cache."""
    return ClientRegistry(db.session, current_app.extensions["idp_client_cache"])


def token_issuer(lifetime: int | None = None) -> TokenIssuer:
    """Signs RFC 9068 access tokens, living ``lifetime`` seconds (by default the access
    tokens' setting)."""
    return TokenIssuer(keyring(), config("ISSUER"), config("OIDC_ACCESS_TOKEN_ALG"),
                       lifetime or config("OIDC_ACCESS_TOKEN_LIFETIME_SECONDS"), app_clock())


def code_store() -> CodeStore:
    """Authorization codes, in the shared store."""
    return CodeStore(store.get(), config("OIDC_CODE_LIFETIME_SECONDS"), app_clock())


def revocation_list() -> RevocationList:
    """Revoked access tokens, in the shared store."""
    return RevocationList(store.get(), config("OIDC_ACCESS_TOKEN_LIFETIME_SECONDS"))


def refresh_tokens() -> RefreshTokens:
    """Refresh token families."""
    return RefreshTokens(db.session, revocation_list(), audit_journal(),
                         timedelta(days=config("OIDC_REFRESH_TOKEN_LIFETIME_DAYS")))


def claims_builder() -> ClaimsBuilder:
    """Claims about people, for ID tokens, userinfo and the habilitations API."""
    return ClaimsBuilder(habilitation_service(), config("ISSUER") + "/api/v1/habilitations",
                         config("OIDC_INLINE_HABILITATIONS_MAX_BYTES"))


def authorization_recorder() -> AuthorizationRecorder:
    """Grant records and session participants."""
    return AuthorizationRecorder(db.session, store.get(), audit_journal(),
                                 config("SESSION_IDLE_MINUTES") * 60)


def logout_service() -> LogoutService:
    """Ends sessions' tokens and tells partners."""
    return LogoutService(db.session, audit_journal(), client_registry(),
                         authorization_recorder(), keyring(), revocation_list(),
                         config("ISSUER"), delivery_queue())
