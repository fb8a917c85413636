"""The widget's addresses.

* ``GET /widget/v1/widget.js``: the loader partners include (public, cached, version in the
  path);
* ``GET /widget/v1/connexion?<authorization request, response_mode=web_message>``: the
  framed « Vous connecter »;
* ``POST`` to the same address: the password, then the code or the passkey's answer; the
  form's single-use token says which step it answers;
* ``POST /widget/v1/cle?<the same request>``: the WebAuthn request for the second step's
  passkey, for the form's token (static/widget/frame.js runs the ceremony in the frame, which
  the loader allows with ``allow="publickey-credentials-get"``).

Refusals before the partner's origin is known (unknown partner, a redirect_uri that is not
one of its widget origins, malformed parameters) are French pages nobody may frame; once the
origin is trusted, protocol errors go back to it by ``web_message`` (RFC 6749 §4.1.2.1).
No view here reads or writes the Flask session: the frame cannot count on its cookie.
"""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import (
    Blueprint,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
    url_for,
)
from flask import send_from_directory as send_static
from flask_babel import gettext as _

from idp.accounts.deps import authentication_service, second_step
from idp.accounts.login import ACR_MFA, ACR_PASSWORD, MFA_METHODS, PASSKEY_METHODS
from idp.accounts.lookup import usable_account
from idp.accounts.messages import (
    CODE_REFUSALS,
    SIGN_IN_REFUSALS,
    code_refusal,
    passkey_refusal,
    sign_in_refusal,
    wait_message,
)
from idp.accounts.passkey_views import MAX_BODY_BYTES
from idp.accounts.throttling import TooManyFailedLogins
from idp.audit.deps import audit_journal
from idp.extensions import app_clock, csrf, db
from idp.oidc.clients import RegisteredClient
from idp.oidc.deps import authorization_recorder, client_registry
from idp.oidc.parameters import MAX_AGE, VSCHARS
from idp.oidc.server import oidc_server
from idp.oidc.tokens import LoginContext
from idp.oidc.web_message import MODE, web_message_origin
from idp.web import csp_origins, request_origin
from idp.widget import theme as themes
from idp.widget.cli import theme_command
from idp.widget.deps import transactions
from idp.widget.forms import FramedCodeForm, FramedLoginForm
from idp.widget.transactions import (
    CODE_STEP,
    CODE_STEP_SECONDS,
    PASSWORD_STEP_SECONDS,
    Transaction,
)

bp = Blueprint("widget", __name__, cli_group="widget")
bp.cli.add_command(theme_command)

LOADER_MAX_AGE = 24 * 3600  # a fix in v1 reaches every partner within a day
# OAuth parameters are printable ASCII (``VSCHARS``); the theme option alone may hold any
# printable text (a title in French), as JSON.
THEME_PARAMETER = "theme"
MAX_PARAMETER_LENGTH = 2000


class AuthorizationRequest(OAuth2Request):
    """An authorization request that Authlib validates from given parameters (the query the
    loader sent, or the one a transaction kept), never from the current HTTP request's
    values, which also hold the form's fields."""

    def __init__(self, params: dict[str, str]):
        super().__init__("GET", request.url, headers=request.headers)
        self.payload = BasicOAuth2Payload(dict(params))

    @property
    def args(self):
        return self.payload.data

    @property
    def form(self):
        return {}


@bp.get("/widget/v1/widget.js")
def loader():
    """The loader (``static/widget/widget.js``): long cache, version in the path, readable
    from any page (CORS, CORP), so that partners may also pin it with Subresource
    Integrity."""
    response = send_static(Path(current_app.static_folder) / "widget", "widget.js",
                           mimetype="text/javascript", max_age=LOADER_MAX_AGE)
    response.headers["Cache-Control"] = f"public, max-age={LOADER_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


