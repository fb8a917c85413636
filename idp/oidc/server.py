"""All the Authlib wiring: the authorization server, its grants and endpoints, and the
resource protector, built once per app. Views only call ``oidc_server().create_*_response``,
``access_token()`` and ``refuse_token()``; the services these classes plug in come from
``idp.oidc.deps``."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from typing import NoReturn
from urllib.parse import unquote

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error, rfc7009, rfc7662
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from authlib.oidc import rpinitiated
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, current_app, render_template
from flask import request as flask_request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from idp.accounts.lookup import is_usable, usable_account
from idp.audit.deps import audit_journal
from idp.extensions import db, store
from idp.models_common import utcnow
from idp.oidc.clients import RegisteredClient, origin, plausible_client_id
from idp.oidc.deps import (
    claims_builder,
    client_registry,
    code_store,
    config,
    keyring,
    refresh_tokens,
    revocation_list,
    token_issuer,
)
from idp.oidc.keys import KeyRing
from idp.oidc.token_exchange import TokenExchangeGrant
from idp.oidc.tokens import AuthorizationCode, LoginContext
from idp.oidc.web_message import web_message_origin, web_message_response
from idp.web import csp_origins, request_origin

# --- tokens -----------------------------------------------------------------------------

class AccessTokenGenerator:
    """Authlib's token generator, minting through the token issuer; refresh tokens are
    opaque random strings."""

    def __call__(self, grant_type, client: RegisteredClient, user: LoginContext | None = None,
                 scope=None, expires_in=None, include_refresh_token=True):
        issued = token_issuer().access_token(client.client_id, scope or "", user)
        token = {"token_type": "Bearer", "access_token": issued.token,
                 "expires_in": issued.expires_in}
        if scope:
            token["scope"] = scope
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token


def save_token(token: dict, request) -> None:
    """Keep what must outlive the response: refresh tokens (access tokens are JWTs)."""
    login: LoginContext | None = request.user
    if login is not None and "refresh_token" in token:
        # RFC 6749 §6: a rotated refresh token keeps the scope of the one it replaces, even
        # when the access token beside it asked for less.
        scope = (request.refresh_token.get_scope() if request.refresh_token
                 else token.get("scope", ""))
        refresh_tokens().store(token["refresh_token"], request.client.client_id, scope, login)


def basic_credentials(headers) -> tuple[str, str] | None:
    """The client id and secret of an ``Authorization: Basic`` header, or None when it is
    absent or malformed (RFC 7617 §2: base64 of UTF-8 ``id:secret``, each part
    form-urlencoded per RFC 6749 §2.3.1)."""
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip().encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if colon else None


def authenticate_client_secret_basic(query_client, request):
    """``client_secret_basic`` where a malformed header is a failed authentication
    (``invalid_client``), not an error: Authlib's own decoding raises on non-ASCII or
    non-UTF-8 bytes."""
    credentials = basic_credentials(request.headers)
    if credentials is None:
        return None
    client = query_client(credentials[0])
    return client if client and client.check_client_secret(credentials[1]) else None


# --- grants -----------------------------------------------------------------------------

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
RESPONSE_MODES = ["query", "form_post", "web_message"]

class PartnerScopes:
    """RFC 6749 §3.3: a scope outside the partner's registered set (unknown scopes never are
    in it) is refused with ``invalid_scope`` rather than dropped, so that a partner learns
    at once what its registration lacks instead of finding claims missing later."""

    def validate_requested_scope(self):
        scope = self.request.payload.scope
        if scope and not self.request.client.allows_scope(scope):
            raise InvalidScopeError("A requested scope is not allowed for this client.")


class AuthorizationCodeGrant(PartnerScopes, grants.AuthorizationCodeGrant):
    """Code flow; codes live one minute in the store and work once."""

    TOKEN_ENDPOINT_AUTH_METHODS = [*CLIENT_AUTH_METHODS, "none"]

    @staticmethod
    def validate_authorization_redirect_uri(request, client):
        # OIDC Core §3.1.2.1: redirect_uri is REQUIRED, even for a partner with one URI, and
        # matches exactly. Errors here are shown by the IdP, never redirected; their text
        # does not repeat the URI (an error description must be plain ASCII, RFC 6749 §5.2).
        redirect_uri = request.payload.redirect_uri
        if not redirect_uri:
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        if not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("The 'redirect_uri' is not registered for this client.")
        return redirect_uri

    def validate_authorization_request(self):
        redirect_uri = super().validate_authorization_request()
        mode = self.request.payload.data.get("response_mode")
        # RFC 6749 §4.1.2.1: the redirect_uri is trusted now, so the error goes back to the
        # partner (by query: the mode it asked for is the problem).
        # web_message only for a redirect_uri that is one of the partner's widget origins.
        if mode is not None and (mode not in RESPONSE_MODES or (
                mode == "form_post" and form_post_origin(redirect_uri) is None) or (
                mode == "web_message"
                and web_message_origin(self.request.client, redirect_uri) is None)):
            raise InvalidRequestError("Unsupported 'response_mode'.", redirect_uri=redirect_uri,
                                      state=self.request.payload.state)
        return redirect_uri

    def create_authorization_response(self, redirect_uri: str, grant_user):
        """Issue the code and deliver it in the response mode asked for."""
        self.request.user = grant_user
        code = self.generate_authorization_code()
        self.save_authorization_code(code, self.request)
        params = [("code", code)]
        if self.request.payload.state:
            params.append(("state", self.request.payload.state))
        return authorization_response(redirect_uri, params, self.request)

    def save_authorization_code(self, code, request):
        login: LoginContext = request.user
        payload = request.payload.data
        nonce = payload.get("nonce")
        record = AuthorizationCode(
            client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
            scope=request.scope, account_id=login.account_id,
            family_id=login.family_id, sid=login.sid, nonce=nonce, auth_time=login.auth_time,
            amr=list(login.amr), acr=login.acr,
            code_challenge=payload.get("code_challenge"),
            code_challenge_method=payload.get("code_challenge_method"),
        )
        code_store().save(code, record)
        request.authorization_code = record  # the view records the grant when it is set
        if nonce:  # a nonce is accepted once per client while its ID token could live
            store.get().set(f"oidc-nonce:{request.client.client_id}:{nonce}", "1",
                            config("OIDC_CODE_LIFETIME_SECONDS")
                            + config("OIDC_ID_TOKEN_LIFETIME_SECONDS"))

    def query_authorization_code(self, code, client: RegisteredClient):
        record, replayed_family = code_store().redeem(code)
        if replayed_family:
            refresh_tokens().revoke_family(replayed_family, reason="authorization_code_reuse",
                                           client_id=client.client_id)
            return None
        if record is None or record.client_id != client.client_id:
            return None
        return record

    def delete_authorization_code(self, authorization_code):
        """Nothing to do: the code was taken from the store when redeemed."""

    def authenticate_user(self, authorization_code: AuthorizationCode):
        if usable_account(db.session, authorization_code.account_id) is None:
            return None
        return LoginContext(
            account_id=authorization_code.account_id, auth_time=authorization_code.auth_time,
            amr=tuple(authorization_code.amr), acr=authorization_code.acr,
            sid=authorization_code.sid, family_id=authorization_code.family_id,
            services=self.request.client.services)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Rotation: every use gives a new refresh token; reuse revokes the family."""

    TOKEN_ENDPOINT_AUTH_METHODS = [*CLIENT_AUTH_METHODS, "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        row = refresh_tokens().claim(refresh_token, self.request.client.client_id)
        return RefreshTokenRecord(row) if row else None

    def authenticate_user(self, refresh_token: RefreshTokenRecord):
        return refreshed_login(refresh_token.row, self.request.client)

    def revoke_old_credential(self, refresh_token):
        """Nothing to do: claiming the token already marked it used."""


def refreshed_login(row, client: RegisteredClient) -> LoginContext | None:
    """The sign-in a claimed refresh token carries on, or None when its account can no
    longer be used (removed, suspended)."""
    if not is_usable(db.session, row.account_id):
        return None
    return LoginContext(account_id=str(row.account_id), auth_time=row.auth_time,
                        amr=tuple(row.amr or ()), acr=row.acr, sid=row.sid,
                        family_id=row.family_id, services=client.services)


class RefreshTokenRecord:
    """Authlib's view of a refresh token row."""

    def __init__(self, row):
        self.row = row

    def check_client(self, client):
        return self.row.client_id == client.client_id

    def get_scope(self):
        return self.row.scope

    def is_expired(self):
        return False  # checked when claimed

    def is_revoked(self):
        return False  # checked when claimed


class ClientCredentialsGrant(PartnerScopes, grants.ClientCredentialsGrant):
    """A partner's back end acting for itself (no person)."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only: ``plain`` would give the verifier away (RFC 9700 §2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code):
        return authorization_code.code_challenge_method


class IdPOpenIDCode(OpenIDCode):
    """ID tokens signed with the client's algorithm, claims filtered per partner."""

    def exists_nonce(self, nonce, request):
        return store.get().get(f"oidc-nonce:{request.client.client_id}:{nonce}") is not None

    def resolve_client_private_key(self, client):
        return keyring().signer(self.get_client_algorithm(client))

    def get_encode_header(self, client):
        alg = self.get_client_algorithm(client)
        return {"alg": alg, "kid": keyring().signer(alg).kid, "typ": "JWT"}

    def get_client_claims(self, client):
        return {"iss": config("ISSUER"), "aud": [client.client_id],
                "exp": int(time.time()) + config("OIDC_ID_TOKEN_LIFETIME_SECONDS")}

    def get_authorization_code_claims(self, authorization_code):
        claims = super().get_authorization_code_claims(authorization_code)
        if authorization_code.sid:
            claims["sid"] = authorization_code.sid
        return claims

    def generate_user_info(self, user: LoginContext, scope):
        account = usable_account(db.session, user.account_id)
        return claims_builder().user_info(account, scope, user.services)


class PrivateKeyJWT(JWTBearerClientAssertion):
    """``private_key_jwt`` client authentication (RFC 7523 §2.2), assertions used once."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def get_audiences(self):
        # RFC 7523 §3: the token endpoint; the issuer is accepted too (OIDC Core §9).
        issuer = config("ISSUER")
        return [issuer + "/oidc/token", issuer]

    def validate_jti(self, claims, jti):
        return store.get().incr(f"oidc-assertion-jti:{jti}", 3600) == 1

    def resolve_client_public_key(self, client):
        return KeySet.import_key_set(client.jwks or {"keys": []})


class IdPAuthorizationServer(AuthorizationServer):
    """Authorization errors go back in the partner's response mode, with ``iss``; failed
    token requests are journaled; no error text repeats a value it cannot carry."""

    def get_authorization_grant(self, request):
        # Authlib repeats an unknown response_type in its error text, which must be plain
        # ASCII without quotes or backslashes (RFC 6749 §4.1.2.1): refuse such a value here.
        response_type = request.payload.response_type
        if response_type and invalid_error_characters(response_type):
            raise InvalidRequestError("Malformed 'response_type'.")
        return super().get_authorization_grant(request)

    def handle_error_response(self, request, error):
        if getattr(error, "redirect_uri", None):  # set once the redirect_uri is trusted
            return self.handle_response(*authorization_response(error.redirect_uri,
                                                                error.get_body(), request))
        return super().handle_error_response(request, error)

    def create_token_response(self, request=None):
        response = super().create_token_response(request)
        if response.status_code >= 400:
            # Failed token requests go to the journal (never the secrets or codes sent).
            body = response.get_json(silent=True) or {}
            form = flask_request.form
            credentials = basic_credentials(flask_request.headers)
            client_id = form.get("client_id") or (credentials[0] if credentials else None)
            audit_journal().record("oidc.token", "failure", origin=request_origin(), details={
                "error": body.get("error"), "grant_type": form.get("grant_type"),
                "client_id": client_id if plausible_client_id(client_id) else None})
            db.session.commit()
        return response


def form_post_origin(redirect_uri: str) -> str | None:
    """The origin a form_post page may send the browser to, as a CSP source; None for a
    redirect URI no HTML form can reach (an app's own scheme)."""
    found = csp_origins([origin(redirect_uri)])  # the partners' one origin rule
    return found[0] if found else None


def authorization_response(redirect_uri: str, params: list[tuple[str, str]], request=None):
    """An authorization response, a code or an error, as ``(status, body, headers)``: a
    redirect with the parameters in the query (RFC 6749 §4.1.2), or with
    ``response_mode=form_post`` a page whose form the browser posts to the partner (OAuth 2.0
    Form Post Response Mode §2), or with ``response_mode=web_message`` a page that posts them
    to the partner's widget origin (``idp.oidc.web_message``); ``iss`` is added either way
    (RFC 9207 §2). ``request`` is the Authlib request answered (the widget's is not the
    current HTTP request), or None for the current HTTP request."""
    params = [*params, ("iss", config("ISSUER"))]
    if request is not None:
        mode = request.payload.data.get("response_mode")
        client = request.client or client_registry().find(request.payload.client_id)
    else:
        mode = flask_request.values.get("response_mode")
        client = None
    if mode == "web_message":
        # Only to one of the partner's widget origins; otherwise (the mode is the problem,
        # see validate_authorization_request) the answer goes by query.
        if client is None:
            client = client_registry().find(flask_request.values.get("client_id"))
        target = web_message_origin(client, redirect_uri)
        if target is not None:
            return web_message_response(target, params)
    post_to = form_post_origin(redirect_uri)
    if mode != "form_post" or post_to is None:
        return 302, "", [("Location", add_params_to_uri(redirect_uri, params))]
    nonce = secrets.token_urlsafe(16)
    body = render_template("oidc/form_post.html", action=redirect_uri, fields=params,
                           nonce=nonce)
    # The site-wide policy allows forms to this site only: this page may post to the
    # partner's origin alone, and run its one script, by nonce.
    policy = (f"default-src 'self'; script-src 'nonce-{nonce}'; form-action {post_to}; "
              "frame-ancestors 'none'; base-uri 'none'")
    return 200, body, [("Content-Type", "text/html; charset=utf-8"),
                       ("Content-Security-Policy", policy)]


# --- introspection, revocation, end session --------------------------------------------

class AccessTokenRecord:
    """A verified JWT access token, as the introspection and revocation endpoints see it."""

    def __init__(self, claims: dict):
        self.claims = claims

    def check_client(self, client):
        return self.claims.get("client_id") == client.client_id

    def is_expired(self):
        return self.claims["exp"] <= time.time()

    def is_revoked(self):
        return revocation_list().is_revoked(self.claims)


def find_token(token_string: str, hint: str | None):
    """Our access token (verified JWT) or refresh token (stored digest), or None."""
    if token_string.count(".") == 2 and hint != "refresh_token":
        try:
            token = jwt.decode(token_string, keyring().public_key_set(),
                               algorithms=["RS256", "ES256"])
        except JoseError:
            return None
        if token.header.get("typ") != "at+jwt" or token.claims.get("iss") != config("ISSUER"):
            return None
        return AccessTokenRecord(token.claims)
    row = refresh_tokens().find(token_string)
    return StoredRefreshToken(row) if row else None


class StoredRefreshToken(RefreshTokenRecord):
    """A refresh token row with its real state, for introspection and revocation."""

    def is_expired(self):
        return self.row.expires_at <= utcnow()

    def is_revoked(self):
        # A used (rotated) token is no longer active either.
        return self.row.revoked_at is not None or self.row.used_at is not None


class IntrospectionEndpoint(rfc7662.IntrospectionEndpoint):
    """RFC 7662: a partner may introspect the tokens issued to it."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        return token.check_client(client)

    def introspect_token(self, token):
        if isinstance(token, AccessTokenRecord):
            claims = token.claims
            payload = {key: claims[key] for key in ("scope", "client_id", "sub", "exp", "iat",
                                                    "iss", "aud", "jti") if key in claims}
            payload["token_type"] = "Bearer"
            return payload
        row = token.row
        return {"scope": row.scope, "client_id": row.client_id, "sub": str(row.account_id),
                "exp": int(row.expires_at.timestamp()), "iat": int(row.issued_at.timestamp()),
                "iss": config("ISSUER"), "token_type": "refresh_token"}


class RevocationEndpoint(rfc7009.RevocationEndpoint):
    """RFC 7009: revoking a refresh token also revokes the access tokens of its grant."""

    CLIENT_AUTH_METHODS = [*CLIENT_AUTH_METHODS, "none"]

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token, request):
        if isinstance(token, AccessTokenRecord):
            revocation_list().revoke_jti(token.claims["jti"],
                                         int(token.claims["exp"] - time.time()))
            return
        refresh_tokens().revoke_family(token.row.family_id, reason="revoked_by_client",
                                       account_id=token.row.account_id,
                                       client_id=token.row.client_id)


class EndSessionEndpoint(rpinitiated.EndSessionEndpoint):
    """RP-initiated logout: ``id_token_hint``, exact ``post_logout_redirect_uri``, ``state``."""

    def get_server_jwks(self):
        return keyring().public_key_set()

    def validate_request(self, request):
        logout = super().validate_request(request)
        if logout.id_token_claims is not None and not _is_id_token(
                request.payload.data["id_token_hint"], logout.id_token_claims):
            raise InvalidRequestError("The 'id_token_hint' is not an ID token.")
        return logout

    def resolve_client_from_id_token_claims(self, id_token_claims):
        audience = id_token_claims.get("aud")
        if isinstance(audience, list) and len(audience) == 1:
            audience = audience[0]
        return self.server.query_client(audience) if isinstance(audience, str) else None

    def end_session(self, end_session_request):
        """Done by the view, which knows the browser session (see views.end_session)."""


def _is_id_token(token_string: str, claims: dict) -> bool:
    # Access tokens (RFC 9068 §4: typ at+jwt), logout tokens (typ logout+jwt) and ID tokens
    # are signed with the same keys: only an ID token names its partner without the marks
    # of the others (scope and client_id, events).
    header = extract_compact(token_string.encode()).headers()
    return (header.get("typ") == "JWT" and claims.get("iss") == config("ISSUER")
            and "sub" in claims and "aud" in claims
            and not {"scope", "client_id", "events"} & claims.keys())


# --- resource protection ----------------------------------------------------------------

class AccessTokenValidator(JWTBearerTokenValidator):
    """Our JWT access tokens: signature, ``typ``, issuer, audience, expiry, revocation."""

    def get_jwks(self):
        return keyring().public_key_set()

    def authenticate_token(self, token_string):
        claims = super().authenticate_token(token_string)
        if claims.header.get("typ") != "at+jwt":  # RFC 9068 §4: reject ID tokens and others
            raise InvalidTokenError(realm=self.realm)
        if revocation_list().is_revoked(claims):
            raise InvalidTokenError(realm=self.realm)
        return claims


def init_app(app: Flask) -> None:
    """Build the authorization server and the resource protector of ``app``."""
    app.extensions["idp_keyring"] = KeyRing(lambda: db.session)
    app.extensions["idp_client_cache"] = {}
    issuer = app.config["ISSUER"]

    authorization_server = IdPAuthorizationServer()
    authorization_server.init_app(app, query_client=lambda cid: client_registry().find(cid),
                                  save_token=save_token)
    authorization_server.register_token_generator("default", AccessTokenGenerator())
    authorization_server.register_grant(
        AuthorizationCodeGrant, [IdPOpenIDCode(require_nonce=True),
                                 S256CodeChallenge(required=True)])
    authorization_server.register_grant(RefreshTokenGrant)
    authorization_server.register_grant(ClientCredentialsGrant)
    authorization_server.register_grant(TokenExchangeGrant)
    authorization_server.register_client_auth_method(
        "client_secret_basic", authenticate_client_secret_basic)
    authorization_server.register_client_auth_method(
        PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT())
    authorization_server.register_endpoint(IntrospectionEndpoint)
    authorization_server.register_endpoint(RevocationEndpoint)
    authorization_server.register_endpoint(EndSessionEndpoint)
    app.extensions["idp_oidc_server"] = authorization_server

    protector = ResourceProtector()
    protector.register_token_validator(
        AccessTokenValidator(issuer=issuer, resource_server=issuer))
    app.extensions["idp_resource_protector"] = protector


def oidc_server() -> IdPAuthorizationServer:
    """The current app's authorization server."""
    return current_app.extensions["idp_oidc_server"]


def access_token(scope: str | None = None):
    """The verified access token of the current request; else raise the RFC 6750 error
    response (401 with ``WWW-Authenticate: Bearer``, or 403 for a missing scope)."""
    protector = current_app.extensions["idp_resource_protector"]
    try:
        return protector.acquire_token(scope)
    except OAuth2Error as error:
        protector.raise_error_response(error)


def refuse_token() -> NoReturn:
    """Answer 401 ``invalid_token`` with ``WWW-Authenticate: Bearer`` (RFC 6750 §3.1): for a
    verified token that speaks for no usable person (a client's own token, whose ``sub`` is
    the client, RFC 9068 §2.2; a removed account)."""
    protector = current_app.extensions["idp_resource_protector"]
    protector.raise_error_response(InvalidTokenError())
