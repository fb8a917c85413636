"""Expired access tokens and codes (short lifetimes set for this module)."""

from __future__ import annotations

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError

from tests.oidc.test_introspection import introspect


@pytest.fixture
def settings(settings):
    settings.update(OIDC_ACCESS_TOKEN_LIFETIME_SECONDS=1, OIDC_CODE_LIFETIME_SECONDS=1)
    return settings


def test_expired_access_token_is_inactive_and_refused(flow, issuer, partner, clock):
    callback = flow.authorize()
    clock.advance(-10)  # issued ten seconds ago: its one-second life is over
    tokens = flow.redeem(callback)
    assert introspect(issuer, partner, tokens["access_token"]).json() == {"active": False}
    response = requests.get(f"{issuer}/oidc/userinfo",
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 401
    # The refresh token outlives it and gives a fresh one.
    assert introspect(issuer, partner, tokens["refresh_token"]).json()["active"] is True


def test_expired_code_is_refused(flow, clock):
    callback = flow.authorize()
    clock.advance(1.5)
    with pytest.raises(OAuthError) as error:
        flow.redeem(callback)
    assert error.value.error == "invalid_grant"