# The framed forms are posted without the session's CSRF token, which the frame cannot keep
# (no usable cookie): their protection is the single-use transaction token the view takes
# from the store first (idp.widget.forms, idp.widget.transactions).
@csrf.exempt
@bp.route("/widget/v1/connexion", methods=["GET", "POST"])
def sign_in():
    """The framed sign-in: the form (GET), then each step (POST)."""
    checked = _checked_partner()
    if not isinstance(checked, RegisteredClient):
        return checked
    client = checked
    params = request.args.to_dict()
    if request.method == "GET":
        return _start(client, params)

    transaction = transactions().take(request.form.get("transaction"))
    if transaction is None or not transaction.answers(params):
        # Expired, already used, or opened for another request: nothing posted is read.
        return _start(client, params, error=_expired_message(), status=400)
    if transaction.step == CODE_STEP:
        return _code_step(client, transaction)
    return _password_step(client, transaction)


@csrf.exempt  # as the forms: the transaction's token is the proof (idp.widget.forms)
@bp.post("/widget/v1/cle")
def passkey_options():
    """The WebAuthn request for the second step's form whose token is posted (JSON
    ``{"transaction": …}``); the token stays valid for that form's post."""
    checked = _checked_partner()
    if not isinstance(checked, RegisteredClient):
        return jsonify(error=_("La demande de connexion du site partenaire n'est pas "
                               "valide.")), 400
    body = request.get_json(silent=True) if (request.content_length or 0) <= 1024 else None
    token = body.get("transaction") if isinstance(body, dict) else None
    transaction = transactions().peek(token if isinstance(token, str) else None)
    account = (usable_account(db.session, transaction.account_id)
               if transaction is not None and transaction.step == CODE_STEP
               and transaction.answers(request.args.to_dict()) else None)
    if account is None or not account.passkeys:
        return jsonify(error=_expired_message()), 400
    try:
        options = second_step().passkey_options(account, transactions().ceremony_key(token))
    except TooManyFailedLogins as error:
        return jsonify(error=wait_message(error.resets_in)), 429
    return options, 200, {"Content-Type": "application/json", "Cache-Control": "no-store"}


# --- the steps --------------------------------------------------------------------------

def _start(client: RegisteredClient, params: dict, error: str | None = None, status=200):
    """Validate the authorization request as the partner sent it; show the form."""
    try:
        _validated_grant(AuthorizationRequest(params), None)
    except OAuth2Error as failure:
        return _protocol_error(params, failure)
    form = FramedLoginForm(formdata=None)
    form.siret.data = params.get("login_hint", "")
    return _password_form(client, params, form, error, status, focus="erreur" if error else None)


def _password_step(client: RegisteredClient, transaction: Transaction):
    params = transaction.request
    form = FramedLoginForm()
    error, status = None, 400
    if form.validate():
        try:
            account = authentication_service().authenticate(form.credentials(), request_origin())
        except SIGN_IN_REFUSALS as refusal:
            error, status = sign_in_refusal(refusal)
        else:
            if account.has_second_factor:
                return _code_form(client, account, Transaction(
                    request=params, step=CODE_STEP, account_id=str(account.id)))
            if ACR_MFA in params.get("acr_values", "").split():
                # The partner demands two factors from an account without them: enrolling
                # needs the account's pages, top-level (the loader offers a window).
                return _interaction_required(client, params)
            return _issue(client, params, account, ("pwd",))
    form.password.data = ""
    return _password_form(client, params, form, error, status,
                          focus="erreur" if error else _first_invalid(form))


def _code_step(client: RegisteredClient, transaction: Transaction):
    params = transaction.request
    account = usable_account(db.session, transaction.account_id)
    if account is None or not account.has_second_factor:
        return _start(client, params, error=_expired_message(), status=400)
    form = FramedCodeForm()
    error, status = None, 400
    if "credential" in request.form:
        answer = _passkey_answer(client, transaction, account)
        if not isinstance(answer, tuple):
            return answer
        error, status = answer
    elif not account.totp_secret:
        error = _("Utilisez l'une de vos clés d'accès.")
    elif form.validate():
        try:
            second_step().verify(account, form.code.data, request_origin())
        except CODE_REFUSALS as refusal:
            error, status = code_refusal(refusal)
        else:
            return _issue(client, params, account, MFA_METHODS)
    # The same deadline as the first code form: five minutes from the right password.
    retry = Transaction(request=params, step=CODE_STEP, account_id=transaction.account_id,
                        expires_at=transaction.expires_at)
    return _code_form(client, account, retry, form, error, status)


