"""OIDC fixtures: a live IdP on a loopback port, demo data, partners, a browser, a partner.

Tokens are fetched with Authlib's OAuth2Session over real HTTP and verified independently
with joserfc against the JWKS the IdP publishes.
"""

from __future__ import annotations

import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import free_port, serve, sign_in

SOPHIE = {"siret": "52814432200013", "last_name": "Lefèvre", "first_name": "Sophie",
          "password": "Camions2026"}
JULIE = {"siret": "43917721300014", "last_name": "Chevalier", "first_name": "Julie",
         "password": "Compta2026"}
REDIRECT_URI = "https://partenaire.example/retour"


@pytest.fixture
def settings(settings):
    """The IdP's issuer is the loopback address it will be served on."""
    settings["ISSUER"] = f"http://127.0.0.1:{free_port()}"
    return settings


@pytest.fixture
def issuer(demo):
    """The IdP served over real HTTP on its issuer address, in a thread."""
    with serve(demo) as base:
        yield base


@dataclass
class Partner:
    """A registered partner site, as the registry CLI printed it."""

    client_id: str
    client_secret: str | None
    services: list[str]


def register(app, *args) -> Partner:
    result = app.test_cli_runner().invoke(args=["idp", "client", "create", *args])
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.stdout)
    return Partner(data["client_id"], data.get("client_secret"), data["services"])


@pytest.fixture
def partner(demo) -> Partner:
    """A confidential partner hosting DSN (client_secret_basic, RS256 ID tokens)."""
    return register(demo, "--name", "Portail DSN", "--redirect-uri", REDIRECT_URI,
                    "--post-logout-redirect-uri", "https://partenaire.example/au-revoir",
                    "--service", "DSN")


@pytest.fixture
def browser():
    """A person's browser: cookies, no automatic redirects."""
    return requests.Session()


class Flow:
    """One authorization code flow as a partner and a person do it."""

    def __init__(self, issuer, partner: Partner, browser, scope="openid profile email phone "
                 "siret habilitations", **auth_params):
        self.issuer = issuer
        self.partner = partner
        self.browser = browser
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(12)
        self.session = OAuth2Session(partner.client_id, partner.client_secret, scope=scope,
                                     redirect_uri=REDIRECT_URI, code_challenge_method="S256",
                                     token_endpoint_auth_method="client_secret_basic"
                                     if partner.client_secret else "none")
        self.url, self.state = self.session.create_authorization_url(
            f"{issuer}/oidc/authorize", code_verifier=self.verifier, nonce=self.nonce,
            **auth_params)

    def authorize(self, person=SOPHIE):
        """Follow the browser from the partner to the IdP and back; return the final URL."""
        response = self.browser.get(self.url, allow_redirects=False)
        for _ in range(5):
            location = response.headers.get("Location", "")
            if response.status_code != 302 or location.startswith(REDIRECT_URI):
                break
            target = location if location.startswith("http") else self.issuer + location
            if urlsplit(target).path == "/connexion":
                response = sign_in(self.browser, target, **person)
            else:
                response = self.browser.get(target, allow_redirects=False)
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def redeem(self, callback_url, **kwargs):
        """Exchange the code for tokens, as the partner's back end."""
        return self.session.fetch_token(f"{self.issuer}/oidc/token",
                                        authorization_response=callback_url,
                                        code_verifier=self.verifier, **kwargs)


@contextmanager
def backchannel_endpoint(statuses=()):
    """A partner's back-channel logout endpoint on a loopback port: answers ``statuses`` in
    turn (200 once they run out) and keeps the logout tokens; yields its URL and them."""
    received: list[str] = []
    answers = list(statuses)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append(parse_qs(body)["logout_token"][0])
            self.send_response(answers.pop(0) if answers else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    http = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}/backchannel", received
    finally:
        http.shutdown()


def query(url) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def published_keys(issuer) -> KeySet:
    """The JWKS, found the way a partner finds it: through discovery."""
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration").json()
    return KeySet.import_key_set(requests.get(metadata["jwks_uri"]).json())


def verify(token_string, issuer, typ=None):
    """Decode and verify a token we issued with the published keys; return (header, claims)."""
    token = jwt.decode(token_string, published_keys(issuer), algorithms=["RS256", "ES256"])
    if typ:
        assert token.header["typ"] == typ
    return token.header, token.claims


@pytest.fixture
def flow(issuer, partner, browser):
    """A ready authorization code flow for ``partner``."""
    return Flow(issuer, partner, browser)

