"""Builds the services of the current app with their dependencies injected."""

from __future__ import annotations

from flask import current_app

from idp.accounts.passwords import PasswordHasher
from idp.accounts.service import AuthenticationService
from idp.accounts.throttling import BackoffPolicy, LoginThrottle
from idp.audit.service import AuditJournal
from idp.extensions import db, store


def password_hasher() -> PasswordHasher:
    """The app's hasher, built once (its dummy hash is computed once per process)."""
    hasher = current_app.extensions.get("idp_hasher")
    if hasher is None:
        config = current_app.config
        hasher = PasswordHasher(
            time_cost=int(config["ARGON2_TIME_COST"]),
            memory_kib=int(config["ARGON2_MEMORY_KIB"]),
            parallelism=int(config["ARGON2_PARALLELISM"]),
        )
        current_app.extensions["idp_hasher"] = hasher
    return hasher


def audit_journal() -> AuditJournal:
    """The journal, writing in the request's database session."""
    return AuditJournal(db.session)


def login_throttles() -> tuple[LoginThrottle, LoginThrottle]:
    """The named limiters of sign-in: per account and per IP address."""
    config = current_app.config

    def policy(free_setting: str) -> BackoffPolicy:
        return BackoffPolicy(
            free_attempts=int(config[free_setting]),
            base_delay=int(config["LOGIN_BASE_DELAY_SECONDS"]),
            max_delay=int(config["LOGIN_MAX_DELAY_SECONDS"]),
            window=int(config["LOGIN_FAILURE_WINDOW_SECONDS"]),
        )

    return (
        LoginThrottle(store.get(), "login-account", policy("LOGIN_FREE_ATTEMPTS")),
        LoginThrottle(store.get(), "login-ip", policy("LOGIN_IP_FREE_ATTEMPTS")),
    )


def authentication_service() -> AuthenticationService:
    """The sign-in service."""
    account_throttle, ip_throttle = login_throttles()
    return AuthenticationService(
        db.session, password_hasher(), account_throttle, ip_throttle, audit_journal()
    )
