"""Builds the accounts services of the current app with their dependencies injected."""

from __future__ import annotations

import os

from flask import current_app

from idp.accounts.application_passwords import ApplicationPasswords
from idp.accounts.certificates import CertificateChecker, ClientCertificates
from idp.accounts.email_domains import denied_domains
from idp.accounts.emails import AccountMailer
from idp.accounts.login import browser_session_id
from idp.accounts.passkeys import Passkeys, RelyingParty
from idp.accounts.password_policy import current_policy
from idp.accounts.passwords import PasswordHasher
from idp.accounts.recovery import Recovery
from idp.accounts.second_factor import SecondStep
from idp.accounts.security import AccountSecurity
from idp.accounts.service import AuthenticationService
from idp.accounts.throttling import BackoffPolicy, LoginThrottle
from idp.accounts.two_factor import TwoFactor
from idp.accounts.welcome import WelcomeLinks
from idp.audit.deps import audit_journal
from idp.extensions import app_clock, db, store


def password_hasher() -> PasswordHasher:
    """The app's hasher, built once (its dummy hash is computed once per process)."""
    hasher = current_app.extensions.get("idp_hasher")
    if hasher is None:
        config = current_app.config
        hasher = PasswordHasher(
            time_cost=int(config["ARGON2_TIME_COST"]),
            memory_kib=int(config["ARGON2_MEMORY_KIB"]),
            parallelism=int(config["ARGON2_PARALLELISM"]),
            slots=(slots := hashing_slots(config)),
            wait_seconds=float(config["HASH_WAIT_SECONDS"]),
            max_waiting=int(config["HASH_QUEUE_PER_SLOT"]) * slots,
        )
        # Two first requests at once may each build one: keep the first, and its slots.
        hasher = current_app.extensions.setdefault("idp_hasher", hasher)
    return hasher


def hashing_slots(config) -> int:
    """Hashes run at once per process: the setting, or by default as many as the cores can
    take at the configured parallelism (one on two cores with argon2's p = 4)."""
    if int(config["HASH_CONCURRENCY"]):
        return int(config["HASH_CONCURRENCY"])
    return max(1, (os.cpu_count() or 1) // int(config["ARGON2_PARALLELISM"]))


def _sign_in_policy(free_setting: str) -> BackoffPolicy:
    config = current_app.config
    return BackoffPolicy(
        free_attempts=int(config[free_setting]),
        base_delay=int(config["LOGIN_BASE_DELAY_SECONDS"]),
        max_delay=int(config["LOGIN_MAX_DELAY_SECONDS"]),
        window=int(config["LOGIN_FAILURE_WINDOW_SECONDS"]),
    )


def limiter(name: str) -> LoginThrottle:
    """A named limiter of accounts: ``login-account``, ``login-ip``, ``second-factor``,
    ``secret-answer``, ``recovery-request`` or ``recovery-request-ip``."""
    policies = {
        "login-account": lambda: _sign_in_policy("LOGIN_FREE_ATTEMPTS"),
        "login-ip": lambda: _sign_in_policy("LOGIN_IP_FREE_ATTEMPTS"),
        "second-factor": lambda: _sign_in_policy("SECOND_FACTOR_FREE_ATTEMPTS"),
        # Net-entreprises' rule: beyond 5 wrong answers, a 60-minute wait.
        "secret-answer": lambda: BackoffPolicy(free_attempts=5, base_delay=3600,
                                               max_delay=3600, window=3600),
        # Reset links and requests to administrators: 3 an hour per person typed, 20 per IP.
        "recovery-request": lambda: BackoffPolicy(free_attempts=3, base_delay=3600,
                                                  max_delay=3600, window=3600),
        "recovery-request-ip": lambda: BackoffPolicy(free_attempts=20, base_delay=3600,
                                                     max_delay=3600, window=3600),
    }
    return LoginThrottle(store.get(), name, policies[name](), app_clock())


def mailer() -> AccountMailer:
    """The account journeys' e-mails."""
    return AccountMailer()


def authentication_service() -> AuthenticationService:
    """The sign-in service."""
    return AuthenticationService(db.session, password_hasher(), limiter("login-account"),
                                 limiter("login-ip"), audit_journal(),
                                 ApplicationPasswords(db.session))


def two_factor() -> TwoFactor:
    """TOTP and recovery codes."""
    config = current_app.config
    return TwoFactor(db.session, store.get(), config["SECRET_KEY"], config["TOTP_ISSUER"],
                     app_clock())


def passkeys() -> Passkeys:
    """WebAuthn ceremonies for the IdP's own origin."""
    party = RelyingParty.of(current_app.config["ISSUER"], current_app.config["TOTP_ISSUER"])
    return Passkeys(db.session, store.get(), party)


def second_step() -> SecondStep:
    """The code (or passkey) check of the second sign-in step."""
    return SecondStep(db.session, two_factor(), limiter("second-factor"), audit_journal(),
                      passkeys())


def account_security() -> AccountSecurity:
    """Changes a signed-in person makes to their own security."""
    interface = current_app.session_interface
    current_sid = browser_session_id()  # None from the CLI, which has no session

    def end_other_sessions(account_id) -> None:
        interface.end_account_sessions(str(account_id), keep=current_sid)

    return AccountSecurity(db.session, store.get(), password_hasher(), current_policy(),
                           audit_journal(), mailer(), two_factor(), end_other_sessions,
                           limiter("login-account"), limiter("second-factor"),
                           ApplicationPasswords(db.session), passkeys(),
                           denied_domains(current_app.config["REGISTRATION_EMAIL_DOMAINS_DENY"]))


def recovery(limited: bool = True) -> Recovery:
    """« Mot de passe oublié ? »: question, e-mail link, administrators (support's command
    is not ``limited``)."""
    config = current_app.config
    issuer = config["ISSUER"]
    return Recovery(db.session, store.get(), password_hasher(), account_security(),
                    audit_journal(), mailer(), limiter("secret-answer"), config["SECRET_KEY"],
                    lambda token: f"{issuer}/mot-de-passe-oublie/lien/{token}",
                    int(config["RESET_LINK_SECONDS"]), app_clock(),
                    (limiter("recovery-request"), limiter("recovery-request-ip")) if limited
                    else None)


def welcome_links() -> WelcomeLinks:
    """The welcome links of the current app (its issuer, store, hasher and clock)."""
    issuer = current_app.config["ISSUER"]
    return WelcomeLinks(db.session, store.get(), password_hasher(), account_security(),
                        audit_journal(), lambda token: f"{issuer}/compte/bienvenue/{token}",
                        clock=app_clock())


def certificate_checker() -> CertificateChecker:
    """Dates and chain of client certificates, against the configured CA bundle."""
    return CertificateChecker(current_app.config["CERTIFICATE_CA_BUNDLE"], app_clock())


def client_certificates() -> ClientCertificates:
    """Registered certificates and the sign-in by certificate."""
    return ClientCertificates(db.session, certificate_checker(), audit_journal(),
                              limiter("login-ip"), mailer())
