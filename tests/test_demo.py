"""``flask idp demo``: idempotent, prints credentials that really sign in."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from idp.accounts.models import Account
from idp.extensions import db
from idp.habilitations.models import Habilitation, Service, Subscription
from tests.conftest import sign_in


def counts(app):
    with app.app_context():
        return [db.session.scalar(select(func.count()).select_from(model))
                for model in (Account, Habilitation, Service, Subscription)]


def test_demo_loads_twice_without_duplicates(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["idp", "demo"])
    assert first.exit_code == 0, first.output
    assert "52814432200013  Lefèvre    Sophie   Camions2026" in first.output
    after_first = counts(app)
    assert after_first == [5, 11, 6, 12]
    assert runner.invoke(args=["idp", "demo"]).exit_code == 0
    assert counts(app) == after_first


def test_demo_credentials_sign_in(app):
    result = app.test_cli_runner().invoke(args=["idp", "demo", "--json"])
    assert result.exit_code == 0, result.output
    demo = json.loads(result.stdout)
    people = demo["accounts"]
    assert [p["client_id"] for p in demo["partners"]] == ["demo-portail-dsn",
                                                          "demo-compte-atmp"]
    assert {p["role"] for p in people} == {"administrator", "declarant"}
    for person in people:
        client = app.test_client()
        response = sign_in(client, siret=person["siret"], last_name=person["last_name"],
                           first_name=person["first_name"], password=person["password"])
        assert response.status_code == 302, person
        assert person["last_name"] in client.get("/compte").get_data(as_text=True)
