"""Notification fixtures: a live IdP with the demo, the partner hosting ATMP and PPREV that
publishes, its token, and people of the demo signed in (their own test clients)."""

from __future__ import annotations

import itertools

import pytest
import requests
from sqlalchemy import delete, select

from idp.accounts.models import Account
from idp.demo import PEOPLE
from idp.extensions import db
from idp.notifications.models import Notification
from tests.conftest import load_demo, sign_in
from tests.oidc import conftest as oidc_fixtures
from tests.oidc.conftest import Partner, register

settings = oidc_fixtures.settings
issuer = oidc_fixtures.issuer

SITE = "https://compte-atmp.example"
GRENOBLE = "52814432200039"  # Transports Lefèvre, Élodie's establishment (ATMP by SIRET)
VILLEURBANNE = "52814432200021"  # Karim's (DSN and DUCS only)
CLIENT = "44231785500017"  # a client of the cabinet's portfolio, its DSN filed by it
CABINET = "43917721300014"
_keys = itertools.count(1)


def without_sample_notices(app):
    """Remove the demo's sample notices (each test counts its own); return ``app``."""
    with app.app_context():
        db.session.execute(delete(Notification))
        db.session.commit()
    return app


@pytest.fixture
def demo(app):
    """The demo data without its sample notices."""
    return without_sample_notices(load_demo(app))


@pytest.fixture
def publisher(demo) -> Partner:
    """« Compte AT/MP »: hosts ATMP and PPREV; its pages start logins (``/initier``)."""
    return register(demo, "--name", "Compte AT/MP", "--redirect-uri", f"{SITE}/callback",
                    "--initiate-login-uri", f"{SITE}/initier", "--service", "ATMP",
                    "--service", "PPREV")


def partner_token(issuer: str, partner: Partner) -> str:
    """The partner's own token (client credentials)."""
    response = requests.post(f"{issuer}/oidc/token", data={"grant_type": "client_credentials"},
                             auth=(partner.client_id, partner.client_secret))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def token(issuer, publisher) -> str:
    return partner_token(issuer, publisher)


def notice(siret: str = GRENOBLE, service: str = "ATMP", **fields) -> dict:
    """A notice as a partner sends it, with a fresh key."""
    return {"key": f"cle-{next(_keys)}", "siret": siret, "service": service,
            "title": "Votre taux AT/MP 2027", "body": "Le taux applicable est de 2,10 %.",
            "link": f"{SITE}/taux/{siret}", **fields}


def rate(siret: str = GRENOBLE, **fields) -> dict:
    """An AT/MP rate decision, with its official document."""
    return notice(siret, category="taux_atmp", document=f"{SITE}/documents/{siret}.pdf",
                  **fields)


def publish(issuer: str, token: str, body, **headers) -> requests.Response:
    """``POST /api/v1/notifications`` with the partner's token."""
    return requests.post(f"{issuer}/api/v1/notifications", json=body,
                         headers={"Authorization": f"Bearer {token}", **headers})


def published(issuer: str, token: str, body) -> int:
    """Publish one notice; its id."""
    response = publish(issuer, token, body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def person(first_name: str):
    """The demo person of that first name."""
    return next(p for p in PEOPLE if p.first_name == first_name)


def browser_of(demo, first_name: str):
    """A test client signed in as the demo person ``first_name``."""
    who = person(first_name)
    client = demo.test_client()
    answer = sign_in(client, "/connexion", who.siret, who.last_name, who.first_name,
                     who.password)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    return client


def account_id(demo, first_name: str):
    with demo.app_context():
        return db.session.scalar(select(Account.id).where(Account.first_name == first_name))