def _passkey_answer(client: RegisteredClient, transaction: Transaction, account):
    """The code page's other answer: the passkey's, as JSON in the form. The response that
    issues the code, or the (message, status) to show."""
    raw = request.form["credential"]
    try:
        credential = json.loads(raw) if len(raw) <= MAX_BODY_BYTES else None
    except ValueError:
        credential = None
    if not isinstance(credential, dict) or not account.passkeys:
        return _("La clé d'accès n'a pas répondu (annulée ou indisponible). Réessayez."), 400
    token = request.form.get("transaction", "")
    try:
        second_step().verify_passkey(account, transactions().ceremony_key(token), credential,
                                     request_origin())
    except CODE_REFUSALS as refusal:
        return passkey_refusal(refusal)
    return _issue(client, transaction.request, account, ("pwd", *PASSKEY_METHODS))


def _issue(client: RegisteredClient, params: dict, account, methods: tuple[str, ...]):
    """The code, by Authlib from the request the transaction kept (validated again), in a
    web_message page. No IdP session is opened: ``sid`` is None."""
    oauth_request = AuthorizationRequest(params)
    try:
        grant = _validated_grant(oauth_request, account)
    except OAuth2Error as failure:
        return _protocol_error(params, failure)
    context = LoginContext(account_id=str(account.id), auth_time=int(app_clock()()),
                           amr=tuple(methods), acr=ACR_MFA if "mfa" in methods else ACR_PASSWORD,
                           sid=None, family_id=uuid.uuid4().hex)
    response = oidc_server().create_authorization_response(
        request=oauth_request, grant=grant, grant_user=context)
    if grant.request.authorization_code is not None:  # a code was issued
        origin = request_origin()
        authorization_recorder().record(account, client.client_id,
                                        grant.request.payload.scope, None, origin)
        audit_journal().record("widget.sign_in", "success", account_id=account.id,
                               origin=origin, details={"client_id": client.client_id,
                                                       "amr": list(methods)})
        db.session.commit()
    return response


def _validated_grant(oauth_request: AuthorizationRequest, end_user):
    """What ``AuthorizationServer.get_consent_grant`` does, for ``oauth_request`` (Authlib's
    Flask integration would read the current HTTP request instead); the widget also demands
    web_message, PKCE S256 and a well-formed ``max_age``."""
    server = oidc_server()
    oauth_request.user = end_user
    try:
        grant = server.get_authorization_grant(oauth_request)
        grant.validate_no_multiple_request_parameter(oauth_request)
        grant.validate_consent_request()
        data = oauth_request.payload.data
        if data.get("code_challenge_method") != "S256" or not data.get("code_challenge"):
            raise InvalidRequestError("The widget requires PKCE with S256.",
                                      redirect_uri=grant.redirect_uri)
        if data.get("max_age") is not None and not MAX_AGE.fullmatch(data["max_age"]):
            raise InvalidRequestError("'max_age' must be a number of seconds",
                                      redirect_uri=grant.redirect_uri)
    except OAuth2Error as error:
        error.state = oauth_request.payload.state
        raise
    return grant


def _protocol_error(params: dict, error: OAuth2Error):
    """An error after the partner's origin is trusted goes back to it (web_message);
    before, a page."""
    if getattr(error, "redirect_uri", None):
        return oidc_server().handle_error_response(AuthorizationRequest(params), error)
    return _refusal(error.description or error.error)


# --- the pages --------------------------------------------------------------------------

