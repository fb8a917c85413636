"""The loader, and the same request top-level: ``/oidc/authorize`` with
``response_mode=web_message`` (the popup fallback) or ``query`` (the full-page fallback)."""

from __future__ import annotations

from urllib.parse import urlencode

import requests

from idp.oidc.clients import origin as origin_of
from tests.conftest import sign_in
from tests.oidc.conftest import query
from tests.widget.conftest import CALLBACK, ORIGIN, Widget, policy, web_message


def test_the_loader_is_public_cached_and_versioned(issuer):
    script = requests.get(f"{issuer}/widget/v1/widget.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["Cache-Control"] == "public, max-age=86400"
    assert script.headers["Access-Control-Allow-Origin"] == "*"
    assert script.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "Set-Cookie" not in script.headers
    for contract in ("NetEntreprises", "mount", "unmount", "ready", "resize",
                     "authorization_response", "interaction_required", "event.source",
                     "event.origin !== IDP", "/widget/v1/connexion", "/oidc/authorize"):
        assert contract in script.text
    assert '"*"' not in script.text
    again = requests.get(f"{issuer}/widget/v1/widget.js",
                         headers={"If-None-Match": script.headers["ETag"]})
    assert again.status_code == 304


def test_discovery_announces_web_message(issuer):
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration").json()
    assert "web_message" in metadata["response_modes_supported"]


def signed_in_browser(issuer) -> requests.Session:
    browser = requests.Session()
    assert sign_in(browser, f"{issuer}/connexion").status_code == 302
    return browser


def test_the_popup_gets_the_answer_by_web_message(issuer, widget_partner):
    browser = signed_in_browser(issuer)
    widget = Widget(issuer, widget_partner, browser, display="popup")
    response = browser.get(widget.url.replace("/widget/v1/connexion", "/oidc/authorize"),
                           allow_redirects=False)
    posted = web_message(response)
    assert posted["origin"] == ORIGIN and posted["response"]["state"] == widget.state
    assert policy(response)["frame-ancestors"] == ORIGIN
    assert widget.redeem(posted["response"]["code"]).status_code == 200


def test_the_popup_signs_in_first_like_any_request(issuer, widget_partner):
    browser = requests.Session()
    widget = Widget(issuer, widget_partner, browser)
    response = browser.get(widget.url.replace("/widget/v1/connexion", "/oidc/authorize"),
                           allow_redirects=False)
    assert response.status_code == 302 and "/connexion?" in response.headers["Location"]
    signed = sign_in(browser, issuer + response.headers["Location"])
    back = browser.get(issuer + signed.headers["Location"], allow_redirects=False)
    assert web_message(back)["response"]["code"]


def test_the_full_page_fallback_comes_back_by_query(issuer, widget_partner):
    browser = signed_in_browser(issuer)
    widget = Widget(issuer, widget_partner, browser, response_mode="query")
    response = browser.get(widget.url.replace("/widget/v1/connexion", "/oidc/authorize"),
                           allow_redirects=False)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{ORIGIN}?code=")
    params = query(location)
    assert params["state"] == widget.state and params["iss"] == issuer
    assert widget.redeem(params["code"]).status_code == 200


def test_web_message_to_a_callback_is_refused_by_query(issuer, widget_partner):
    browser = signed_in_browser(issuer)
    params = {"response_type": "code", "client_id": widget_partner.client_id,
              "redirect_uri": CALLBACK, "scope": "openid", "state": "s1", "nonce": "n1",
              "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
              "code_challenge_method": "S256", "response_mode": "web_message"}
    response = browser.get(f"{issuer}/oidc/authorize?{urlencode(params)}",
                           allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"{CALLBACK}?")
    error = query(response.headers["Location"])
    assert error["error"] == "invalid_request" and error["state"] == "s1"
    assert "code" not in error


def test_web_message_errors_before_the_mode_is_checked_never_reach_a_callback(
        issuer, widget_partner):
    # A bad scope is found before the response mode: the error still goes by query to a
    # callback that is not a widget origin, never by web_message.
    params = {"response_type": "code", "client_id": widget_partner.client_id,
              "redirect_uri": CALLBACK, "scope": "openid admin", "state": "s1", "nonce": "n1",
              "response_mode": "web_message"}
    response = requests.get(f"{issuer}/oidc/authorize?{urlencode(params)}",
                            allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"].startswith(CALLBACK)
    assert query(response.headers["Location"])["error"] == "invalid_scope"


def form_action(response) -> str:
    return policy(response)["form-action"]


def test_the_sign_in_form_may_reach_the_widget_origin_of_its_request(issuer, widget_partner):
    # Browsers check each redirect after a form submission against form-action: « Vous
    # connecter » for a full-page fallback ends with a redirect to the partner's page.
    browser = requests.Session()
    widget = Widget(issuer, widget_partner, browser, response_mode="query")
    to_login = browser.get(widget.url.replace("/widget/v1/connexion", "/oidc/authorize"),
                           allow_redirects=False)
    page = browser.get(issuer + to_login.headers["Location"])
    assert form_action(page) == f"'self' {ORIGIN}"
    assert policy(page)["frame-ancestors"] == "'none'"


def test_sign_in_pages_name_only_registered_destinations(issuer, widget_partner):
    browser = requests.Session()
    assert form_action(browser.get(f"{issuer}/connexion")) == "'self'"
    for redirect_uri, expected in ((CALLBACK, f"'self' {origin_of(CALLBACK)}"),
                                   ("https://evil.example", "'self'")):
        params = {"client_id": widget_partner.client_id, "redirect_uri": redirect_uri,
                  "response_type": "code", "scope": "openid"}
        page = browser.get(f"{issuer}/connexion", params={
            "next": f"/oidc/authorize?{urlencode(params)}"})
        assert form_action(page) == expected
    page = browser.get(f"{issuer}/connexion", params={"next": "https://evil.example/"})
    assert form_action(page) == "'self'"
