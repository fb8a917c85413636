"""Token exchange (RFC 8693) at the token endpoint: a partner's back end trades a person's
access token issued to it for one addressed to a partner it may call."""

from __future__ import annotations

import uuid

import pytest
import requests
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.oidc.conftest import Flow, register, verify

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
EVERYTHING = "openid profile email phone siret habilitations"


@pytest.fixture
def portail(demo):
    """The target: hosts DSN and DUCS, accepts only openid, siret and habilitations."""
    return register(demo, "--name", "Portail DSN", "--redirect-uri",
                    "https://portail.example/retour", "--service", "DSN", "--service", "DUCS",
                    "--scope", "openid", "--scope", "siret", "--scope", "habilitations")


@pytest.fixture
def atmp(demo, portail):
    """The requester: hosts ATMP, may exchange for the Portail DSN."""
    return register(demo, "--name", "Compte AT/MP", "--redirect-uri",
                    "https://partenaire.example/retour", "--service", "ATMP",
                    "--may-exchange-for", portail.client_id)


def user_token(issuer, partner, browser, scope=EVERYTHING) -> dict:
    """A person's tokens, from a code flow of ``partner``."""
    flow = Flow(issuer, partner, browser, scope=scope)
    return flow.redeem(flow.authorize())


def exchange(issuer, requester, subject_token, auth=None, **params):
    data = {"grant_type": GRANT, "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN, **params}
    return requests.post(f"{issuer}/oidc/token", data={k: v for k, v in data.items()
                                                       if v is not None},
                         auth=auth or (requester.client_id, requester.client_secret))


def test_discovery_announces_the_grant(issuer):
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration").json()
    assert GRANT in metadata["grant_types_supported"]


def test_exchange_keeps_the_subject_narrows_the_scope_and_names_the_actor(
        issuer, atmp, portail, browser, demo):
    tokens = user_token(issuer, atmp, browser)
    subject = verify(tokens["access_token"], issuer)[1]
    response = exchange(issuer, atmp, tokens["access_token"], audience=portail.client_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN
    assert body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    # By default: the subject token's scopes the Portail accepts.
    assert body["scope"] == "openid siret habilitations"
    assert response.headers["Cache-Control"] == "no-store"

    header, claims = verify(body["access_token"], issuer, typ="at+jwt")
    assert claims["sub"] == subject["sub"]
    assert claims["aud"] == portail.client_id
    assert claims["client_id"] == atmp.client_id
    assert claims["act"] == {"sub": atmp.client_id}
    assert claims["scope"] == "openid siret habilitations"
    assert claims["exp"] <= subject["exp"]
    assert claims["token_family"] == subject["token_family"]
    assert body["expires_in"] == claims["exp"] - claims["iat"]
    # Only the services the Portail hosts: Sophie's DSN (by SIREN), never her ATMP.
    assert claims["habilitations"] == [
        {"service": "DSN", "siren": "528144322", "rights": ["declarer", "payer"]}]

    with demo.app_context():
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "oidc.token_exchange")).one()
        assert event.outcome == "success"
        assert str(event.account_id) == subject["sub"]
        assert event.details["client_id"] == atmp.client_id
        assert event.details["audience"] == portail.client_id
        assert event.details["jti"] == claims["jti"]


def test_a_narrower_scope_can_be_asked(issuer, atmp, portail, browser):
    tokens = user_token(issuer, atmp, browser)
    response = exchange(issuer, atmp, tokens["access_token"], audience=portail.client_id,
                        scope="openid")
    assert response.json()["scope"] == "openid"
    claims = verify(response.json()["access_token"], issuer)[1]
    assert claims["scope"] == "openid"
    assert "habilitations" not in claims


def test_a_resource_owned_by_the_audience_names_it(issuer, atmp, portail, browser):
    tokens = user_token(issuer, atmp, browser)
    response = exchange(issuer, atmp, tokens["access_token"],
                        resource="https://portail.example/api/declarations")
    assert response.status_code == 200, response.text
    assert verify(response.json()["access_token"], issuer)[1]["aud"] == portail.client_id


