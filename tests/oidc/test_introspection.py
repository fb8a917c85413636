"""Introspection (RFC 7662) of live, expired and revoked tokens; revocation (RFC 7009)."""

from __future__ import annotations

import pytest
import requests

from tests.oidc.conftest import register


@pytest.fixture
def tokens(flow):
    return flow.redeem(flow.authorize())


def introspect(issuer, partner, token, **extra):
    return requests.post(f"{issuer}/oidc/introspect", data={"token": token, **extra},
                         auth=(partner.client_id, partner.client_secret))


def revoke(issuer, partner, token, **extra):
    return requests.post(f"{issuer}/oidc/revoke", data={"token": token, **extra},
                         auth=(partner.client_id, partner.client_secret))


def test_live_access_and_refresh_tokens_are_active(issuer, partner, tokens):
    access = introspect(issuer, partner, tokens["access_token"]).json()
    assert access["active"] is True
    assert access["client_id"] == partner.client_id and access["token_type"] == "Bearer"
    assert "openid" in access["scope"].split()
    refresh = introspect(issuer, partner, tokens["refresh_token"],
                         token_type_hint="refresh_token").json()
    assert refresh["active"] is True and refresh["sub"] == access["sub"]


def test_revoked_access_token_becomes_inactive(issuer, partner, tokens):
    assert revoke(issuer, partner, tokens["access_token"]).status_code == 200
    assert introspect(issuer, partner, tokens["access_token"]).json() == {"active": False}
    assert requests.get(f"{issuer}/oidc/userinfo", headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401


def test_revoking_a_refresh_token_revokes_its_access_tokens(issuer, partner, tokens):
    assert revoke(issuer, partner, tokens["refresh_token"]).status_code == 200
    assert introspect(issuer, partner, tokens["refresh_token"]).json() == {"active": False}
    assert introspect(issuer, partner, tokens["access_token"]).json() == {"active": False}


def test_unknown_or_garbage_tokens_are_inactive(issuer, partner):
    assert introspect(issuer, partner, "pas-un-jeton").json() == {"active": False}
    assert introspect(issuer, partner, "a.b.c").json() == {"active": False}


def test_another_partner_learns_nothing_and_cannot_revoke(issuer, partner, tokens, demo):
    other = register(demo, "--name", "Autre", "--redirect-uri", "https://autre.example/cb")
    assert introspect(issuer, other, tokens["access_token"]).json() == {"active": False}
    refused = revoke(issuer, other, tokens["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert introspect(issuer, partner, tokens["refresh_token"]).json()["active"] is True


def test_introspection_needs_client_authentication(issuer, tokens, partner):
    anonymous = requests.post(f"{issuer}/oidc/introspect",
                              data={"token": tokens["access_token"]})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "invalid_client"
    wrong = requests.post(f"{issuer}/oidc/introspect", data={"token": tokens["access_token"]},
                          auth=(partner.client_id, "mauvais-secret"))
    assert wrong.json()["error"] == "invalid_client"
    missing = requests.post(f"{issuer}/oidc/introspect", data={},
                            auth=(partner.client_id, partner.client_secret))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    hint = introspect(issuer, partner, tokens["access_token"], token_type_hint="id_token")
    assert hint.json()["error"] == "unsupported_token_type"
