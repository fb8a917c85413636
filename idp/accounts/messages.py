"""Wording shared by the accounts pages."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import format_timedelta
from flask_babel import gettext as _

from idp.accounts.second_factor import WrongSecondFactor
from idp.accounts.service import AccountLocked, EmailNotVerified, InvalidCredentials
from idp.accounts.throttling import TooManyFailedLogins

# What « Vous connecter » (the page or the widget's frame) can be refused with.
SIGN_IN_REFUSALS = (TooManyFailedLogins, InvalidCredentials, AccountLocked, EmailNotVerified)
# What the code of the second step can be refused with.
CODE_REFUSALS = (TooManyFailedLogins, WrongSecondFactor)


def wait_message(seconds: int) -> str:
    """« Veuillez patienter 30 secondes avant de réessayer », in the page's language."""
    delay = format_timedelta(timedelta(seconds=seconds), threshold=1, granularity="second")
    return _("Trop de tentatives de connexion infructueuses. "
             "Veuillez patienter %(delay)s avant de réessayer.", delay=delay)


def sign_in_refusal(refusal: Exception) -> tuple[str, int]:
    """The message and HTTP status for one of ``SIGN_IN_REFUSALS``; which part of the
    credentials was wrong is never said."""
    if isinstance(refusal, TooManyFailedLogins):
        return wait_message(refusal.resets_in), 429
    if isinstance(refusal, AccountLocked):
        return _("Votre compte est bloqué. Contactez l'administrateur de votre entreprise."), 403
    if isinstance(refusal, EmailNotVerified):
        return _("Votre adresse électronique n'a pas encore été validée : cliquez sur le lien "
                 "reçu par courriel pour activer votre compte."), 403
    message = _("Les informations saisies ne permettent pas de vous identifier. Vérifiez le "
                "SIRET, le nom, le prénom et le mot de passe.")
    if refusal.resets_in:
        message = f"{message} {wait_message(refusal.resets_in)}"
    return message, 401


def code_refusal(refusal: Exception, wrong: str | None = None) -> tuple[str, int]:
    """The message and HTTP status for one of ``CODE_REFUSALS``; ``wrong`` words a wrong
    answer (the code's by default)."""
    if isinstance(refusal, TooManyFailedLogins):
        return wait_message(refusal.resets_in), 429
    message = wrong or _("Code incorrect ou déjà utilisé.")
    if refusal.resets_in:
        message = f"{message} {wait_message(refusal.resets_in)}"
    return message, 401


def passkey_refusal(refusal: Exception) -> tuple[str, int]:
    """``code_refusal`` after a passkey's answer."""
    return code_refusal(refusal, _("La clé d'accès n'a pas été reconnue. Réessayez."))
