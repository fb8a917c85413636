"""The authorization code flow with PKCE, end to end over HTTP."""

from __future__ import annotations

import base64
import hashlib
import time

import requests

from tests.oidc.conftest import REDIRECT_URI, SOPHIE, query, verify


def half_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_code_flow_with_pkce_gives_verified_tokens(flow, issuer, partner):
    before = int(time.time())
    callback = flow.authorize()
    params = query(callback)
    assert callback.startswith(REDIRECT_URI)
    assert params["state"] == flow.state
    assert params["iss"] == issuer  # RFC 9207
    token = flow.redeem(callback)
    assert token["token_type"].lower() == "bearer"
    assert token["refresh_token"]

    header, id_token = verify(token["id_token"], issuer)
    assert header["alg"] == "RS256" and header["kid"]
    assert id_token["iss"] == issuer
    assert id_token["aud"] == [partner.client_id]
    assert id_token["nonce"] == flow.nonce
    assert id_token["at_hash"] == half_hash(token["access_token"])
    assert before - 1 <= id_token["auth_time"] <= int(time.time())
    assert id_token["amr"] == ["pwd"]
    assert id_token["acr"] == "urn:netentreprises:acr:pwd"
    assert id_token["sid"]
    assert id_token["given_name"] == "Sophie" and id_token["family_name"] == "Lefèvre"
    assert id_token["siret"] == SOPHIE["siret"] and id_token["siren"] == "528144322"
    assert id_token["organization_name"] == "TRANSPORTS LEFEVRE"
    assert id_token["role"] == "administrateur"
    assert id_token["email"] == "sophie.lefevre@transports-lefevre.example"
    assert id_token["email_verified"] is True

    header, access = verify(token["access_token"], issuer, typ="at+jwt")
    assert header["alg"] == "ES256"
    assert access["sub"] == id_token["sub"]
    assert access["client_id"] == partner.client_id
    assert access["aud"] == issuer
    assert access["exp"] - access["iat"] == 600
    assert "habilitations" not in access  # access tokens stay small


def test_the_grant_is_recorded_without_a_consent_screen(flow, demo, partner):
    flow.redeem(flow.authorize())
    from sqlalchemy import select

    from idp.audit.models import AuditEvent
    from idp.extensions import db
    from idp.oidc.models import AuthorizationGrant

    with demo.app_context():
        grant = db.session.scalars(select(AuthorizationGrant)).one()
        assert grant.client_id == partner.client_id
        assert "habilitations" in grant.scope.split()
        journal = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "oidc.authorize")).one()
        assert journal.account_id == grant.account_id
        assert journal.details["client_id"] == partner.client_id


def test_userinfo_answers_get_and_post(flow, issuer):
    token = flow.redeem(flow.authorize())
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    by_get = requests.get(f"{issuer}/oidc/userinfo", headers=bearer)
    by_post = requests.post(f"{issuer}/oidc/userinfo", headers=bearer)
    assert by_get.status_code == by_post.status_code == 200
    assert by_get.json() == by_post.json()
    assert by_get.json()["family_name"] == "Lefèvre"
    _, id_token = verify(token["id_token"], issuer)
    assert by_get.json()["sub"] == id_token["sub"]


def test_userinfo_refuses_missing_or_forged_tokens(issuer, flow):
    assert requests.get(f"{issuer}/oidc/userinfo").status_code == 401
    token = flow.redeem(flow.authorize())
    forged = token["access_token"][:-4] + "AAAA"
    response = requests.get(f"{issuer}/oidc/userinfo",
                            headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    # An ID token is not an access token (typ check, RFC 9068 §4).
    response = requests.get(f"{issuer}/oidc/userinfo",
                            headers={"Authorization": f"Bearer {token['id_token']}"})
    assert response.status_code == 401


def test_discovery_is_complete_and_truthful(issuer):
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration").json()
    assert metadata["issuer"] == issuer
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert metadata[name].startswith(issuer)
        # Every advertised endpoint exists (405 or 400/401 means it is there).
        assert requests.get(metadata[name]).status_code != 404
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert set(metadata["id_token_signing_alg_values_supported"]) == {"RS256", "ES256"}
    # Keys exist from the first start: one per algorithm.
    keys = requests.get(metadata["jwks_uri"]).json()["keys"]
    assert sorted(k["alg"] for k in keys) == ["ES256", "RS256"]
    assert all("d" not in k for k in keys)  # public halves only