def test_the_exchanged_token_does_not_open_the_idp_s_apis(issuer, atmp, portail, browser):
    tokens = user_token(issuer, atmp, browser)
    exchanged = exchange(issuer, atmp, tokens["access_token"],
                         audience=portail.client_id).json()["access_token"]
    for path in ("/oidc/userinfo", "/api/v1/habilitations"):
        response = requests.get(f"{issuer}{path}",
                                headers={"Authorization": f"Bearer {exchanged}"})
        assert response.status_code == 401


def test_revoking_the_person_s_grant_reaches_the_exchanged_token(issuer, atmp, portail,
                                                                 browser):
    tokens = user_token(issuer, atmp, browser)
    exchanged = exchange(issuer, atmp, tokens["access_token"],
                         audience=portail.client_id).json()["access_token"]
    introspect = {"token": exchanged}
    credentials = (atmp.client_id, atmp.client_secret)
    assert requests.post(f"{issuer}/oidc/introspect", data=introspect,
                         auth=credentials).json()["active"] is True
    requests.post(f"{issuer}/oidc/revoke", data={"token": tokens["refresh_token"]},
                  auth=credentials).raise_for_status()
    assert requests.post(f"{issuer}/oidc/introspect", data=introspect,
                         auth=credentials).json()["active"] is False


def test_a_chain_of_exchanges_nests_the_actors(issuer, demo, browser):
    third = register(demo, "--name", "Tiers", "--redirect-uri", "https://tiers.example/retour",
                     "--service", "DUCS")
    middle = register(demo, "--name", "Milieu", "--redirect-uri",
                      "https://milieu.example/retour", "--service", "DSN",
                      "--may-exchange-for", third.client_id)
    first = register(demo, "--name", "Premier", "--redirect-uri",
                     "https://partenaire.example/retour", "--may-exchange-for", middle.client_id)
    tokens = user_token(issuer, first, browser)
    to_middle = exchange(issuer, first, tokens["access_token"], audience=middle.client_id)
    to_third = exchange(issuer, middle, to_middle.json()["access_token"],
                        audience=third.client_id)
    assert to_third.status_code == 200, to_third.text
    claims = verify(to_third.json()["access_token"], issuer)[1]
    assert claims["act"] == {"sub": middle.client_id, "act": {"sub": first.client_id}}
    assert claims["aud"] == third.client_id
    # The first partner cannot exchange again the token it obtained for the middle one.
    again = exchange(issuer, first, to_middle.json()["access_token"],
                     audience=middle.client_id)
    assert again.json()["error"] == "invalid_request"


# --- refusals -------------------------------------------------------------------------------

def error_of(response, status=400) -> str:
    assert response.status_code == status, response.text
    assert "access_token" not in response.json()
    return response.json()["error"]


def test_a_token_not_issued_for_the_requester_is_refused(issuer, atmp, portail, partner,
                                                         browser):
    other = user_token(issuer, partner, browser)  # the person's token for another partner
    response = exchange(issuer, atmp, other["access_token"], audience=portail.client_id)
    assert error_of(response) == "invalid_request"


def test_a_wider_scope_is_refused(issuer, atmp, portail, browser):
    tokens = user_token(issuer, atmp, browser, scope="openid siret")
    response = exchange(issuer, atmp, tokens["access_token"], audience=portail.client_id,
                        scope="openid siret habilitations")
    assert error_of(response) == "invalid_scope"


def test_a_scope_the_audience_does_not_accept_is_refused(issuer, atmp, portail, browser):
    tokens = user_token(issuer, atmp, browser)
    response = exchange(issuer, atmp, tokens["access_token"], audience=portail.client_id,
                        scope="openid email")
    assert error_of(response) == "invalid_scope"


