"""Widget fixtures: a live IdP, a partner with widget origins, and the framed sign-in as the
loader and a person drive it (GET the frame, post its forms with their single-use token)."""

from __future__ import annotations

import html
import json
import re
import secrets
from urllib.parse import urlencode

import pytest
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.oidc import conftest as oidc_fixtures
from tests.oidc.conftest import SOPHIE, Partner, register

# The live IdP of the OIDC tests: an issuer on a loopback port, the demo served there.
settings = oidc_fixtures.settings
issuer = oidc_fixtures.issuer

ORIGIN = "https://compte-atmp.example"
OTHER_ORIGIN = "https://autre.compte-atmp.example"
CALLBACK = f"{ORIGIN}/retour"
SCOPE = "openid profile siret habilitations"


@pytest.fixture
def widget_partner(demo) -> Partner:
    """« Compte AT/MP »: its page's origin is a redirect URI and a widget origin; it also has
    an ordinary callback, and a second widget origin."""
    return register(demo, "--name", "Compte AT/MP", "--redirect-uri", ORIGIN,
                    "--redirect-uri", CALLBACK, "--redirect-uri", OTHER_ORIGIN,
                    "--widget-origin", ORIGIN, "--widget-origin", OTHER_ORIGIN,
                    "--service", "ATMP")


@pytest.fixture
def http():
    """A browser's frame: requests without cookies of interest, no redirects followed."""
    return requests.Session()


def transaction_token(page: str) -> str:
    """The single-use token of the framed form."""
    match = re.search(r'name="transaction" type="hidden" value="([^"]*)"', page)
    assert match, "no transaction token on the page"
    return match.group(1)


def json_block(page: str, element_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>',
                      page, re.S)
    assert match, f"no #{element_id} on the page"
    return json.loads(match.group(1))


def web_message(response) -> dict:
    """What the web_message page posts: ``{"origin": …, "response": {…}}``."""
    assert response.status_code == 200, response.text[:2000]
    return json_block(response.text, "reponse-donnees")


def policy(response) -> dict[str, str]:
    """The Content-Security-Policy, directive by directive."""
    directives = (d.strip().split(" ", 1) for d in
                  response.headers["Content-Security-Policy"].split(";"))
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


class Widget:
    """One widget sign-in, as the loader starts it and a person fills it."""

    def __init__(self, issuer: str, partner: Partner, http, origin=ORIGIN, scope=SCOPE,
                 **extra):
        self.issuer = issuer
        self.partner = partner
        self.http = http
        self.origin = origin
        self.verifier = secrets.token_urlsafe(48)
        self.state = secrets.token_urlsafe(12)
        self.nonce = secrets.token_urlsafe(12)
        self.params = {
            "response_type": "code", "client_id": partner.client_id, "redirect_uri": origin,
            "scope": scope, "state": self.state, "nonce": self.nonce,
            "code_challenge": create_s256_code_challenge(self.verifier),
            "code_challenge_method": "S256", "response_mode": "web_message", **extra}
        self.params = {k: v for k, v in self.params.items() if v is not None}
        self.url = f"{issuer}/widget/v1/connexion?{urlencode(self.params)}"

    def open(self):
        """The framed page, as the iframe loads it."""
        return self.http.get(self.url, allow_redirects=False)

    def post(self, page, **fields):
        """Post the form of ``page`` (a response) with its token and ``fields``."""
        token = fields.pop("transaction", None) or transaction_token(page.text)
        return self.http.post(self.url, data={"transaction": token, **fields},
                              allow_redirects=False)

    def sign_in(self, person=SOPHIE, page=None):
        """Fill « Vous connecter » in the frame; return the answer."""
        page = page or self.open()
        assert page.status_code == 200, page.text[:2000]
        return self.post(page, siret=person["siret"], last_name=person["last_name"],
                         first_name=person["first_name"], password=person["password"])

    def redeem(self, code, verifier=None):
        """The partner's back end: the code for tokens, with its PKCE verifier."""
        return requests.post(f"{self.issuer}/oidc/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.origin,
            "code_verifier": verifier or self.verifier,
        }, auth=(self.partner.client_id, self.partner.client_secret))


def alert(page: str) -> str:
    """The text of the framed page's error banner ("" when hidden)."""
    match = re.search(r'<div id="erreur" class="alert" role="alert" tabindex="-1"( hidden)?>'
                      r'(.*?)</div>', page, re.S)
    assert match, "no alert region on the page"
    return html.unescape(match.group(2)).replace("\xa0", " ").strip()
