"""« Sécurité de votre compte » (/compte/securite) and the password strength gauge."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp.accounts.deps import account_security, two_factor
from idp.accounts.forms import (
    ChangePasswordForm,
    CodeForm,
    DisableTwoFactorForm,
    EmailChangeForm,
    SecretQuestionForm,
)
from idp.accounts.login import (
    browser_session_id,
    current_account,
    login_required,
    upgrade_to_mfa,
)
from idp.accounts.messages import wait_message
from idp.accounts.password_policy import SPECIAL_CHARACTERS, current_policy
from idp.accounts.security import (
    EmailRefused,
    ReauthenticationRequired,
    WrongCode,
    WrongPassword,
)
from idp.accounts.throttling import TooManyFailedLogins
from idp.web import is_local_path, request_origin

bp = Blueprint("security", __name__)

# A 1,024-character password, even with every character escaped, fits in this.
GAUGE_BODY_MAX_BYTES = 8192
# What a confirmation (current password, and a code where 2FA is on) can fail with.
CONFIRMATION_FAILURES = (WrongPassword, WrongCode, TooManyFailedLogins)


def confirmation_failed(error, password_field, code_field=None) -> int:
    """Show why the confirmation failed under its field; return the status to answer."""
    if isinstance(error, TooManyFailedLogins):
        password_field.errors.append(wait_message(error.resets_in))
        return 429
    if isinstance(error, WrongPassword):
        field, message = password_field, _("Le mot de passe actuel est incorrect.")
    else:
        field, message = code_field, _("Code incorrect.")
    field.errors.append(f"{message} {wait_message(error.resets_in)}" if error.resets_in
                        else message)
    return 400


def _page(status=200, **forms):
    account = current_account()
    forms.setdefault("password_form", ChangePasswordForm(prefix="pw"))
    forms.setdefault("question_form", SecretQuestionForm(
        prefix="sq", data={"question": account.secret_question}))
    forms.setdefault("email_form", EmailChangeForm(prefix="em"))
    forms.setdefault("disable_form", DisableTwoFactorForm(prefix="off"))
    forms.setdefault("change_form", DisableTwoFactorForm(prefix="chg"))
    return render_template(
        "security/index.html", account=account, specials=SPECIAL_CHARACTERS,
        history=account_security().recent_sign_ins(account),
        recovery_left=two_factor().remaining_recovery_codes(account), **forms), status


@bp.get("/compte/securite")
@login_required
def index():
    """The security page."""
    return _page()


@bp.post("/compte/securite/mot-de-passe")
@login_required
def change_password():
    """Change the password (current one required); other sessions end."""
    form = ChangePasswordForm(prefix="pw")
    status = 400
    if form.validate_on_submit():
        try:
            account_security().change_password(current_account(), form.current_password.data,
                                               form.new_password.data, request_origin())
        except CONFIRMATION_FAILURES as error:
            status = confirmation_failed(error, form.current_password)
        else:
            flash(_("Votre mot de passe a été modifié. Vos autres sessions ont été fermées."))
            return redirect(url_for("security.index"))
    return _page(status, password_form=form)


@bp.post("/compte/securite/question-secrete")
@login_required
def change_secret_question():
    """Choose a new secret question and answer."""
    form = SecretQuestionForm(prefix="sq")
    status = 400
    if form.validate_on_submit():
        try:
            account_security().change_secret_question(
                current_account(), form.password.data, form.question.data, form.answer.data,
                request_origin())
        except CONFIRMATION_FAILURES as error:
            status = confirmation_failed(error, form.password)
        else:
            flash(_("Votre question secrète a été modifiée."))
            return redirect(url_for("security.index"))
    return _page(status, question_form=form)


@bp.post("/compte/securite/courriel")
@login_required
def change_email():
    """Ask for a new e-mail address; it takes effect once its link is opened."""
    form = EmailChangeForm(prefix="em")
    status = 400
    if form.validate_on_submit():
        try:
            account_security().request_email_change(
                current_account(), form.password.data, form.email.data, request_origin(),
                lambda token: url_for("security.confirm_email", token=token, _external=True))
        except CONFIRMATION_FAILURES as error:
            status = confirmation_failed(error, form.password)
        except EmailRefused:
            form.email.errors.append(_("Les adresses jetables ne sont pas acceptées : "
                                       "utilisez une adresse durable."))
        else:
            flash(_("Un lien de confirmation a été envoyé à %(email)s. Votre adresse sera "
                    "modifiée quand vous l'aurez ouvert.", email=form.email.data))
            return redirect(url_for("security.index"))
    return _page(status, email_form=form)


@bp.get("/compte/securite/courriel/<token>")
def confirm_email(token: str):
    """The link sent to the new address."""
    account = account_security().confirm_email_change(token, request_origin())
    if account is None:
        return render_template("message.html", title=_("Lien invalide"), message=_(
            "Ce lien n'est pas ou plus valide. Recommencez la modification depuis votre "
            "espace.")), 400
    return render_template("message.html", title=_("Adresse confirmée"), message=_(
        "Votre nouvelle adresse électronique %(email)s est enregistrée.", email=account.email))


@bp.route("/compte/securite/double-authentification", methods=["GET", "POST"])
@login_required
def enable_two_factor():
    """Enrol an authenticator app: QR code and key, confirmed by a first code. With 2FA on,
    only after the password and a current code (``change_authenticator``)."""
    account = current_account()
    security = account_security()
    if not security.may_enrol(account, browser_session_id()):
        return _page(403, change_form=DisableTwoFactorForm(prefix="chg"))
    factor = two_factor()
    form = CodeForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        try:
            codes = security.confirm_two_factor(account, form.code.data, browser_session_id(),
                                                request_origin())
        except ReauthenticationRequired:
            return redirect(url_for("security.index"))
        except WrongCode:
            form.code.errors.append(_("Code incorrect : vérifiez l'heure de votre téléphone "
                                      "et saisissez le code affiché."))
        else:
            upgrade_to_mfa()  # typing a valid code is a second factor
            target = form.next.data if is_local_path(form.next.data) else None
            return render_template("security/recovery_codes.html", codes=codes, next=target)
    secret = factor.pending_secret(account)
    uri = factor.provisioning_uri(account, secret)
    spaced = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render_template("security/enrol.html", form=form, secret=spaced,
                           qr=factor.qr_svg(uri)), 400 if form.errors else 200


@bp.post("/compte/securite/double-authentification/changer")
@login_required
def change_authenticator():
    """With 2FA on: the password and a current code before a new key is shown."""
    form = DisableTwoFactorForm(prefix="chg")
    status = 400
    if form.validate_on_submit():
        try:
            account_security().allow_authenticator_change(
                current_account(), form.password.data, form.code.data, browser_session_id(),
                request_origin())
        except CONFIRMATION_FAILURES as error:
            status = confirmation_failed(error, form.password, form.code)
        else:
            return redirect(url_for("security.enable_two_factor"))
    return _page(status, change_form=form)


@bp.post("/compte/securite/double-authentification/desactiver")
@login_required
def disable_two_factor():
    """Turn 2FA off: password and a code."""
    form = DisableTwoFactorForm(prefix="off")
    status = 400
    if form.validate_on_submit():
        try:
            account_security().disable_two_factor(current_account(), form.password.data,
                                                  form.code.data, request_origin())
        except CONFIRMATION_FAILURES as error:
            status = confirmation_failed(error, form.password, form.code)
        else:
            flash(_("La double authentification est désactivée."))
            return redirect(url_for("security.index"))
    return _page(status, disable_form=form)


@bp.post("/mot-de-passe/evaluer")
def evaluate_password():
    """The live gauge: the server grades with the same policy as on submit."""
    if (request.content_length or 0) > GAUGE_BODY_MAX_BYTES:
        data = None
    else:
        try:
            data = request.get_json(silent=True)
        except RecursionError:  # deeply nested arrays: not a ValueError, so not "silent"
            data = None
    password = data.get("password") if isinstance(data, dict) else None
    if not isinstance(password, str) or len(password) > 1024:
        return jsonify(error=_("Mot de passe attendu (1024 caractères au plus).")), 400
    return jsonify(current_policy().evaluate(password).as_json())
