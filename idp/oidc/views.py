"""OpenID Connect endpoints: discovery, JWKS, authorize, token, userinfo."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import LoginRequiredError
from flask import (
    Blueprint,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from idp.accounts.login import (
    ACR_CERTIFICATE,
    ACR_MFA,
    ACR_PASSWORD,
    CERTIFICATE_METHOD,
    await_sign_in,
    current_login,
    sign_out,
    signed_in_for,
    start_second_step,
    stop_awaiting,
)
from idp.accounts.lookup import usable_account
from idp.extensions import app_clock, csrf, db
from idp.oidc import server as oidc
from idp.oidc.clients import SCOPES, TOKEN_EXCHANGE, origin
from idp.oidc.deps import authorization_recorder, claims_builder, client_registry, keyring
from idp.oidc.parameters import MAX_AGE, VSCHARS
from idp.oidc.tokens import LoginContext
from idp.web import default_policy_with_form_action, request_origin

bp = Blueprint("oidc", __name__)
csrf.exempt(bp)  # protocol endpoints authenticate clients, not browser forms

# RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1: the body is application/x-www-form-urlencoded.
FORM_ENDPOINTS = {"oidc.token", "oidc.introspect", "oidc.revoke"}
REPEATABLE = {"audience", "resource"}


@bp.before_request
def refuse_malformed_requests():
    """Stop a parameter that no OAuth parameter can be (a control character, a NUL that
    PostgreSQL would refuse, non-ASCII), a repeated parameter, and a token request that is
    not a form, before Authlib, the store or the database see them: a page in the browser,
    the JSON error elsewhere."""
    parameters = [*request.args.items(multi=True), *request.form.items(multi=True)]
    if not all(VSCHARS.fullmatch(name) and VSCHARS.fullmatch(value)
               for name, value in parameters):
        reason = "a parameter holds characters outside printable ASCII"
    elif len(single := [name for name, _ in parameters if name not in REPEATABLE]) \
            != len(set(single)):
        # RFC 6749 §3.1 and §3.2: a parameter is never sent more than once, but those that
        # name several targets (RFC 8693 §2.1, RFC 8707 §2).
        reason = "a parameter is repeated"
    elif request.endpoint in FORM_ENDPOINTS and \
            request.mimetype != "application/x-www-form-urlencoded":
        reason = "the body must be application/x-www-form-urlencoded"
    else:
        return None
    if request.endpoint == "oidc.authorize":
        return _authorization_error_page("invalid_request", reason)
    if request.endpoint == "oidc.end_session":
        return _logout_error_page("invalid_request", reason)
    return jsonify(error="invalid_request", error_description=reason), 400


def _authorization_error_page(error: str, reason: str):
    # Shown by the IdP: without a known client and its registered redirect_uri, never
    # redirect (no open redirect).
    return render_template(
        "oidc/error.html", error=error,
        message=_("La demande de connexion du site partenaire n'est pas valide "
                  "(%(reason)s). Revenez sur le site partenaire et recommencez.",
                  reason=reason)), 400


def _logout_error_page(error: str, reason: str):
    return render_template(
        "oidc/error.html", error=error,
        message=_("La demande de déconnexion n'est pas valide (%(reason)s).",
                  reason=reason)), 400


@bp.get("/.well-known/openid-configuration")
def discovery():
    """Provider metadata (OIDC Discovery 1.0, RFC 8414): every endpoint is found here."""
    issuer = current_app.config["ISSUER"]
    return jsonify({
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oidc/authorize",
        "token_endpoint": f"{issuer}/oidc/token",
        "userinfo_endpoint": f"{issuer}/oidc/userinfo",
        "jwks_uri": f"{issuer}/oidc/jwks",
        "introspection_endpoint": f"{issuer}/oidc/introspect",
        "introspection_endpoint_auth_methods_supported": oidc.CLIENT_AUTH_METHODS,
        "revocation_endpoint": f"{issuer}/oidc/revoke",
        "revocation_endpoint_auth_methods_supported": [*oidc.CLIENT_AUTH_METHODS, "none"],
        "end_session_endpoint": f"{issuer}/oidc/logout",
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": oidc.RESPONSE_MODES,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials",
                                  TOKEN_EXCHANGE],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": [*oidc.CLIENT_AUTH_METHODS, "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login"],
        "acr_values_supported": [ACR_PASSWORD, ACR_MFA, ACR_CERTIFICATE],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
            "given_name", "family_name", "email", "email_verified", "phone_number", "siret",
            "siren", "organization_name", "role", "habilitations",
        ],
        "claim_types_supported": ["normal", "distributed"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    })


@bp.get("/oidc/jwks")
def jwks():
    """The public signing keys (published before use, kept while tokens they signed live)."""
    response = jsonify(keyring().jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _needs_login(login) -> bool:
    """Whether this request must show « Vous connecter » first (prompt=login, max_age)."""
    if login is None:
        return True
    if signed_in_for(request.args.get("_login")):
        return False  # the person just signed in for this very request
    if "login" in request.args.get("prompt", "").split():
        return True
    max_age = request.args.get("max_age")
    if max_age is not None:  # checked to be ASCII digits by the caller
        return app_clock()() - login.auth_time > int(max_age)
    return False


@bp.get("/oidc/authorize")
def authorize():
    """Authorization endpoint; an unauthenticated request shows the sign-in form first."""
    login = current_login()
    try:
        grant = oidc.oidc_server().get_consent_grant(end_user=login.account if login else None)
    except OAuth2Error as error:
        if getattr(error, "redirect_uri", None):
            return oidc.oidc_server().handle_error_response(None, error)
        return _authorization_error_page(error.error, error.description or error.error)

    max_age = request.args.get("max_age")
    if max_age is not None and not MAX_AGE.fullmatch(max_age):
        error = InvalidRequestError("'max_age' must be a number of seconds",
                                    redirect_uri=grant.redirect_uri,
                                    state=grant.request.payload.state)
        return oidc.oidc_server().handle_error_response(None, error)

    if _needs_login(login):
        if "none" in request.args.get("prompt", "").split():
            error = LoginRequiredError(redirect_uri=grant.redirect_uri,
                                       state=grant.request.payload.state)
            return oidc.oidc_server().handle_error_response(None, error)
        args = {k: v for k, v in request.args.items(multi=True) if k != "_login"}
        target = request.path + "?" + urlencode([*args.items(), ("_login", await_sign_in())])
        form = {"next": target}
        if request.args.get("login_hint"):
            form["siret"] = request.args["login_hint"]
        return redirect("/connexion?" + urlencode(form))

    account = login.account
    if ACR_CERTIFICATE in request.args.get("acr_values", "").split() \
            and CERTIFICATE_METHOD not in login.amr:
        # The partner demands a certificate sign-in (« Utiliser un certificat »).
        return redirect(url_for("certificates.sign_in_with_certificate",
                                next=request.full_path))
    if ACR_MFA in request.args.get("acr_values", "").split() and login.acr != ACR_MFA:
        # The partner demands two factors: pass the second step now, or enrol first.
        if account.has_second_factor:
            first = CERTIFICATE_METHOD if CERTIFICATE_METHOD in login.amr else "pwd"
            return start_second_step(account, request.full_path, first)
        return redirect(url_for("security.enable_two_factor", next=request.full_path))

    stop_awaiting()
    context = LoginContext(account_id=str(account.id), auth_time=login.auth_time,
                           amr=login.amr, acr=login.acr, sid=login.sid,
                           family_id=uuid.uuid4().hex)
    response = oidc.oidc_server().create_authorization_response(grant=grant,
                                                                grant_user=context)
    if grant.request.authorization_code is not None:  # a code was issued
        authorization_recorder().record(account, grant.client.client_id,
                                        grant.request.payload.scope, login.sid,
                                        request_origin())
    return response


@bp.post("/oidc/token")
def token():
    """Token endpoint: authorization code, refresh token, client credentials."""
    return oidc.oidc_server().create_token_response()


@bp.post("/oidc/introspect")
def introspect():
    """Token introspection (RFC 7662)."""
    return oidc.oidc_server().create_endpoint_response("introspection")


@bp.post("/oidc/revoke")
def revoke():
    """Token revocation (RFC 7009)."""
    return oidc.oidc_server().create_endpoint_response("revocation")


@bp.route("/oidc/logout", methods=["GET", "POST"])
def end_session():
    """RP-initiated logout. Without a valid ``id_token_hint`` the person confirms first
    (RP-Initiated Logout §6: otherwise any site could sign people out)."""
    server = oidc.oidc_server()
    try:
        logout = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return _logout_error_page(error.error, error.description or error.error)
    login = current_login()
    hinted_sub = (logout.id_token_claims or {}).get("sub")
    confirmed = request.method == "POST" and _valid_csrf(request.form.get("csrf_token"))
    if login is not None and logout.needs_confirmation and not confirmed:
        page = make_response(render_template("oidc/confirm_logout.html", client=logout.client,
                                             form_fields=request.values.to_dict()))
        if logout.redirect_uri:  # registered, checked by Authlib: the form's answer ends there
            page.headers["Content-Security-Policy"] = default_policy_with_form_action(
                [origin(logout.redirect_uri)])
        return page
    if login is not None and hinted_sub in (None, str(login.account.id)):
        sign_out(request_origin(),
                 initiated_by=logout.client.client_id if logout.client else None)
    response = server.create_endpoint_response("end_session", logout)
    return response or render_template("accounts/logged_out.html")


def _valid_csrf(token: str | None) -> bool:
    try:
        validate_csrf(token)
    except ValidationError:
        return False
    return True


@bp.route("/oidc/userinfo", methods=["GET", "POST"])
def userinfo():
    """Claims about the person the access token speaks for (GET and POST, OIDC Core §5.3)."""
    token = oidc.access_token("openid")
    account = usable_account(db.session, token["sub"])
    if account is None:
        oidc.refuse_token()
    client = client_registry().find(token["client_id"])
    services = client.services if client else frozenset()
    return jsonify(claims_builder().user_info(account, token.get("scope", ""), services))
