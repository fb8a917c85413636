"""RP-initiated logout, IdP sign-out, and back-channel logout to every session partner."""

from __future__ import annotations

import html

import pytest
import requests
from joserfc import jwt

from tests.conftest import csrf_token, run_deliveries
from tests.oidc.conftest import (
    REDIRECT_URI,
    Flow,
    backchannel_endpoint,
    published_keys,
    query,
    register,
    verify,
)

POST_LOGOUT = "https://partenaire.example/au-revoir"


@pytest.fixture
def receiver():
    """A partner's back-channel logout endpoint that records what it receives."""
    with backchannel_endpoint() as endpoint:
        yield endpoint


@pytest.fixture
def two_partners(demo, receiver):
    url, _ = receiver
    first = register(demo, "--name", "Portail A", "--redirect-uri", REDIRECT_URI,
                     "--post-logout-redirect-uri", POST_LOGOUT,
                     "--backchannel-logout-uri", url + "/a", "--service", "DSN")
    second = register(demo, "--name", "Portail B", "--redirect-uri", REDIRECT_URI,
                      "--backchannel-logout-uri", url + "/b", "--service", "ATMP")
    return first, second


def test_rp_logout_with_id_token_hint_ends_everything_and_returns(demo, issuer, browser,
                                                                  two_partners, receiver):
    first, second = two_partners
    flow_a = Flow(issuer, first, browser)
    token_a = flow_a.redeem(flow_a.authorize())
    flow_b = Flow(issuer, second, browser)
    token_b = flow_b.redeem(flow_b.authorize())  # same session, no new sign-in
    _, id_claims = verify(token_a["id_token"], issuer)

    response = browser.get(f"{issuer}/oidc/logout", params={
        "id_token_hint": token_a["id_token"], "post_logout_redirect_uri": POST_LOGOUT,
        "state": "xyz"}, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == POST_LOGOUT + "?state=xyz"

    # The IdP session is over: a silent request now needs a sign-in.
    silent = Flow(issuer, first, browser, prompt="none")
    assert query(browser.get(silent.url, allow_redirects=False)
                 .headers["Location"])["error"] == "login_required"

    # Both partners are told by the delivery worker, with signed logout tokens naming the
    # session.
    _, tokens = receiver
    assert tokens == []  # not inside the logout request
    assert run_deliveries(demo).sent == 2
    assert len(tokens) == 2
    keys = published_keys(issuer)
    audiences = set()
    for logout_token in tokens:
        decoded = jwt.decode(logout_token, keys, algorithms=["RS256"])
        assert decoded.header["typ"] == "logout+jwt"
        claims = decoded.claims
        assert claims["iss"] == issuer and claims["sid"] == id_claims["sid"]
        assert claims["sub"] == id_claims["sub"]
        assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
        assert "nonce" not in claims
        audiences.add(claims["aud"])
    assert audiences == {first.client_id, second.client_id}

    # And the session's tokens no longer work.
    for token, partner in ((token_a, first), (token_b, second)):
        assert requests.get(f"{issuer}/oidc/userinfo", headers={
            "Authorization": f"Bearer {token['access_token']}"}).status_code == 401
        refreshed = requests.post(f"{issuer}/oidc/token", data={
            "grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
            auth=(partner.client_id, partner.client_secret))
        assert refreshed.json()["error"] == "invalid_grant"


def test_rp_logout_without_hint_asks_first_and_never_redirects(issuer, browser, two_partners):
    first, _ = two_partners
    Flow(issuer, first, browser).authorize()
    page = browser.get(f"{issuer}/oidc/logout", params={
        "client_id": first.client_id, "post_logout_redirect_uri": POST_LOGOUT})
    assert page.status_code == 200
    assert "Le site Portail A demande la fermeture de votre session" in page.text
    assert browser.get(f"{issuer}/compte", allow_redirects=False).status_code == 200
    done = browser.post(f"{issuer}/oidc/logout", data={
        "csrf_token": csrf_token(page.text), "client_id": first.client_id,
        "post_logout_redirect_uri": POST_LOGOUT}, allow_redirects=False)
    # Without id_token_hint the post-logout URI is not trusted (RP-Initiated Logout §3).
    assert done.status_code == 200
    assert "Vous êtes déconnecté" in done.text
    assert browser.get(f"{issuer}/compte", allow_redirects=False).status_code == 302


def test_unregistered_post_logout_uri_is_not_followed(issuer, browser, two_partners):
    first, _ = two_partners
    token = Flow(issuer, first, browser)
    tokens = token.redeem(token.authorize())
    response = browser.get(f"{issuer}/oidc/logout", params={
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": "https://evil.example/"}, allow_redirects=False)
    assert response.status_code == 200
    assert "Vous êtes déconnecté" in response.text


def test_forged_id_token_hint_is_refused(issuer, browser, two_partners):
    first, _ = two_partners
    tokens = Flow(issuer, first, browser)
    id_token = tokens.redeem(tokens.authorize())["id_token"]
    forged = id_token[:-6] + "AAAAAA"
    response = browser.get(f"{issuer}/oidc/logout", params={
        "id_token_hint": forged, "post_logout_redirect_uri": POST_LOGOUT},
        allow_redirects=False)
    assert response.status_code == 400
    assert "La demande de déconnexion n'est pas valide" in html.unescape(response.text)
    assert browser.get(f"{issuer}/compte", allow_redirects=False).status_code == 200


def test_signing_out_at_the_idp_tells_partners_too(demo, issuer, browser, two_partners,
                                                   receiver):
    first, _ = two_partners
    Flow(issuer, first, browser).authorize()
    page = browser.get(f"{issuer}/deconnexion")
    browser.post(f"{issuer}/deconnexion", data={"csrf_token": csrf_token(page.text)})
    _, tokens = receiver
    assert run_deliveries(demo).sent == 1
    assert len(tokens) == 1


def test_only_an_id_token_is_accepted_as_id_token_hint(issuer, browser, two_partners, demo):
    first, _ = two_partners
    flow = Flow(issuer, first, browser)
    tokens = flow.redeem(flow.authorize())
    sub = verify(tokens["id_token"], issuer)[1]["sub"]
    with demo.test_request_context():
        from idp.oidc.deps import logout_service

        logout_token = logout_service().logout_token(first.client_id, sub, "sid")
    # Signed by the IdP with the same keys, but an access token and a logout token are not
    # ID tokens: an error page, no logout, no redirect.
    for hint in (tokens["access_token"], logout_token):
        response = browser.get(f"{issuer}/oidc/logout", params={
            "id_token_hint": hint, "post_logout_redirect_uri": POST_LOGOUT},
            allow_redirects=False)
        assert response.status_code == 400 and "Location" not in response.headers
        assert "is not an ID token" in html.unescape(response.text)
        assert browser.get(f"{issuer}/compte", allow_redirects=False).status_code == 200
    assert requests.get(f"{issuer}/oidc/userinfo", headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).status_code == 200
