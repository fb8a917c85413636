"""Past the size threshold, habilitations become OIDC distributed claims (Core §5.6.2)."""

from __future__ import annotations

import pytest
import requests

from tests.oidc.conftest import JULIE, Flow, verify
from tests.oidc.test_claims import CLIENTS


@pytest.fixture
def settings(settings):
    settings["OIDC_INLINE_HABILITATIONS_MAX_BYTES"] = 200
    return settings


def test_big_lists_become_distributed_claims_served_page_by_page(issuer, partner, browser):
    flow = Flow(issuer, partner, browser)
    token = flow.redeem(flow.authorize(JULIE))
    claims = verify(token["id_token"], issuer)[1]
    assert "habilitations" not in claims
    assert claims["_claim_names"] == {"habilitations": "habilitations"}
    endpoint = claims["_claim_sources"]["habilitations"]["endpoint"]
    assert endpoint == f"{issuer}/api/v1/habilitations"

    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    userinfo = requests.get(f"{issuer}/oidc/userinfo", headers=bearer).json()
    assert userinfo["_claim_sources"] == claims["_claim_sources"]

    first = requests.get(endpoint, params={"per_page": 3}, headers=bearer).json()
    assert len(first["habilitations"]) == 3 and first["next_cursor"]
    second = requests.get(issuer + first["next"], headers=bearer).json()
    assert "next" not in second and "next_cursor" not in second
    sirets = [h["siret"] for h in first["habilitations"] + second["habilitations"]]
    assert sirets == CLIENTS

    assert requests.get(endpoint).status_code == 401
    bad = requests.get(endpoint, params={"cursor": "zéro"}, headers=bearer)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
