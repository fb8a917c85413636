"""Each partner may ask for its registered scopes only: anything else is ``invalid_scope``
(RFC 6749 §3.3), at the authorization endpoint and at the token endpoint; a refresh may only
narrow the scope (RFC 6749 §6)."""

from __future__ import annotations

import json

import pytest
import requests

from tests.oidc.conftest import Flow, register, verify
from tests.oidc.test_errors import authorize_params, redirect_error

REDIRECT_URI = "https://partenaire.example/retour"


@pytest.fixture
def narrow_partner(demo):
    """A partner registered for ``openid profile`` only."""
    return register(demo, "--name", "Portail étroit", "--redirect-uri", REDIRECT_URI,
                    "--scope", "openid", "--scope", "profile", "--service", "DSN")


def test_registration_lists_the_allowed_scopes(demo, partner, narrow_partner):
    listed = json.loads(demo.test_cli_runner().invoke(args=["idp", "client", "list"]).stdout)
    scopes = {client["client_id"]: client["scope"] for client in listed}
    assert scopes[partner.client_id] == "openid profile email phone siret habilitations"
    assert scopes[narrow_partner.client_id] == "openid profile"


def test_unknown_scope_cannot_be_registered(demo):
    result = demo.test_cli_runner().invoke(args=[
        "idp", "client", "create", "--name", "X", "--redirect-uri", REDIRECT_URI,
        "--scope", "openid", "--scope", "admin"])
    assert result.exit_code != 0 and "portée inconnue : admin" in result.output


@pytest.mark.parametrize("scope", ["openid admin write:everything", "openid profile admin",
                                   "openid email"])
def test_authorization_request_outside_the_allowed_scopes(issuer, narrow_partner, browser,
                                                          scope):
    Flow(issuer, narrow_partner, browser, scope="openid").authorize()  # signed in
    params = redirect_error(browser, issuer, authorize_params(narrow_partner, scope=scope))
    assert params["error"] == "invalid_scope"
    assert params["state"] == "s1" and params["iss"] == issuer


def test_allowed_scopes_come_back_in_the_tokens(issuer, narrow_partner, browser):
    flow = Flow(issuer, narrow_partner, browser, scope="openid profile")
    token = flow.redeem(flow.authorize())
    assert token["scope"] == "openid profile"
    assert verify(token["access_token"], issuer)[1]["scope"] == "openid profile"


def client_credentials(issuer, partner, scope):
    return requests.post(f"{issuer}/oidc/token",
                         data={"grant_type": "client_credentials", "scope": scope},
                         auth=(partner.client_id, partner.client_secret))


@pytest.mark.parametrize("scope", ["admin", "openid write:everything", "email"])
def test_client_credentials_outside_the_allowed_scopes(issuer, narrow_partner, scope):
    response = client_credentials(issuer, narrow_partner, scope)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_client_credentials_within_the_allowed_scopes(issuer, narrow_partner):
    response = client_credentials(issuer, narrow_partner, "profile")
    assert response.status_code == 200, response.text
    assert verify(response.json()["access_token"], issuer)[1]["scope"] == "profile"


def refresh(issuer, partner, refresh_token, scope=None):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if scope is not None:
        data["scope"] = scope
    return requests.post(f"{issuer}/oidc/token", data=data,
                         auth=(partner.client_id, partner.client_secret))


@pytest.mark.parametrize("scope", ["openid profile email", "openid admin", "write:everything"])
def test_refresh_cannot_widen_the_scope(issuer, partner, browser, scope):
    flow = Flow(issuer, partner, browser, scope="openid profile")
    token = flow.redeem(flow.authorize())
    response = refresh(issuer, partner, token["refresh_token"], scope)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_refresh_may_narrow_and_the_refresh_token_keeps_its_scope(issuer, partner, browser):
    flow = Flow(issuer, partner, browser, scope="openid profile email")
    token = flow.redeem(flow.authorize())
    narrowed = refresh(issuer, partner, token["refresh_token"], "openid").json()
    assert narrowed["scope"] == "openid"
    assert verify(narrowed["access_token"], issuer)[1]["scope"] == "openid"
    # RFC 6749 §6: the new refresh token has the scope of the one it replaced…
    introspected = requests.post(f"{issuer}/oidc/introspect",
                                 data={"token": narrowed["refresh_token"]},
                                 auth=(partner.client_id, partner.client_secret)).json()
    assert introspected["scope"] == "openid profile email"
    # …so the next refresh may ask for all of it again.
    again = refresh(issuer, partner, narrowed["refresh_token"]).json()
    assert again["scope"] == "openid profile email"