def test_nothing_in_common_with_the_audience_is_refused(issuer, atmp, portail, browser):
    tokens = user_token(issuer, atmp, browser, scope="openid profile")
    # The Portail accepts openid: the default is « openid ». Without it, nothing is left.
    assert exchange(issuer, atmp, tokens["access_token"],
                    audience=portail.client_id).json()["scope"] == "openid"
    response = exchange(issuer, atmp, tokens["access_token"], audience=portail.client_id,
                        scope="profile")
    assert error_of(response) == "invalid_scope"


@pytest.mark.parametrize("target", [
    {"audience": "@partner"},          # a real partner, not in the requester's list
    {"audience": "inconnu"},
    {"audience": ["@portail", "@partner"]},
    {"resource": "https://evil.example/api"},
    {"resource": "javascript:alert(1)"},
    {"audience": "@portail", "resource": "https://partenaire.example/x"},
])
def test_an_audience_not_allowed_is_refused(issuer, atmp, portail, partner, browser, target):
    names = {"@partner": partner.client_id, "@portail": portail.client_id}
    target = {key: [names.get(v, v) for v in value] if isinstance(value, list)
              else names.get(value, value) for key, value in target.items()}
    tokens = user_token(issuer, atmp, browser)
    response = exchange(issuer, atmp, tokens["access_token"], **target)
    assert error_of(response) == "invalid_target"


def test_a_missing_audience_is_an_invalid_request(issuer, atmp, browser):
    tokens = user_token(issuer, atmp, browser)
    assert error_of(exchange(issuer, atmp, tokens["access_token"])) == "invalid_request"


def test_a_public_client_is_refused(issuer, demo, portail, browser):
    public = register(demo, "--name", "Appli mobile", "--redirect-uri",
                      "https://partenaire.example/retour", "--public",
                      "--may-exchange-for", portail.client_id)
    tokens = user_token(issuer, public, browser)
    response = requests.post(f"{issuer}/oidc/token", data={
        "grant_type": GRANT, "client_id": public.client_id,
        "subject_token": tokens["access_token"], "subject_token_type": ACCESS_TOKEN,
        "audience": portail.client_id})
    assert error_of(response) == "unauthorized_client"


def test_a_partner_not_allowed_to_exchange_is_refused(issuer, partner, portail, browser):
    tokens = user_token(issuer, partner, browser)
    response = exchange(issuer, partner, tokens["access_token"], audience=portail.client_id)
    assert error_of(response) == "unauthorized_client"


def test_a_wrong_secret_is_invalid_client(issuer, atmp, portail, browser):
    tokens = user_token(issuer, atmp, browser)
    response = exchange(issuer, atmp, tokens["access_token"], audience=portail.client_id,
                        auth=(atmp.client_id, "faux"))
    assert error_of(response, 401) == "invalid_client"


def test_an_expired_subject_token_is_refused(issuer, atmp, portail, browser, clock):
    tokens = user_token(issuer, atmp, browser)
    clock.advance(tokens["expires_in"] + 1)
    response = exchange(issuer, atmp, tokens["access_token"], audience=portail.client_id)
    assert error_of(response) == "invalid_request"


def test_a_revoked_subject_token_is_refused(issuer, atmp, portail, browser):
    tokens = user_token(issuer, atmp, browser)
    requests.post(f"{issuer}/oidc/revoke", data={"token": tokens["access_token"]},
                  auth=(atmp.client_id, atmp.client_secret)).raise_for_status()
    response = exchange(issuer, atmp, tokens["access_token"], audience=portail.client_id)
    assert error_of(response) == "invalid_request"