def _checked_partner():
    """The partner whose widget origin asks, or a refusal page (400, not framable)."""
    parameters = request.args.items(multi=True)
    for name, value in parameters:
        if len(value) > MAX_PARAMETER_LENGTH or not VSCHARS.fullmatch(name) or not (
                value.isprintable() if name == THEME_PARAMETER else VSCHARS.fullmatch(value)):
            return _refusal(_("un paramètre contient des caractères non autorisés"))
    client = client_registry().find(request.args.get("client_id"))
    if client is None:
        return _refusal(_("site partenaire inconnu"))
    redirect_uri = request.args.get("redirect_uri")
    if not client.check_redirect_uri(redirect_uri) or \
            web_message_origin(client, redirect_uri) is None:
        return _refusal(_("cette page n'est pas enregistrée pour afficher la connexion "
                          "Net-entreprises de ce site partenaire"))
    if request.args.get("response_mode") != MODE:
        return _refusal(_("le widget répond par response_mode=web_message"))
    return client


def _refusal(reason: str):
    return render_template(
        "oidc/error.html", error="invalid_request",
        message=_("La demande de connexion du site partenaire n'est pas valide "
                  "(%(reason)s). Revenez sur le site partenaire et recommencez.",
                  reason=reason)), 400


def _password_form(client, params, form, error, status, focus=None):
    token = transactions().open(Transaction(request=params), PASSWORD_STEP_SECONDS)
    form.transaction.data = token
    return _framed("widget/sign_in.html", client, params, status, form=form, error=error,
                   focus=focus)


def _code_form(client, account, transaction, form=None, error=None, status=200):
    """The second step: the passkey's button and/or the code, as the account has them."""
    token = transactions().open(transaction, CODE_STEP_SECONDS)
    form = form or FramedCodeForm(formdata=None)
    form.code.data = ""
    form.transaction.data = token
    params = transaction.request
    passkey = None
    if account.passkeys:
        # Where the frame's browser cannot run the ceremony (no WebAuthn, or the partner's
        # page does not delegate it), frame.js hands the loader this message: the second
        # step goes on top-level, never skipped.
        passkey = {"options": f"{url_for('widget.passkey_options')}?{urlencode(params)}",
                   "fallback": None if account.totp_secret else _interaction(_(
                       "Votre clé d'accès vous est demandée : poursuivez dans une nouvelle "
                       "fenêtre."))}
    initial = form.code.id if account.totp_secret else "passkey-use"
    return _framed("widget/second_step.html", client, params, status, form=form,
                   account=account, error=error, passkey=passkey,
                   focus="erreur" if error else initial)


def _interaction(text: str) -> dict:
    return {"type": "interaction_required", "message": text,
            "action": _("Continuer dans une nouvelle fenêtre")}


def _interaction_required(client, params):
    message = _interaction(_("Pour accéder à ce service, la double authentification doit "
                             "être activée sur votre compte : poursuivez dans une nouvelle "
                             "fenêtre."))
    return _framed("widget/interaction.html", client, params, 200, message=message)


def _expired_message() -> str:
    return _("Votre demande de connexion a expiré ou a déjà été utilisée. "
             "Saisissez à nouveau vos identifiants.")


def _first_invalid(form) -> str | None:
    return next((field.id for field in form if field.errors), None)


def _framed(template: str, client: RegisteredClient, params: dict, status: int, *,
            message: dict | None = None, focus: str | None = None, **context):
    """A page the partner's registered origins (and they alone) may frame."""
    theme = themes.resolve(client.theme, params.get(THEME_PARAMETER))
    style_nonce = secrets.token_urlsafe(16)
    frame = {"origin": params["redirect_uri"], "state": params.get("state"),
             "message": message, "focus": focus, "passkey": context.get("passkey")}
    body = render_template(template, client=client, theme=theme, style_nonce=style_nonce,
                           heading=theme.title or _("Vous connecter"), frame=frame, **context)
    response = make_response(body, status)
    images = " ".join(filter(None, ["'self'", theme.logo_origin]))
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{style_nonce}'; "
        f"img-src {images}; frame-ancestors {' '.join(csp_origins(client.widget_origins))}; "
        "form-action 'self'; base-uri 'none'; object-src 'none'")
    return response
