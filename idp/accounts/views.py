"""« Vous connecter », « Vous déconnecter » and « Votre compte »."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import format_timedelta
from flask_babel import gettext as _

from idp.accounts import second_factor
from idp.accounts.auth import current_account, login_required, sign_in, sign_out
from idp.accounts.forms import ButtonForm, CodeForm, LoginForm
from idp.accounts.second_factor import PendingSecondFactor
from idp.accounts.service import AccountLocked, EmailNotVerified, InvalidCredentials
from idp.accounts.throttling import TooManyFailedLogins
from idp.extensions import store
from idp.oidc.server import logout_service
from idp.services import (
    authentication_service,
    record_second_factor,
    second_factor_throttle,
    two_factor,
    usable_account,
)
from idp.web import is_local_path, request_origin

bp = Blueprint("accounts", __name__)


def _wait_message(seconds: int) -> str:
    delay = format_timedelta(timedelta(seconds=seconds), threshold=1, granularity="second")
    return _("Trop de tentatives de connexion infructueuses. "
             "Veuillez patienter %(delay)s avant de réessayer.", delay=delay)


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
            error, status = _wait_message(exc.resets_in), 429
        except InvalidCredentials as exc:
            error, status = _("Les informations saisies ne permettent pas de vous identifier. "
                              "Vérifiez le SIRET, le nom, le prénom et le mot de passe."), 401
            if exc.resets_in:
                error = f"{error} {_wait_message(exc.resets_in)}"
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


def start_second_step(account, next_url: str | None):
    """After a right password, ask for the code (the account is not signed in yet)."""
    session[second_factor.SESSION_KEY] = PendingSecondFactor(store.get()).start(
        str(account.id), next_url)
    return redirect(url_for("accounts.second_step"))


@bp.route("/connexion/code", methods=["GET", "POST"])
def second_step():
    """Second sign-in step: a code from the authenticator app, or a recovery code."""
    pending_store = PendingSecondFactor(store.get())
    token = session.get(second_factor.SESSION_KEY)
    pending = pending_store.get(token)
    if pending is None:
        return redirect(url_for("accounts.login"))
    account = usable_account(pending["account"])
    if account is None:
        return redirect(url_for("accounts.login"))
    form = CodeForm()
    error, status = None, 200
    throttle = second_factor_throttle()
    if form.validate_on_submit():
        try:
            throttle.check(pending["account"])
        except TooManyFailedLogins as exc:
            error, status = _wait_message(exc.resets_in), 429
        else:
            method = two_factor().verify(account, form.code.data)
            record_second_factor(account, method, request_origin())
            if method is None:
                wait = throttle.fail(pending["account"])
                error, status = _("Code incorrect ou déjà utilisé."), 401
                if wait:
                    error = f"{error} {_wait_message(wait)}"
            else:
                throttle.reset(pending["account"])
                pending_store.finish(token)
                sign_in(account, ["pwd", "otp", "mfa"])
                return redirect(pending["next"] or url_for("accounts.account"))
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
        logout_service().end_session(account.id, session.get("sid"), request_origin())
        sign_out()
        return render_template("accounts/logged_out.html")
    return render_template("accounts/logout.html", form=form, account=account)


@bp.get("/compte")
@login_required
def account():
    """« Votre compte »: who is signed in, for which establishment, with which role."""
    return render_template("accounts/account.html", account=current_account(),
                           logout_form=ButtonForm())
