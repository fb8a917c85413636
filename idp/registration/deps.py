"""Builds the registration services of the current app with their dependencies injected."""

from __future__ import annotations

from flask import current_app

from idp.accounts.deps import mailer, password_hasher
from idp.accounts.throttling import BackoffPolicy, LoginThrottle
from idp.audit.deps import audit_journal
from idp.extensions import db, store
from idp.habilitations.deps import habilitation_service
from idp.registration.letters import LetterBox
from idp.registration.service import Controls, RegistrationService


def registration_service() -> RegistrationService:
    """The « inscription » journey and what follows it."""
    config = current_app.config
    controls = Controls.from_settings(config["REGISTRATION_SIRET_ALLOW"],
                                      config["REGISTRATION_SIRET_DENY"],
                                      config["REGISTRATION_EMAIL_DOMAINS_DENY"])
    return RegistrationService(db.session, store.get(), password_hasher(), audit_journal(),
                               mailer(), LetterBox(config["LETTERS_DIR"]), controls,
                               int(config["EMAIL_VALIDATION_HOURS"]),
                               int(config["CANDIDACY_DAYS"]), habilitation_service())


def registration_throttle() -> LoginThrottle:
    """Per IP: the duplicate message of step 1 says an account exists, so probing is slowed."""
    return LoginThrottle(store.get(), "registration-ip", BackoffPolicy(
        free_attempts=10, base_delay=60, max_delay=3600, window=3600))
