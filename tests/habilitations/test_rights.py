"""The habilitation check, on the demo company and accounting firm."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from idp.accounts.models import Account
from idp.extensions import db
from idp.habilitations.models import Habilitation, Right
from idp.habilitations.service import HabilitationChecker
from idp.models_common import utcnow
from tests.conftest import load_demo


@pytest.fixture
def demo(app):
    load_demo(app)
    with app.app_context():
        yield {a.first_name: a.id for a in db.session.scalars(select(Account))}


def rights(account_id, service, siret):
    return HabilitationChecker(db.session).rights_on(account_id, service, siret)


def test_siren_scope_covers_every_establishment(app, demo):
    for siret in ("52814432200013", "52814432200021", "52814432200039"):
        assert rights(demo["Sophie"], "DSN", siret) == Right.DECLARER | Right.PAYER
    assert rights(demo["Sophie"], "DSN", "81234567600017") == Right(0)


def test_siret_scope_covers_only_that_establishment(app, demo):
    assert rights(demo["Karim"], "DUCS", "52814432200021") == Right.DECLARER | Right.PAYER
    assert rights(demo["Karim"], "DUCS", "52814432200013") == Right(0)
    assert rights(demo["Karim"], "ATMP", "52814432200021") == Right(0)


def test_portfolio_scope_covers_its_clients(app, demo):
    assert rights(demo["Julie"], "DSN", "81234567600017") == Right.DECLARER
    assert rights(demo["Julie"], "ATMP", "44231785500017") == Right.CONSULTER
    assert rights(demo["Julie"], "DSN", "88102273500016") == Right(0)  # not a client


def test_future_habilitation_is_not_effective_yet(app, demo):
    grant = db.session.scalars(select(Habilitation).where(
        Habilitation.account_id == demo["Karim"], Habilitation.service_code == "DUCS")).one()
    grant.effective_from = utcnow() + timedelta(hours=24)
    db.session.commit()
    assert rights(demo["Karim"], "DUCS", "52814432200021") == Right(0)


def test_right_names_round_trip():
    mask = Right.from_names(["payer", "declarer"])
    assert mask.names() == ["declarer", "payer"]
