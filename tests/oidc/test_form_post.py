"""``response_mode=form_post`` (OAuth 2.0 Form Post Response Mode): the browser posts the
authorization response to the partner from a page whose policy allows exactly that; unknown
response modes are refused."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
import requests
from flask import Flask, request

from tests.conftest import free_port, serve
from tests.oidc.conftest import REDIRECT_URI, Flow, query, register
from tests.oidc.test_errors import authorize_params, redirect_error


class FormReader(HTMLParser):
    """What a browser reads of the page: the form, its fields, the script's nonce."""

    def __init__(self, page: str):
        super().__init__()
        self.action = self.method = self.script_nonce = None
        self.fields: dict[str, str] = {}
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == "reponse":
            self.action, self.method = attrs["action"], attrs["method"]
        elif tag == "input" and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs["value"]
        elif tag == "script":
            self.script_nonce = attrs.get("nonce")


@pytest.fixture
def partner_site():
    """A partner's callback over real HTTP; returns its base URL and what it was posted."""
    received: list[dict] = []
    site = Flask("partenaire")
    site.config["ISSUER"] = f"http://127.0.0.1:{free_port()}"

    @site.post("/retour")
    def callback():
        received.append(request.form.to_dict())
        return "merci"

    with serve(site) as base:
        yield base, received


@pytest.fixture
def posting_partner(demo, partner_site):
    base, _ = partner_site
    return register(demo, "--name", "Portail formulaire", "--redirect-uri", f"{base}/retour",
                    "--redirect-uri", REDIRECT_URI, "--service", "DSN")


def form_post_flow(issuer, partner, browser, base, **params):
    flow = Flow(issuer, partner, browser, response_mode="form_post", **params)
    flow.session.redirect_uri = f"{base}/retour"
    flow.url, flow.state = flow.session.create_authorization_url(
        f"{issuer}/oidc/authorize", code_verifier=flow.verifier, nonce=flow.nonce,
        response_mode="form_post", **params)
    return flow


def policy(response) -> dict[str, str]:
    directives = (d.strip().split(" ", 1) for d in
                  response.headers["Content-Security-Policy"].split(";"))
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


def test_discovery_announces_form_post(issuer):
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration").json()
    assert metadata["response_modes_supported"] == ["query", "form_post", "web_message"]


def test_code_comes_back_by_a_form_the_browser_posts(issuer, posting_partner, browser,
                                                     partner_site):
    base, received = partner_site
    Flow(issuer, posting_partner, browser).authorize()  # signed in (query mode)
    flow = form_post_flow(issuer, posting_partner, browser, base)
    page = browser.get(flow.url, allow_redirects=False)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")

    # The page may post to the partner's origin only, run its own script only, be framed
    # by nobody.
    rules = policy(page)
    assert rules["form-action"] == base
    assert rules["frame-ancestors"] == "'none'"
    form = FormReader(page.text)
    assert rules["script-src"] == f"'nonce-{form.script_nonce}'"
    assert form.method == "post" and form.action == f"{base}/retour"
    assert set(form.fields) == {"code", "state", "iss"}
    assert form.fields["state"] == flow.state and form.fields["iss"] == issuer
    assert "Continuer" in page.text  # for a browser without JavaScript

    # The browser posts it; the partner's back end redeems what it received.
    assert browser.post(form.action, data=form.fields).text == "merci"
    assert received == [form.fields]
    token = flow.session.fetch_token(f"{issuer}/oidc/token", code=received[0]["code"],
                                     code_verifier=flow.verifier)
    assert token["id_token"] and token["access_token"]


def test_errors_come_back_by_form_post_too(issuer, posting_partner, browser, partner_site):
    base, _ = partner_site
    flow = form_post_flow(issuer, posting_partner, browser, base, prompt="none")
    page = browser.get(flow.url, allow_redirects=False)  # nobody signed in
    assert page.status_code == 200
    assert policy(page)["form-action"] == base
    fields = FormReader(page.text).fields
    assert fields["error"] == "login_required"
    assert fields["state"] == flow.state and fields["iss"] == issuer


# web_message is known, but only for a partner's widget origins (tests/widget).
@pytest.mark.parametrize("mode", ["fragment", "web_message", "jwt", "", "FORM_POST"])
def test_unknown_response_mode_is_an_invalid_request(issuer, partner, browser, mode):
    Flow(issuer, partner, browser).authorize()
    params = redirect_error(browser, issuer, authorize_params(partner, response_mode=mode))
    assert params["error"] == "invalid_request"
    assert params["state"] == "s1" and params["iss"] == issuer


def test_form_post_needs_a_web_redirect_uri(issuer, demo, browser, partner):
    app_uri = "fr.netentreprises.app:/retour"
    mobile = register(demo, "--name", "Application", "--redirect-uri", app_uri, "--public")
    Flow(issuer, partner, browser).authorize()
    response = browser.get(f"{issuer}/oidc/authorize", allow_redirects=False, params=(
        authorize_params(mobile, redirect_uri=app_uri, response_mode="form_post")))
    assert response.status_code == 302 and response.headers["Location"].startswith(app_uri)
    assert query(response.headers["Location"])["error"] == "invalid_request"


def test_query_mode_is_unchanged(issuer, partner, browser):
    flow = Flow(issuer, partner, browser, response_mode="query")
    callback = flow.authorize()
    assert re.match(r"https://partenaire\.example/retour\?code=", callback)
    assert flow.redeem(callback)["access_token"]
