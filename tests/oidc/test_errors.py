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
    assert token_request(issuer, {"grant_type": "authorization_code", "code": "invente",
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


# --- hostile input: the RFC's error, never a 500 (issue 9) ---------------------------------

def test_max_age_in_ascii_digits_only(signed_in_browser, issuer, partner):
    # "²".isdigit() is True in Python, and int() of 5,000 digits raises: neither may crash.
    for hostile in ("²", "١٢٠", "１２０"):
        response = signed_in_browser.get(f"{issuer}/oidc/authorize", allow_redirects=False,
                                         params=authorize_params(partner, max_age=hostile))
        assert response.status_code == 400 and "invalid_request" in response.text
    params = redirect_error(signed_in_browser, issuer,
                            authorize_params(partner, max_age="9" * 5000))
    assert params["error"] == "invalid_request"


@pytest.mark.parametrize("redirect_uri", [REDIRECT_URI + "\t", REDIRECT_URI + "\x00",
                                          REDIRECT_URI.replace("/retour", "/re\ntour"),
                                          REDIRECT_URI + "é"])
def test_redirect_uri_with_control_characters_is_an_error_page(signed_in_browser, issuer,
                                                               partner, redirect_uri):
    response = signed_in_browser.get(f"{issuer}/oidc/authorize", allow_redirects=False,
                                     params=authorize_params(partner, redirect_uri=redirect_uri))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "invalid_request" in response.text


@pytest.mark.parametrize(("response_type", "error"), [
    ("code", "Missing 'redirect_uri'"), ("token", "unsupported_response_type")])
def test_redirect_uri_is_required_even_with_one_registered(signed_in_browser, issuer, partner,
                                                           response_type, error):
    # OIDC Core §3.1.2.1: required. The partner registered exactly one, which Authlib would
    # otherwise use, for the code and for an error alike.
    params = authorize_params(partner, redirect_uri=None, response_type=response_type)
    response = signed_in_browser.get(f"{issuer}/oidc/authorize", params=params,
                                     allow_redirects=False)
    assert response.status_code == 400 and "Location" not in response.headers
    assert error in html.unescape(response.text)


@pytest.mark.parametrize("endpoint", ["token", "introspect", "revoke"])
@pytest.mark.parametrize("header", [
    b"Basic " + base64.b64encode(b"\xff\xfe:\xff"),          # not UTF-8
    "Basic é:è".encode("latin-1"),                           # not base64, not ASCII
    b"Basic ###",                                            # not base64
    b"Basic " + base64.b64encode(b"sans-deux-points"),
    b"Basic " + base64.b64encode(b"demo\x00portail:secret"),  # a NUL in the client_id
    b"Basic " + base64.b64encode(b"x" * 5000 + b":secret"),
])
def test_malformed_basic_authorization_is_invalid_client(issuer, partner, endpoint, header):
    response = requests.post(f"{issuer}/oidc/{endpoint}", headers={"Authorization": header},
                             data={"grant_type": "client_credentials", "token": "x"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("endpoint", ["token", "introspect", "revoke"])
def test_nul_in_client_id_is_refused_on_every_database(issuer, partner, endpoint):
    response = requests.post(f"{issuer}/oidc/{endpoint}", data={
        "grant_type": "client_credentials", "client_id": "demo\x00portail",
        "client_secret": "secret", "token": "x"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


HOSTILE_VALUES = ["\x00", "a\x00b", "\t", "\r\n", "é", "\u202e", "%00", "'", '"\\', "x" * 5000]
PROTOCOL_PARAMETERS = [
    "client_id", "client_secret", "redirect_uri", "response_type", "response_mode", "scope",
    "state", "nonce", "prompt", "max_age", "acr_values", "login_hint", "code_challenge",
    "code_challenge_method", "grant_type", "code", "code_verifier", "refresh_token", "token",
    "token_type_hint", "client_assertion", "client_assertion_type", "id_token_hint",
    "post_logout_redirect_uri", "ui_locales", "cursor", "per_page"]


def test_hostile_values_in_every_parameter_never_crash(signed_in_browser, issuer, partner):
    auth = (partner.client_id, partner.client_secret)
    base = {**authorize_params(partner), "grant_type": "authorization_code", "token": "x",
            "code": "x"}
    for name in PROTOCOL_PARAMETERS:
        for value in HOSTILE_VALUES:
            params = {**base, name: value}
            for method, path in [("GET", "/oidc/authorize"), ("POST", "/oidc/token"),
                                 ("POST", "/oidc/introspect"), ("POST", "/oidc/revoke"),
                                 ("GET", "/oidc/logout"), ("POST", "/oidc/logout"),
                                 ("GET", "/oidc/userinfo"), ("GET", "/api/v1/habilitations")]:
                sent = {"params": params} if method == "GET" else {"data": params}
                response = signed_in_browser.request(method, issuer + path, auth=auth,
                                                     allow_redirects=False, **sent)
                assert response.status_code < 500, (method, path, name, value)


@pytest.mark.parametrize(("body", "content_type"), [
    ('{"grant_type": "client_credentials"}', "application/json"),
    ("[1, 2]", "application/json"),
    ("grant_type=client_credentials", "text/plain"),
    ("<grant_type>client_credentials</grant_type>", "application/xml"),
])
def test_token_requests_must_be_forms(issuer, partner, body, content_type):
    response = requests.post(f"{issuer}/oidc/token", data=body.encode(),
                             headers={"Content-Type": content_type},
                             auth=(partner.client_id, partner.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_token_request_with_a_file_is_refused(issuer, partner):
    response = requests.post(f"{issuer}/oidc/token", data={"grant_type": "client_credentials"},
                             files={"scope": ("scope.txt", b"openid")},
                             auth=(partner.client_id, partner.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def client_token(issuer, partner, scope):
    response = token_request(issuer, {"grant_type": "client_credentials", "scope": scope},
                             (partner.client_id, partner.client_secret))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.mark.parametrize(("path", "scope"), [("/oidc/userinfo", "openid"),
                                             ("/api/v1/habilitations", "habilitations")])
def test_a_client_credentials_token_speaks_for_no_person(issuer, partner, path, scope):
    # RFC 9068 §2.2: its sub is the client, not an account: RFC 6750 §3.1 invalid_token.
    bearer = {"Authorization": f"Bearer {client_token(issuer, partner, scope)}"}
    response = requests.get(issuer + path, headers=bearer)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("number", ["99999999999999999999", "9" * 5000, "-1", "0", "1e9",
                                    "0x10", " 1", "1_000", "+1"])
def test_huge_or_odd_page_sizes_and_cursors_are_invalid_requests(flow, issuer, number):
    token = flow.redeem(flow.authorize())
    for name in ("per_page", "cursor"):
        response = requests.get(f"{issuer}/api/v1/habilitations", params={name: number},
                                headers={"Authorization": f"Bearer {token['access_token']}"})
        assert response.status_code == 400, (name, number)
        assert response.json()["error"] == "invalid_request"
