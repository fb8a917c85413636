"""All the Authlib wiring: the authorization server, its grants and endpoints, and the
resource protector, built once per app. Views only call ``oidc_server().create_*_response``
and ``access_token()``; the services these classes plug in come from ``idp.oidc.deps``."""

from __future__ import annotations

import secrets
import time

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error, rfc7009, rfc7662
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from authlib.oidc import rpinitiated
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, current_app
from flask import request as flask_request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.accounts.lookup import usable_account
from idp.audit.deps import audit_journal
from idp.extensions import db, store
from idp.models_common import utcnow
from idp.oidc.clients import RegisteredClient
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
from idp.oidc.tokens import AuthorizationCode, LoginContext
from idp.web import request_origin

# --- tokens -----------------------------------------------------------------------------

class AccessTokenGenerator:
    """Authlib's token generator, minting through the token issuer; refresh tokens are
    opaque random strings."""

    def __call__(self, grant_type, client: RegisteredClient, user: LoginContext | None = None,
                 scope=None, expires_in=None, include_refresh_token=True):
        issued = token_issuer().access_token(client.client_id, scope or "", user)
        if user is not None:
            # Revoking the family (logout, reuse) must reach this access token too.
            revocation_list().remember_issued(user.family_id, issued.claims["jti"])
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
        refresh_tokens().store(token["refresh_token"], request.client.client_id,
                               token.get("scope", ""), login)


# --- grants -----------------------------------------------------------------------------

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """Code flow; codes live one minute in the store and work once."""

    TOKEN_ENDPOINT_AUTH_METHODS = [*CLIENT_AUTH_METHODS, "none"]

    def save_authorization_code(self, code, request):
        login: LoginContext = request.user
        payload = request.payload.data
        nonce = payload.get("nonce")
        record = AuthorizationCode(
            client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
            scope=request.payload.scope, account_id=login.account_id,
            family_id=login.family_id, sid=login.sid, nonce=nonce, auth_time=login.auth_time,
            amr=list(login.amr), acr=login.acr,
            code_challenge=payload.get("code_challenge"),
            code_challenge_method=payload.get("code_challenge_method"),
        )
        code_store().save(code, record)
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
        row = refresh_tokens().claim(refresh_token)
        return RefreshTokenRecord(row) if row else None

    def authenticate_user(self, refresh_token: RefreshTokenRecord):
        row = refresh_token.row
        if usable_account(db.session, row.account_id) is None:
            return None
        return LoginContext(account_id=str(row.account_id), auth_time=row.auth_time,
                            amr=tuple(row.amr or ()), acr=row.acr, sid=row.sid,
                            family_id=row.family_id, services=self.request.client.services)

    def revoke_old_credential(self, refresh_token):
        """Nothing to do: claiming the token already marked it used."""


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


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
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
    """Adds ``iss`` to every authorization response, errors included (RFC 9207 §2).

    Authlib's IssuerParameter extension registers a server hook that this version never
    runs, so the parameter is added here.
    """

    def create_authorization_response(self, request=None, grant_user=None, grant=None):
        response = super().create_authorization_response(request, grant_user, grant)
        return _with_issuer(response)

    def handle_error_response(self, request, error):
        response = super().handle_error_response(request, error)
        return _with_issuer(response) if getattr(error, "redirect_uri", None) else response

    def create_token_response(self, request=None):
        response = super().create_token_response(request)
        if response.status_code >= 400:
            # Failed token requests go to the journal (never the secrets or codes sent).
            body = response.get_json(silent=True) or {}
            form = flask_request.form
            client_id = form.get("client_id") or (flask_request.authorization.username
                                                  if flask_request.authorization else None)
            audit_journal().record("oidc.token", "failure", origin=request_origin(), details={
                "error": body.get("error"), "grant_type": form.get("grant_type"),
                "client_id": client_id})
            db.session.commit()
        return response


def _with_issuer(response):
    if response.status_code == 302 and response.location:
        response.location = add_params_to_uri(response.location, {"iss": config("ISSUER")})
    return response


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
        return revocation_list().is_revoked(self.claims["jti"])


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

    def resolve_client_from_id_token_claims(self, id_token_claims):
        audience = id_token_claims.get("aud")
        if isinstance(audience, list) and len(audience) == 1:
            audience = audience[0]
        return self.server.query_client(audience) if isinstance(audience, str) else None

    def end_session(self, end_session_request):
        """Done by the view, which knows the browser session (see views.end_session)."""


# --- resource protection ----------------------------------------------------------------

class AccessTokenValidator(JWTBearerTokenValidator):
    """Our JWT access tokens: signature, ``typ``, issuer, audience, expiry, revocation."""

    def get_jwks(self):
        return keyring().public_key_set()

    def authenticate_token(self, token_string):
        claims = super().authenticate_token(token_string)
        if claims.header.get("typ") != "at+jwt":  # RFC 9068 §4: reject ID tokens and others
            raise InvalidTokenError(realm=self.realm)
        if revocation_list().is_revoked(claims.get("jti", "")):
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
