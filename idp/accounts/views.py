"""« Vous connecter », « Vous déconnecter » and « Votre compte »."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from idp.accounts.deps import authentication_service, certificate_checker, second_step
from idp.accounts.forms import ButtonForm, CodeForm, LoginForm
from idp.accounts.login import (
    current_account,
    login_required,
    pending_second_step,
    sign_in,
    sign_out,
    start_second_step,
)
from idp.accounts.lookup import usable_account
from idp.accounts.messages import (
    CODE_REFUSALS,
    SIGN_IN_REFUSALS,
    code_refusal,
    sign_in_refusal,
)
from idp.accounts.passwords import HashingBusy
from idp.extensions import db
from idp.web import default_policy_with_form_action, is_local_path, request_origin

bp = Blueprint("accounts", __name__)


@bp.app_errorhandler(HashingBusy)
def too_many_sign_ins(error: HashingBusy):
    """Sign-ins beyond what the hash can serve: a clear answer and when to come back (RFC 9110
    §10.2.3), never a silent time-out. Nothing was checked, so no failure is counted."""
    page = render_template("message.html", title=_("Service très sollicité"), message=_(
        "Le service reçoit en ce moment plus de connexions qu'il ne peut en vérifier. "
        "Réessayez dans quelques secondes : votre saisie n'a pas été comptée comme une erreur."))
    return page, 503, {"Retry-After": str(error.retry_after)}


@bp.app_context_processor
def signed_in_person():
    """Every page's header shows « Votre compte » and « Vous déconnecter » to the signed-in
    (asked lazily: mail and widget templates never look)."""

    def signed_in_account():
        try:
            return current_account()
        except SQLAlchemyError:
            return None  # the error page of a database outage still renders

    return {"signed_in_account": signed_in_account}


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
        except SIGN_IN_REFUSALS as refusal:
            error, status = sign_in_refusal(refusal)
        else:
            if account.has_second_factor:
                return start_second_step(account, next_url)
            sign_in(account, ["pwd"])
            return redirect(next_url or url_for("accounts.account"))
    elif form.is_submitted():
        status = 400
    return render_template("accounts/login.html", form=form, error=error,
                           certificate_sign_in=certificate_checker().enabled), status


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
        except CODE_REFUSALS as refusal:
            error, status = code_refusal(refusal)
        else:
            sign_in(account, (pending[1].get("first", "pwd"), "otp", "mfa"))
            return redirect(pending[1]["next"] or url_for("accounts.account"))
    elif form.is_submitted():
        status = 400
    return render_template("accounts/second_step.html", form=form, error=error,
                           account=account), status


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
    """« Votre compte »: who is signed in, for which establishment, with which role, and
    the panels higher layers add (see ``account_panels``)."""
    account = current_account()
    return render_template("accounts/account.html", account=account,
                           panels=account_panels(account))


ACCOUNT_PANELS = "idp_account_panels"
SIGN_IN_DESTINATIONS = "idp_sign_in_destinations"


@bp.after_request
def let_the_sign_in_reach_its_destination(response):
    """Browsers check every redirect that follows a form submission against the submitting
    page's ``form-action`` (CSP Level 3), and the site-wide policy says ``'self'``: « Vous
    connecter » and the code step, whose ``next`` ends at a partner (an authorization request
    answered at its redirect URI, a navigation to its ``initiate_login_uri``), name that
    partner's origin too. Higher layers say where a ``next`` ends, without accounts importing
    them: ``app.extensions["idp_sign_in_destinations"]`` lists callables taking the local
    ``next`` and returning the origin it reaches, or None."""
    if request.endpoint not in ("accounts.login", "accounts.second_step") \
            or 300 <= response.status_code < 400:
        return response
    if request.endpoint == "accounts.login":
        try:
            next_url = request.values.get("next", "")
        except HTTPException:  # a body refused (too large): the page it gets has no form
            return response
    else:
        pending = pending_second_step()
        next_url = (pending[1].get("next") or "") if pending else ""
    if is_local_path(next_url):
        origins = [found for destination in current_app.extensions.get(SIGN_IN_DESTINATIONS, ())
                   if (found := destination(next_url))]
        if origins:
            response.headers["Content-Security-Policy"] = default_policy_with_form_action(
                origins)
    return response


def account_panels(account) -> list:
    """The extra sections of « Votre compte », contributed without accounts importing their
    packages: ``app.extensions["idp_account_panels"]`` is a list of callables, each taking
    the signed-in ``Account`` and returning its section's HTML as ``markupsafe.Markup`` (a
    plain string is escaped, shown as text) or None to show nothing. A package registers one
    at start-up with ``app.extensions.setdefault("idp_account_panels", []).append(panel)``;
    they are shown in that order, after « Vos informations »."""
    panels = current_app.extensions.get(ACCOUNT_PANELS, ())
    return [html for panel in panels if (html := panel(account))]
