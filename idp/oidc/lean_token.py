"""The two commonest token requests answered below Flask, for a partner authenticated by
``client_secret_basic``: its back end asking for its own access token (client credentials,
RFC 6749 §4.4) and the rotation of a person's refresh token (§6).

Partners make these before their API calls, so they are most of the token endpoint's
traffic, and Flask's and Authlib's request handling cost more than the work itself. This
WSGI layer answers only a request it has proved valid, through the same services (token
issuer, refresh-token families, account check) and with the same token and headers as the
full path in ``idp.oidc.server``; anything else — another grant or authentication method, a
narrowed scope, a failed check, an odd body — goes on to Flask untouched, so that errors and
their journal have one home. A refresh token is claimed here only when the rest is valid; a
failed claim leaves the full path to give the error (it finds the same state: a reuse was
already handled by the first claim).
"""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.datastructures import Headers

from idp.errors import UNAVAILABLE
from idp.extensions import db
from idp.oidc.clients import RegisteredClient
from idp.oidc.deps import client_registry, refresh_tokens
from idp.oidc.parameters import VSCHARS
from idp.oidc.server import AccessTokenGenerator, basic_credentials, refreshed_login
from idp.web import add_security_headers

TOKEN_PATH = "/oidc/token"
CLIENT_CREDENTIALS, REFRESH_TOKEN = "client_credentials", "refresh_token"
# What each grant may carry here; a refresh with ``scope`` (a narrowing) takes the full path.
PARAMETERS = {CLIENT_CREDENTIALS: {"grant_type", "scope"},
              REFRESH_TOKEN: {"grant_type", "refresh_token"}}
MAX_BODY = 2048  # these requests are a few hundred bytes
FORM = "application/x-www-form-urlencoded"


def _token_headers() -> list[tuple[str, str]]:
    # RFC 6749 §5.1: no-store and no-cache, as Authlib sends them, with the site's headers.
    headers = Headers([("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                       ("Pragma", "no-cache")])
    add_security_headers(headers, TOKEN_PATH)
    return list(headers.items())


class TokenShortcut:
    """WSGI middleware in front of ``next_app`` (the Flask app's own WSGI callable)."""

    def __init__(self, app: Flask, next_app):
        self.app = app
        self.next_app = next_app
        self._headers = _token_headers()

    def __call__(self, environ, start_response):
        body = self._small_form_body(environ)
        if body is not None:
            token = self._token_for(body, environ.get("HTTP_AUTHORIZATION", ""))
            if token is not None:
                payload = json.dumps(token).encode()
                start_response("200 OK", [*self._headers,
                                          ("Content-Length", str(len(payload)))])
                return [payload]
            environ["wsgi.input"] = io.BytesIO(body)  # read once: Flask reads it again
        return self.next_app(environ, start_response)

    @staticmethod
    def _small_form_body(environ) -> bytes | None:
        """The body of a POST form to the token endpoint without a query, or None."""
        if (environ.get("PATH_INFO") != TOKEN_PATH or environ.get("REQUEST_METHOD") != "POST"
                or environ.get("QUERY_STRING")
                or environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != FORM):
            return None
        length = environ.get("CONTENT_LENGTH", "")
        if not length.isascii() or not length.isdigit() or int(length) > MAX_BODY:
            return None
        body = environ["wsgi.input"].read(int(length))
        if len(body) != int(length):
            environ["wsgi.input"] = io.BytesIO(body)
            return None
        return body

    def _token_for(self, body: bytes, authorization: str) -> dict | None:
        """The token response for a request proved valid, else None."""
        params = _grant_parameters(body)
        credentials = basic_credentials({"Authorization": authorization})
        if params is None or credentials is None:
            return None
        grant_type = params["grant_type"]
        with self.app.app_context():
            try:
                client = client_registry().find(credentials[0])
                if not _authenticated(client, credentials[1], grant_type):
                    return None
                if grant_type == CLIENT_CREDENTIALS:
                    return _client_credentials(client, params.get("scope", ""))
                return _rotation(client, params["refresh_token"])
            except UNAVAILABLE:
                # Storage out of reach: nothing was committed (the app context's end rolls
                # back); the full path meets it too and answers 503 with Retry-After.
                return None


def _grant_parameters(body: bytes) -> dict | None:
    """The parameters of a grant this layer answers, each once (RFC 6749 §3.2) and in
    printable ASCII (Appendix A); else None."""
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    params = dict(pairs)
    allowed = PARAMETERS.get(params.get("grant_type", ""))
    if (allowed is None or len(params) != len(pairs) or not params.keys() <= allowed
            or not all(VSCHARS.fullmatch(value) for value in params.values())):
        return None
    if params["grant_type"] == REFRESH_TOKEN and not params.get("refresh_token"):
        return None
    return params


def _authenticated(client: RegisteredClient | None, secret: str, grant_type: str) -> bool:
    """The full path's client authentication and grant check (``server``)."""
    return (client is not None and client.token_endpoint_auth_method == "client_secret_basic"
            and client.check_client_secret(secret) and client.check_grant_type(grant_type))


def _client_credentials(client: RegisteredClient, scope: str) -> dict | None:
    """A partner's own token, for a scope it registered (``server.PartnerScopes``)."""
    if scope and not client.allows_scope(scope):
        return None
    return AccessTokenGenerator()(CLIENT_CREDENTIALS, client, None, scope,
                                  include_refresh_token=False)


def _rotation(client: RegisteredClient, presented: str) -> dict | None:
    """A new access and refresh token for ``presented``, claimed and replaced in one
    transaction (``server.RefreshTokenGrant`` does the same through Authlib)."""
    families = refresh_tokens()
    row = families.claim(presented, client.client_id)
    if row is None:
        return None
    login = refreshed_login(row, client)
    if login is None:
        db.session.rollback()  # unclaimed: the full path refuses it and journals why
        return None
    token = AccessTokenGenerator()(REFRESH_TOKEN, client, login, row.scope)
    families.store(token["refresh_token"], client.client_id, row.scope, login)
    return token


def init_app(app: Flask) -> None:
    """Put the shortcut in front of ``app``'s WSGI callable."""
    app.wsgi_app = TokenShortcut(app, app.wsgi_app)
