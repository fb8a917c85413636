"""Passkeys: « Clés d'accès » in « Sécurité de votre compte » (/compte/securite/cles), and
the passkey answer of the second sign-in step (/connexion/cle). The browser side is
static/js/passkeys.js; these endpoints speak JSON, with the page's CSRF token in a header."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp.accounts.deps import account_security, second_step
from idp.accounts.forms import ButtonForm
from idp.accounts.login import (
    PASSKEY_METHODS,
    browser_session_id,
    current_account,
    login_required,
    pending_second_step,
    sign_in,
)
from idp.accounts.lookup import usable_account
from idp.accounts.messages import CODE_REFUSALS, passkey_refusal, wait_message
from idp.accounts.passkeys import MAX_PER_ACCOUNT, PasskeyRefused, TooManyPasskeys
from idp.accounts.security import WrongPassword
from idp.accounts.throttling import TooManyFailedLogins
from idp.extensions import db
from idp.web import request_origin

bp = Blueprint("passkeys", __name__)

MAX_BODY_BYTES = 16 * 1024  # an attestation with its certificates fits in a few KB


def _json_body() -> dict:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return {}
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        return {}
    return data if isinstance(data, dict) else {}


def _refused(message: str, status: int):
    return jsonify(error=message), status


@bp.get("/compte/securite/cles")
@login_required
def index():
    """The account's passkeys and the button to add one."""
    return render_template("security/passkeys.html", passkeys=current_account().passkeys,
                           remove_form=ButtonForm(), limit=MAX_PER_ACCOUNT)


@bp.post("/compte/securite/cles/options")
@login_required
def registration_options():
    """Creation options for the authenticator, once the current password is confirmed."""
    password = _json_body().get("password")
    if not isinstance(password, str) or not password:
        return _refused(_("Saisissez votre mot de passe actuel."), 400)
    try:
        options = account_security().passkey_options(current_account(), password,
                                                     browser_session_id())
    except WrongPassword as error:
        message = _("Le mot de passe actuel est incorrect.")
        return _refused(f"{message} {wait_message(error.resets_in)}" if error.resets_in
                        else message, 400)
    except TooManyFailedLogins as error:
        return _refused(wait_message(error.resets_in), 429)
    except TooManyPasskeys:
        return _refused(_("Vous avez déjà %(n)s clés d'accès : supprimez-en une avant d'en "
                          "ajouter une autre.", n=MAX_PER_ACCOUNT), 400)
    return options, 200, {"Content-Type": "application/json", "Cache-Control": "no-store"}


@bp.post("/compte/securite/cles")
@login_required
def add():
    """The authenticator's answer: the passkey is kept under the name given."""
    data = _json_body()
    name, credential = data.get("name"), data.get("credential")
    if not isinstance(name, str) or not name.strip() or len(name) > 60:
        return _refused(_("Donnez un nom à cette clé (60 caractères au plus)."), 400)
    if not isinstance(credential, dict):
        return _refused(_("Réponse de la clé d'accès manquante."), 400)
    try:
        account_security().add_passkey(current_account(), browser_session_id(), credential,
                                       name, request_origin())
    except PasskeyRefused:
        return _refused(_("La clé d'accès n'a pas pu être vérifiée. Recommencez."), 400)
    flash(_("La clé d'accès « %(name)s » est ajoutée : elle vous sera proposée à chaque "
            "connexion.", name=name.strip()))
    return jsonify(redirect=url_for("passkeys.index")), 201


@bp.post("/compte/securite/cles/<int:passkey_id>/supprimer")
@login_required
def remove(passkey_id: int):
    """« Supprimer »: the passkey no longer signs in."""
    if not ButtonForm().validate_on_submit():
        return redirect(url_for("passkeys.index"))
    name = account_security().remove_passkey(current_account(), passkey_id, request_origin())
    if name is None:
        flash(_("Cette clé d'accès n'existe pas ou a déjà été supprimée."))
    else:
        flash(_("La clé d'accès « %(name)s » est supprimée.", name=name))
    return redirect(url_for("passkeys.index"))


def _pending():
    """The account and token of this browser's pending second step, or (None, None)."""
    pending = pending_second_step()
    account = usable_account(db.session, pending[1]["account"]) if pending else None
    if account is None or not account.passkeys:
        return None, None
    return account, pending


def _expired():
    return _refused(_("Votre demande de connexion a expiré. Saisissez à nouveau vos "
                      "identifiants."), 400)


@bp.post("/connexion/cle/options")
def sign_in_options():
    """Request options for the second step's passkey."""
    account, pending = _pending()
    if account is None:
        return _expired()
    try:
        options = second_step().passkey_options(account, pending[0])
    except TooManyFailedLogins as error:
        return _refused(wait_message(error.resets_in), 429)
    return options, 200, {"Content-Type": "application/json", "Cache-Control": "no-store"}


@bp.post("/connexion/cle")
def sign_in_with_passkey():
    """The passkey's answer: the second step is passed, the person signed in."""
    account, pending = _pending()
    if account is None:
        return _expired()
    credential = _json_body().get("credential")
    if not isinstance(credential, dict):
        return _refused(_("Réponse de la clé d'accès manquante."), 400)
    try:
        second_step().verify_passkey(account, pending[0], credential, request_origin())
    except CODE_REFUSALS as refusal:
        message, status = passkey_refusal(refusal)
        return _refused(message, status)
    sign_in(account, (pending[1].get("first", "pwd"), *PASSKEY_METHODS))
    return jsonify(redirect=pending[1]["next"] or url_for("accounts.account"))