@pytest.mark.parametrize("which, token_type", [
    ("id_token", ACCESS_TOKEN),                       # an ID token presented as access token
    ("refresh_token", ACCESS_TOKEN),
    ("access_token", "urn:ietf:params:oauth:token-type:id_token"),
    ("access_token", "urn:ietf:params:oauth:token-type:refresh_token"),
    ("access_token", None),
    ("forged", ACCESS_TOKEN),
    ("garbage", ACCESS_TOKEN),
])
def test_a_wrong_token_or_token_type_is_refused(issuer, atmp, portail, browser, which,
                                                token_type):
    tokens = user_token(issuer, atmp, browser)
    head, payload, _ = tokens["access_token"].split(".")
    tokens["forged"] = f"{head}.{payload}.{'A' * 86}"
    tokens["garbage"] = "a.b.c"
    response = requests.post(f"{issuer}/oidc/token", auth=(atmp.client_id, atmp.client_secret),
                             data={k: v for k, v in {
                                 "grant_type": GRANT, "subject_token": tokens[which],
                                 "subject_token_type": token_type,
                                 "audience": portail.client_id}.items() if v is not None})
    assert error_of(response) == "invalid_request"


def test_a_partner_s_own_token_speaks_for_nobody(issuer, atmp, portail):
    own = requests.post(f"{issuer}/oidc/token", data={"grant_type": "client_credentials"},
                        auth=(atmp.client_id, atmp.client_secret)).json()["access_token"]
    response = exchange(issuer, atmp, own, audience=portail.client_id)
    assert error_of(response) == "invalid_request"


@pytest.mark.parametrize("extra", [
    {"actor_token": "x", "actor_token_type": ACCESS_TOKEN},
    {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
    {"subject_token_type": [ACCESS_TOKEN, ACCESS_TOKEN]},
])
def test_unsupported_parameters_are_invalid_requests(issuer, atmp, portail, browser, extra):
    tokens = user_token(issuer, atmp, browser)
    response = exchange(issuer, atmp, tokens["access_token"], audience=portail.client_id,
                        **extra)
    assert error_of(response) == "invalid_request"


def test_a_removed_account_s_token_is_refused(issuer, atmp, portail, browser, demo):
    from idp.accounts.models import Account, Status

    tokens = user_token(issuer, atmp, browser)
    subject = verify(tokens["access_token"], issuer)[1]
    with demo.app_context():
        db.session.get(Account, uuid.UUID(subject["sub"])).status = Status.REMOVED
        db.session.commit()
    response = exchange(issuer, atmp, tokens["access_token"], audience=portail.client_id)
    assert error_of(response) == "invalid_request"


def test_failed_exchanges_are_journaled(issuer, atmp, portail, browser, demo):
    tokens = user_token(issuer, atmp, browser)
    exchange(issuer, atmp, tokens["access_token"], audience="inconnu")
    with demo.app_context():
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "oidc.token", AuditEvent.outcome == "failure")).one()
        assert event.details == {"error": "invalid_target", "grant_type": GRANT,
                                 "client_id": atmp.client_id}


def test_a_confidential_client_without_its_secret_is_invalid_client(issuer, atmp, portail,
                                                                    browser):
    tokens = user_token(issuer, atmp, browser)
    response = requests.post(f"{issuer}/oidc/token", data={
        "grant_type": GRANT, "client_id": atmp.client_id,
        "subject_token": tokens["access_token"], "subject_token_type": ACCESS_TOKEN,
        "audience": portail.client_id})
    assert error_of(response, 401) == "invalid_client"


class TestManyHabilitations:
    """Past the inline size, the habilitations become a distributed claim, as in ID tokens."""

    @pytest.fixture
    def settings(self, settings):
        settings["OIDC_INLINE_HABILITATIONS_MAX_BYTES"] = 10
        return settings

    def test_they_are_named_not_carried(self, issuer, atmp, portail, browser):
        tokens = user_token(issuer, atmp, browser)
        body = exchange(issuer, atmp, tokens["access_token"],
                        audience=portail.client_id).json()
        claims = verify(body["access_token"], issuer)[1]
        assert "habilitations" not in claims
        assert claims["_claim_names"] == {"habilitations": "habilitations"}
        assert claims["_claim_sources"] == {
            "habilitations": {"endpoint": f"{issuer}/api/v1/habilitations"}}
