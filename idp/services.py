"""Builds the services of the current app with their dependencies injected."""

from __future__ import annotations

import uuid

from flask import current_app, has_request_context, session

from idp.accounts.models import Account, Status
from idp.accounts.notifications import AccountNotifier
from idp.accounts.password_policy import current_policy
from idp.accounts.passwords import PasswordHasher
from idp.accounts.recovery import Recovery
from idp.accounts.security import AccountSecurity
from idp.accounts.service import AuthenticationService
from idp.accounts.throttling import BackoffPolicy, LoginThrottle
from idp.accounts.two_factor import TwoFactor
from idp.audit.service import AuditJournal
from idp.extensions import db, store
from idp.registration.letters import LetterBox
from idp.registration.service import Controls, RegistrationService


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


def second_factor_throttle() -> LoginThrottle:
    """The named limiter of the second sign-in step, per account."""
    config = current_app.config
    return LoginThrottle(store.get(), "second-factor", BackoffPolicy(
        free_attempts=int(config["SECOND_FACTOR_FREE_ATTEMPTS"]),
        base_delay=int(config["LOGIN_BASE_DELAY_SECONDS"]),
        max_delay=int(config["LOGIN_MAX_DELAY_SECONDS"]),
        window=int(config["LOGIN_FAILURE_WINDOW_SECONDS"])))


def two_factor() -> TwoFactor:
    """TOTP and recovery codes."""
    return TwoFactor(db.session, store.get(), password_hasher(),
                     current_app.config["TOTP_ISSUER"])


def account_security() -> AccountSecurity:
    """Changes a signed-in person makes to their own security."""
    interface = current_app.session_interface
    current_sid = session.sid if has_request_context() else None  # the CLI has no session

    def end_other_sessions(account_id) -> None:
        interface.end_account_sessions(str(account_id), keep=current_sid)

    return AccountSecurity(db.session, store.get(), password_hasher(), current_policy(),
                           audit_journal(), AccountNotifier(), two_factor(),
                           end_other_sessions)


def usable_account(account_id: str) -> Account | None:
    """The account ``account_id`` if it may still sign in and receive tokens."""
    account = db.session.get(Account, uuid.UUID(account_id))
    if account is None or account.status in (Status.REMOVED, Status.LOCKED):
        return None
    return account


def record_second_factor(account, method: str | None, origin) -> None:
    """Journal a second-step attempt and keep what it changed (last step, used code)."""
    audit_journal().record("login.second_factor", "success" if method else "failure",
                           account_id=account.id, origin=origin,
                           details={"method": method} if method else {})
    db.session.commit()


def recovery() -> Recovery:
    """« Mot de passe oublié ? »: question, e-mail link, administrators."""
    config = current_app.config
    # Net-entreprises' rule: beyond 5 wrong answers, a 60-minute wait.
    answer_throttle = LoginThrottle(store.get(), "secret-answer", BackoffPolicy(
        free_attempts=5, base_delay=3600, max_delay=3600, window=3600))
    issuer = config["ISSUER"]
    return Recovery(db.session, store.get(), password_hasher(), account_security(),
                    audit_journal(), AccountNotifier(), answer_throttle, config["SECRET_KEY"],
                    lambda token: f"{issuer}/mot-de-passe-oublie/lien/{token}",
                    int(config["RESET_LINK_SECONDS"]))


def registration_service() -> RegistrationService:
    """The « inscription » journey and what follows it."""
    config = current_app.config
    controls = Controls.from_settings(config["REGISTRATION_SIRET_ALLOW"],
                                      config["REGISTRATION_SIRET_DENY"],
                                      config["REGISTRATION_EMAIL_DOMAINS_DENY"])
    return RegistrationService(db.session, store.get(), password_hasher(), audit_journal(),
                               AccountNotifier(), LetterBox(config["LETTERS_DIR"]), controls,
                               int(config["EMAIL_VALIDATION_HOURS"]),
                               int(config["CANDIDACY_DAYS"]))


def registration_throttle() -> LoginThrottle:
    """Per IP: the duplicate message of step 1 says an account exists, so probing is slowed."""
    return LoginThrottle(store.get(), "registration-ip", BackoffPolicy(
        free_attempts=10, base_delay=60, max_delay=3600, window=3600))
