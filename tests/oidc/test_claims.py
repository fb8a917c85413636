"""Habilitation claims: only the partner's services, only effective ones, distributed when big."""

from __future__ import annotations

import pytest

from tests.oidc.conftest import JULIE, REDIRECT_URI, Flow, register, verify

CLIENTS = ["44231785500017", "81234567600017", "82455210300015", "83016547800017"]


@pytest.fixture
def atmp_partner(demo):
    return register(demo, "--name", "Compte AT/MP", "--redirect-uri", REDIRECT_URI,
                    "--service", "ATMP", "--id-token-alg", "ES256")


def test_each_partner_sees_only_the_services_it_hosts(issuer, partner, atmp_partner,
                                                      browser):
    dsn = Flow(issuer, partner, browser)
    claims = verify(dsn.redeem(dsn.authorize())["id_token"], issuer)[1]
    assert claims["habilitations"] == [
        {"service": "DSN", "siren": "528144322", "rights": ["declarer", "payer"]}]

    atmp = Flow(issuer, atmp_partner, browser)
    header, claims = verify(atmp.redeem(atmp.authorize())["id_token"], issuer)
    assert header["alg"] == "ES256"  # the partner's choice of algorithm
    assert claims["habilitations"] == [
        {"service": "ATMP", "siren": "528144322", "rights": ["consulter"]}]


def test_portfolio_habilitations_list_each_client(issuer, partner, browser):
    flow = Flow(issuer, partner, browser)
    claims = verify(flow.redeem(flow.authorize(JULIE))["id_token"], issuer)[1]
    assert claims["habilitations"] == [
        {"service": "DSN", "siret": siret, "rights": ["declarer"]} for siret in CLIENTS]
    assert claims["role"] == "declarant"


def test_scopes_select_the_claims(issuer, partner, browser):
    flow = Flow(issuer, partner, browser, scope="openid")
    claims = verify(flow.redeem(flow.authorize())["id_token"], issuer)[1]
    for name in ("given_name", "email", "siret", "role", "habilitations"):
        assert name not in claims


def test_habilitations_not_yet_effective_are_left_out(issuer, partner, browser, demo):
    from datetime import timedelta

    from sqlalchemy import update

    from idp.extensions import db
    from idp.habilitations.models import Habilitation
    from idp.models_common import utcnow

    with demo.app_context():
        db.session.execute(update(Habilitation).where(Habilitation.service_code == "DSN")
                           .values(effective_from=utcnow() + timedelta(hours=24)))
        db.session.commit()
    flow = Flow(issuer, partner, browser)
    claims = verify(flow.redeem(flow.authorize())["id_token"], issuer)[1]
    assert claims["habilitations"] == []
