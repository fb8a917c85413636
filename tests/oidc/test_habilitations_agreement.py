"""Tokens and ``/api/v1/habilitations`` carry exactly what the habilitation rules list.

Every demo person signs in at two partners (DSN + DUCS; ATMP + PPREV, where PPREV is implied
by ATMP and MCF); the ID token's claim, userinfo and the API all equal ``listing`` for the
partner's services, on the demo data and on the scenarios of
tests/habilitations/test_agreement.py (declarant link missing or too old, portfolio without
the service, habilitation not yet effective).
"""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from idp.accounts.models import Account
from idp.demo import PEOPLE
from idp.extensions import db
from idp.habilitations.deps import habilitation_service
from tests.habilitations.test_agreement import SCENARIOS
from tests.oidc.conftest import REDIRECT_URI, Flow, register, verify


@pytest.fixture
def partners(demo):
    return [register(demo, "--name", "Portail DSN", "--redirect-uri", REDIRECT_URI,
                     "--service", "DSN", "--service", "DUCS"),
            register(demo, "--name", "Compte AT/MP", "--redirect-uri", REDIRECT_URI,
                     "--service", "ATMP", "--service", "PPREV")]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_tokens_and_api_carry_the_listing(demo, issuer, partners, scenario):
    with demo.app_context():
        accounts = {a.first_name: a.id for a in db.session.scalars(select(Account))}
        SCENARIOS[scenario][0](accounts)
    seen_implied = False
    for person in PEOPLE:
        credentials = {"siret": person.siret, "last_name": person.last_name,
                       "first_name": person.first_name, "password": person.password}
        for partner in partners:
            with demo.app_context():
                expected = habilitation_service().listing(accounts[person.first_name],
                                                          partner.services)
            flow = Flow(issuer, partner, requests.Session())
            token = flow.redeem(flow.authorize(credentials))
            claims = verify(token["id_token"], issuer)[1]
            if "habilitations" in claims:  # else distributed: the API below serves them
                assert claims["habilitations"] == expected, (person.first_name, partner)
            bearer = {"Authorization": f"Bearer {token['access_token']}"}
            api = requests.get(f"{issuer}/api/v1/habilitations", params={"per_page": 1000},
                               headers=bearer).json()
            assert api["habilitations"] == expected, (person.first_name, partner.services)
            assert "next" not in api
            userinfo = requests.get(f"{issuer}/oidc/userinfo", headers=bearer).json()
            assert userinfo.get("habilitations", expected) == expected
            seen_implied |= any("implied_by" in entry for entry in expected)
    assert seen_implied  # PPREV entries, implied by ATMP or MCF, reached the partner
