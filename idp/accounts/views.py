"""« Vous connecter », « Vous déconnecter » and « Votre compte »."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp.accounts.deps import authentication_service, second_step
from idp.accounts.forms import ButtonForm, CodeForm, LoginForm
from idp.accounts.login import (
    MFA_METHODS,
    current_account,
    login_required,
    pending_second_step,
    sign_in,
    sign_out,
    start_second_step,
)
from idp.accounts.lookup import usable_account
from idp.accounts.messages import wait_message
from idp.accounts.second_factor import WrongSecondFactor
from idp.accounts.service import AccountLocked, EmailNotVerified, InvalidCredentials
from idp.accounts.throttling import TooManyFailedLogins
from idp.extensions import db
from idp.web import is_local_path, request_origin

bp = Blueprint("accounts", __name__)


@bp.get("/")
def home():
    """The home page leads to the account space, or to sign-in."""
    return redirect(url_for("accounts.account"))


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    """« Vous connecter »: SIRET, Nom, Prénom, Mot de passe."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        form.siret.data = request.args.get("siret", "")
    next_url = form.next.data if is_local_path(form.next.data) else None

    error, status = None, 200
    if form.validate_on_submit():
        try:
            account = authentication_service().authenticate(form.credentials(), request_origin())
        except TooManyFailedLogins as exc:
            error, status = wait_message(exc.resets_in), 429
        except InvalidCredentials as exc:
            error, status = _("Les informations saisies ne permettent pas de vous identifier. "
                              "Vérifiez le SIRET, le nom, le prénom et le mot de passe."), 401
            if exc.resets_in:
                error = f"{error} {wait_message(exc.resets_in)}"
        except AccountLocked:
            error, status = _("Votre compte est bloqué. "
                              "Contactez l'administrateur de votre entreprise."), 403
        except EmailNotVerified:
            error, status = _("Votre adresse électronique n'a pas encore été validée : "
                              "cliquez sur le lien reçu par courriel pour activer votre "
                              "compte."), 403
        else:
            if account.totp_secret:
                return start_second_step(account, next_url)
            sign_in(account, ["pwd"])
            return redirect(next_url or url_for("accounts.account"))
    elif form.is_submitted():
        status = 400
    return render_template("accounts/login.html", form=form, error=error), status


@bp.route("/connexion/code", methods=["GET", "POST"], endpoint="second_step")
def second_step_page():
    """Second sign-in step: a code from the authenticator app, or a recovery code."""
    pending = pending_second_step()
    account = usable_account(db.session, pending[1]["account"]) if pending else None
    if account is None:
        return redirect(url_for("accounts.login"))
    form = CodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            second_step().verify(account, form.code.data, request_origin())
        except TooManyFailedLogins as exc:
            error, status = wait_message(exc.resets_in), 429
        except WrongSecondFactor as exc:
            error, status = _("Code incorrect ou déjà utilisé."), 401
            if exc.resets_in:
                error = f"{error} {wait_message(exc.resets_in)}"
        else:
            sign_in(account, MFA_METHODS)
            return redirect(pending[1]["next"] or url_for("accounts.account"))
    elif form.is_submitted():
        status = 400
    return render_template("accounts/second_step.html", form=form, error=error), status


@bp.route("/deconnexion", methods=["GET", "POST"])
def logout():
    """« Vous déconnecter »: a confirmation button, then the session ends everywhere."""
    account = current_account()
    form = ButtonForm()
    if account is None:
        return render_template("accounts/logged_out.html")
    if form.validate_on_submit():
        sign_out(request_origin())
        return render_template("accounts/logged_out.html")
    return render_template("accounts/logout.html", form=form, account=account)


@bp.get("/compte")
@login_required
def account():
    """« Votre compte »: who is signed in, for which establishment, with which role."""
    return render_template("accounts/account.html", account=current_account(),
                           logout_form=ButtonForm())
