"""Habilitation fixtures: the demo accounts by first name, the rules in the app's session."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.accounts.models import Account
from idp.extensions import db
from idp.habilitations.service import HabilitationService


@pytest.fixture
def accounts(demo):
    """The demo accounts' ids by first name, inside an app context of the demo app."""
    with demo.app_context():
        yield {a.first_name: a.id for a in db.session.scalars(select(Account))}


@pytest.fixture
def rules(accounts) -> HabilitationService:
    """The habilitation rules on the test's database session."""
    return HabilitationService(db.session)
