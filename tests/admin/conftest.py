"""Administrator-space fixtures: the demo company's administrator signed in, another
company's administrator, and the demo people's ids."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from idp.accounts.models import Account
from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.conftest import sign_in

CABINET_SIRET = "43917721300014"


@pytest.fixture
def people(demo) -> dict:
    """The demo accounts' ids by first name."""
    with demo.app_context():
        return {a.first_name: a.id for a in db.session.scalars(select(Account))}


@pytest.fixture
def administrator(demo, client):
    """A browser signed in as Sophie Lefèvre, administrator of Transports Lefèvre."""
    assert sign_in(client).status_code == 302
    return client


@pytest.fixture
def other_administrator(demo):
    """A browser signed in as Marc Durand, administrator of another company (the cabinet)."""
    browser = demo.test_client()
    assert sign_in(browser, siret=CABINET_SIRET, last_name="Durand", first_name="Marc",
                   password="Cabinet2026").status_code == 302
    return browser


@pytest.fixture
def firm(other_administrator):
    """The cabinet's administrator, who holds the demo portfolio."""
    return other_administrator


def journal(app, action) -> list[AuditEvent]:
    """The journal's entries for ``action``."""
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def text_of(response) -> str:
    """A page's text as a person reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))
