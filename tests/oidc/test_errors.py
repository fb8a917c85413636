"""Every bad input on the protocol endpoints gets the RFC's exact error, never a 500."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.oidc.conftest import REDIRECT_URI, Flow, query, register


def authorize_params(partner, **overrides):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": partner.client_id,
              "redirect_uri": REDIRECT_URI, "scope": "openid", "state": "s1", "nonce": "n1",
              "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


@pytest.fixture
def signed_in_browser(issuer, partner, browser):
    Flow(issuer, partner, browser).authorize()
    return browser


def redirect_error(browser, issuer, params):
    response = browser.get(f"{issuer}/oidc/authorize", params=params, allow_redirects=False)
    assert response.status_code == 302, response.text
    assert response.headers["Location"].startswith(REDIRECT_URI)
    return query(response.headers["Location"])


@pytest.mark.parametrize(("overrides", "error"), [
    ({"nonce": None}, "invalid_request"),                        # nonce is required
    ({"code_challenge_method": "plain"}, "invalid_request"),     # plain PKCE refused
    ({"code_challenge": "trop-court"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"max_age": "une heure"}, "invalid_request"),
])
def test_bad_authorization_requests_come_back_with_the_error(signed_in_browser, issuer,
                                                             partner, overrides, error):
    params = redirect_error(signed_in_browser, issuer, authorize_params(partner, **overrides))
    assert params["error"] == error
    assert params["state"] == "s1" and params["iss"] == issuer


def test_duplicated_parameter_is_refused(signed_in_browser, issuer, partner):
    params = list(authorize_params(partner).items()) + [("scope", "openid profile")]
    response = signed_in_browser.get(f"{issuer}/oidc/authorize", params=params,
                                     allow_redirects=False)
    # Checked before the redirect_uri can be trusted: shown on the IdP, never redirected.
    assert response.status_code == 400 and "Location" not in response.headers
    assert "invalid_request" in response.text


@pytest.mark.parametrize("overrides", [
    {"client_id": "inconnu"},
    {"client_id": None},
    {"redirect_uri": "https://partenaire.example/retour/autre"},
    {"redirect_uri": "https://evil.example/retour"},
])
def test_bad_client_or_redirect_uri_never_redirects(signed_in_browser, issuer, partner,
                                                    overrides):
    response = signed_in_browser.get(f"{issuer}/oidc/authorize",
                                     params=authorize_params(partner, **overrides),
                                     allow_redirects=False)
    assert response.status_code == 400
    assert "Location" not in response.headers
    text = html.unescape(response.text)
    assert "La demande de connexion du site partenaire n'est pas valide" in text


def token_request(issuer, data, auth=None):
    return requests.post(f"{issuer}/oidc/token", data=data, auth=auth)


def test_wrong_client_secret_is_invalid_client(issuer, partner, demo):
    response = token_request(issuer, {"grant_type": "client_credentials"},
                             auth=(partner.client_id, "mauvais"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    with demo.app_context():
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "oidc.token")).one()
        assert event.outcome == "failure"
        assert event.details == {"error": "invalid_client", "grant_type": "client_credentials",
                                 "client_id": partner.client_id}


def test_unknown_grant_type_and_missing_code(issuer, partner):
    auth = (partner.client_id, partner.client_secret)
    assert token_request(issuer, {"grant_type": "password"}, auth).json()["error"] == \
        "unsupported_grant_type"
    assert token_request(issuer, {"grant_type": "authorization_code"}, auth).json()["error"] \
        == "invalid_request"
    assert token_request(issuer, {"grant_type": "authorization_code", "code": "inventé",
                                  "redirect_uri": REDIRECT_URI}, auth).json()["error"] \
        == "invalid_grant"


def test_wrong_pkce_verifier_is_invalid_grant(flow):
    callback = flow.authorize()
    flow.verifier = secrets.token_urlsafe(48)
    from authlib.integrations.base_client.errors import OAuthError

    with pytest.raises(OAuthError) as error:
        flow.redeem(callback)
    assert error.value.error == "invalid_grant"


def test_redirect_uri_must_match_the_authorization_request(flow, issuer, partner):
    code = query(flow.authorize())["code"]
    response = token_request(issuer, {"grant_type": "authorization_code", "code": code,
                                      "redirect_uri": REDIRECT_URI + "/x",
                                      "code_verifier": flow.verifier},
                             (partner.client_id, partner.client_secret))
    assert response.json()["error"] == "invalid_grant"


@pytest.fixture
def public_partner(demo):
    return register(demo, "--name", "Application mobile", "--redirect-uri", REDIRECT_URI,
                    "--public", "--service", "DSN")


def test_public_client_gets_tokens_with_pkce(issuer, public_partner, browser):
    flow = Flow(issuer, public_partner, browser)
    token = flow.redeem(flow.authorize())
    assert token["id_token"] and token["refresh_token"]


def test_public_client_without_pkce_is_refused(issuer, public_partner, signed_in_browser):
    params = authorize_params(public_partner, code_challenge=None, code_challenge_method=None)
    response = signed_in_browser.get(f"{issuer}/oidc/authorize", params=params,
                                     allow_redirects=False)
    code = query(response.headers["Location"]).get("code")
    assert code  # the code is issued, but without a challenge it cannot be redeemed:
    refused = token_request(issuer, {"grant_type": "authorization_code", "code": code,
                                     "redirect_uri": REDIRECT_URI,
                                     "client_id": public_partner.client_id})
    assert refused.json()["error"] == "invalid_request"


def test_public_client_cannot_use_client_credentials(issuer, public_partner):
    response = token_request(issuer, {"grant_type": "client_credentials",
                                      "client_id": public_partner.client_id})
    assert response.json()["error"] in ("invalid_client", "unauthorized_client")


@pytest.fixture
def jwt_partner(demo, tmp_path):
    key = ECKey.generate_key("P-256", parameters={"alg": "ES256"}, auto_kid=True)
    jwks = tmp_path / "jwks.json"
    import json

    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    partner = register(demo, "--name", "Éditeur de paie", "--redirect-uri", REDIRECT_URI,
                       "--auth-method", "private_key_jwt", "--jwks-file", str(jwks))
    return partner, key


def assertion(key, client_id, audience, **changes):
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now,
              "exp": now + 60, "jti": secrets.token_urlsafe(8), **changes}
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)


ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def test_private_key_jwt_client_authentication(issuer, jwt_partner):
    partner, key = jwt_partner
    signed = assertion(key, partner.client_id, f"{issuer}/oidc/token")
    response = token_request(issuer, {"grant_type": "client_credentials",
                                      "client_assertion_type": ASSERTION_TYPE,
                                      "client_assertion": signed})
    assert response.status_code == 200, response.text
    # The same assertion twice is a replay.
    again = token_request(issuer, {"grant_type": "client_credentials",
                                   "client_assertion_type": ASSERTION_TYPE,
                                   "client_assertion": signed})
    assert again.json()["error"] == "invalid_client"


@pytest.mark.parametrize("bad", ["pas.un.jwt", "eyJhbGciOiJub25lIn0.e30.", "x"])
def test_malformed_jwt_assertion_is_invalid_client(issuer, jwt_partner, bad):
    response = token_request(issuer, {"grant_type": "client_credentials",
                                      "client_assertion_type": ASSERTION_TYPE,
                                      "client_assertion": bad})
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"


def test_assertion_for_another_audience_is_refused(issuer, jwt_partner):
    partner, key = jwt_partner
    signed = assertion(key, partner.client_id, "https://autre-serveur.example/token")
    response = token_request(issuer, {"grant_type": "client_credentials",
                                      "client_assertion_type": ASSERTION_TYPE,
                                      "client_assertion": signed})
    assert response.json()["error"] == "invalid_client"
