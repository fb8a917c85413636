"""Interop fixtures: the live demo IdP of tests/oidc, and partner sites that implement an
``initiate_login_uri`` the way OpenID Connect Core §4 says (check ``iss``, start an
authorization request with ``prompt=none``, redeem the code)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import pytest
from authlib.integrations.requests_client import OAuth2Session
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.oidc import conftest as oidc_fixtures
from tests.oidc.conftest import REDIRECT_URI, Partner, query, register

# The live IdP of tests/oidc: its settings (issuer on a loopback port), server and browser.
settings = oidc_fixtures.settings
issuer = oidc_fixtures.issuer
browser = oidc_fixtures.browser
partner = oidc_fixtures.partner

SIRET_SOPHIE = "52814432200013"
PORTAIL_LOGIN = "https://partenaire.example/connexion-ne"
AUTRE_ORIGIN = "https://autre.example"


class PartnerSite:
    """A registered partner and what its site does when the IdP sends a person to its
    ``initiate_login_uri``."""

    def __init__(self, issuer: str, partner: Partner, redirect_uri: str, login_uri: str):
        self.issuer = issuer
        self.partner = partner
        self.redirect_uri = redirect_uri
        self.login_uri = login_uri

    def initiate(self, browser, location: str) -> dict:
        """Answer the IdP's redirect to the initiate_login_uri: check ``iss``, ask for a code
        with ``prompt=none`` and ``login_hint``, redeem it; return the redirect's parameters
        and the tokens."""
        assert location.split("?", 1)[0] == self.login_uri.split("?", 1)[0], location
        params = query(location)
        assert params["iss"] == self.issuer  # OIDC Core §4: the partner checks the issuer
        verifier = secrets.token_urlsafe(48)
        session = OAuth2Session(self.partner.client_id, self.partner.client_secret,
                                scope="openid profile siret habilitations",
                                redirect_uri=self.redirect_uri, code_challenge_method="S256")
        url, state = session.create_authorization_url(
            f"{self.issuer}/oidc/authorize", code_verifier=verifier,
            nonce=secrets.token_urlsafe(12), prompt="none", login_hint=params["login_hint"])
        answer = browser.get(url, allow_redirects=False)
        assert answer.status_code == 302, answer.text
        callback = answer.headers["Location"]
        assert callback.startswith(self.redirect_uri), callback
        assert "code" in query(callback), callback  # at once: no sign-in page in between
        tokens = session.fetch_token(f"{self.issuer}/oidc/token",
                                     authorization_response=callback, code_verifier=verifier)
        return {"params": params, "tokens": tokens}


@pytest.fixture
def portail(demo, issuer) -> PartnerSite:
    """A partner hosting DSN and DUCS, with an initiate_login_uri on https://partenaire.example
    (the origin of tests/oidc's REDIRECT_URI)."""
    registered = register(demo, "--name", "Portail DSN", "--redirect-uri", REDIRECT_URI,
                          "--initiate-login-uri", PORTAIL_LOGIN,
                          "--service", "DSN", "--service", "DUCS")
    return PartnerSite(issuer, registered, REDIRECT_URI, PORTAIL_LOGIN)


@pytest.fixture
def autre(demo, issuer) -> PartnerSite:
    """Another partner, on another origin, hosting ATMP and PPREV; its initiate_login_uri
    has a query of its own."""
    login_uri = f"{AUTRE_ORIGIN}/oidc/initier?depuis=ne"
    registered = register(demo, "--name", "Compte AT/MP", "--redirect-uri",
                          f"{AUTRE_ORIGIN}/retour", "--initiate-login-uri", login_uri,
                          "--service", "ATMP", "--service", "PPREV")
    return PartnerSite(issuer, registered, f"{AUTRE_ORIGIN}/retour", login_uri)


def local(location: str) -> str:
    """A Location header as a path on the IdP (it may be absolute or not)."""
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


def journal(app, action: str) -> list[AuditEvent]:
    """The journal's events for ``action``, oldest first."""
    with app.app_context():
        events = list(db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return events
