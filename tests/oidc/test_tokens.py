"""Refresh rotation and reuse detection, code reuse, client credentials, key rotation."""

from __future__ import annotations

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from tests.oidc.conftest import published_keys, verify


def userinfo_status(issuer, access_token):
    return requests.get(f"{issuer}/oidc/userinfo",
                        headers={"Authorization": f"Bearer {access_token}"}).status_code


def refresh(flow, refresh_token):
    return requests.post(f"{flow.issuer}/oidc/token",
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                         auth=(flow.partner.client_id, flow.partner.client_secret))


def test_refresh_token_rotates(flow, issuer):
    first = flow.redeem(flow.authorize())
    response = refresh(flow, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    _, old = verify(first["access_token"], issuer, typ="at+jwt")
    _, new = verify(second["access_token"], issuer, typ="at+jwt")
    assert new["sub"] == old["sub"] and new["jti"] != old["jti"]
    assert new["auth_time"] == old["auth_time"]  # still the time of the sign-in
    assert userinfo_status(issuer, second["access_token"]) == 200


def test_reused_refresh_token_revokes_the_whole_family(flow, issuer):
    first = flow.redeem(flow.authorize())
    second = refresh(flow, first["refresh_token"]).json()
    replay = refresh(flow, first["refresh_token"])  # the old one, stolen
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # The legitimate newer tokens die with it.
    assert refresh(flow, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo_status(issuer, second["access_token"]) == 401
    assert userinfo_status(issuer, first["access_token"]) == 401


def test_refresh_token_of_another_client_is_refused(flow, issuer, demo):
    from tests.oidc.conftest import register

    other = register(demo, "--name", "Autre", "--redirect-uri", "https://autre.example/cb")
    token = flow.redeem(flow.authorize())
    response = requests.post(f"{issuer}/oidc/token",
                             data={"grant_type": "refresh_token",
                                   "refresh_token": token["refresh_token"]},
                             auth=(other.client_id, other.client_secret))
    assert response.json()["error"] == "invalid_grant"
    assert refresh(flow, token["refresh_token"]).status_code == 200  # not used up by it


def test_code_works_once_and_its_reuse_revokes_what_it_gave(flow, issuer):
    callback = flow.authorize()
    token = flow.redeem(callback)
    with pytest.raises(OAuthError) as reuse:
        flow.redeem(callback)
    assert reuse.value.error == "invalid_grant"
    assert userinfo_status(issuer, token["access_token"]) == 401
    assert refresh(flow, token["refresh_token"]).json()["error"] == "invalid_grant"


def test_client_credentials_for_a_partner_back_end(issuer, partner):
    session = OAuth2Session(partner.client_id, partner.client_secret)
    token = session.fetch_token(f"{issuer}/oidc/token", grant_type="client_credentials")
    assert "refresh_token" not in token and "id_token" not in token
    header, claims = verify(token["access_token"], issuer, typ="at+jwt")
    assert claims["sub"] == partner.client_id == claims["client_id"]


def test_key_rotation_keeps_live_tokens_verifiable(flow, issuer, demo):
    before = flow.redeem(flow.authorize())
    old_kid = verify(before["id_token"], issuer)[0]["kid"]
    result = demo.test_cli_runner().invoke(args=["idp", "keys", "rotate",
                                                 "--publish-delay", "0"])
    assert result.exit_code == 0, result.output
    kids = {key.kid for key in published_keys(issuer).keys}
    assert old_kid in kids and len(kids) == 4  # old and new, RS256 and ES256
    verify(before["id_token"], issuer)  # the old key still verifies what it signed
    assert userinfo_status(issuer, before["access_token"]) == 200
    from tests.oidc.conftest import Flow

    after = Flow(issuer, flow.partner, flow.browser)
    token = after.redeem(after.authorize())
    assert verify(token["id_token"], issuer)[0]["kid"] != old_kid


def test_rotation_publishes_before_it_signs(flow, issuer, demo):
    kid_before = verify(flow.redeem(flow.authorize())["id_token"], issuer)[0]["kid"]
    result = demo.test_cli_runner().invoke(args=["idp", "keys", "rotate"])  # 1 h delay
    assert result.exit_code == 0
    assert len(published_keys(issuer).keys) == 4  # announced now…
    from tests.oidc.conftest import Flow

    again = Flow(issuer, flow.partner, flow.browser)
    token = again.redeem(again.authorize())
    assert verify(token["id_token"], issuer)[0]["kid"] == kid_before  # …used later
