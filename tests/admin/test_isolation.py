"""No IDOR in /gestion: another company's administrator walks every route of the URL map
with the identifiers of Transports Lefèvre (its declarant, its establishment, its portfolio)
in the path and in the form, and nothing of Transports Lefèvre changes."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import text

from idp.extensions import db
from idp.habilitations.service import HabilitationService
from tests.admin.conftest import CABINET_SIRET
from tests.conftest import csrf_token

SIEGE = "52814432200013"
GRENOBLE = "52814432200039"
WATCHED = ["accounts", "habilitations", "subscriptions", "portfolios", "portfolio_services",
           "portfolio_clients", "portfolio_client_services", "password_reset_requests"]


@pytest.fixture
def targets(demo, people) -> dict:
    """Transports Lefèvre's objects: Karim, Grenoble, and a portfolio of its own."""
    with demo.app_context():
        rules = HabilitationService(db.session)
        portfolio = rules.create_portfolio(SIEGE, "Filiales")
        rules.set_portfolio_services(portfolio, ["DSN"])
        rules.add_client(portfolio, GRENOBLE)
        db.session.commit()
        return {"account_id": people["Karim"], "portfolio_id": portfolio.id,
                "siret": GRENOBLE, "request_id": 1, "candidacy_id": 1}


def snapshot(app) -> dict:
    """Every row of the watched tables, as text."""
    with app.app_context():
        return {table: sorted(map(str, db.session.execute(
                    text(f"SELECT * FROM {table}"))))  # noqa: S608 (names fixed above)
                for table in WATCHED}


def foreign_form(targets) -> dict:
    """Form fields naming Transports Lefèvre's objects, for every name the routes read."""
    karim, siret = str(targets["account_id"]), targets["siret"]
    return {"declarant": karim, "cible": siret, "siret": siret, "proprietaire": SIEGE,
            "service": "DSN", "nom": "Pris", "declaration": ["DSN"], "receiver": karim,
            "recipient": karim, "last_name": "Benali", "first_name": "Karim",
            "email": "pris@example.fr", "cellule": [f"siret:{siret}:DSN"],
            "droit": [f"siret:{siret}:DSN:payer"]}


def gestion_routes(app, targets) -> list[tuple[str, str, bool]]:
    """(method, path, whether the path names an object) of every /gestion route."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/gestion"):
            continue
        arguments = {}
        for name, converter in rule._converters.items():
            items = getattr(converter, "items", None)
            arguments[name] = sorted(items)[0] if items else targets[name]
        path = rule.build(arguments)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, path, bool(rule.arguments)))
    return routes


def test_another_company_changes_nothing_anywhere(demo, targets, other_administrator):
    before = snapshot(demo)
    browser = other_administrator
    token = csrf_token(browser.get("/gestion/portefeuilles").get_data(as_text=True))
    walked = gestion_routes(demo, targets)
    assert len(walked) >= 20
    for method, path, names_object in walked:
        data = {"csrf_token": token, **foreign_form(targets)}
        if method == "POST":
            data["fichier"] = (io.BytesIO(f"SIRET;DSN\n{GRENOBLE};1\n".encode()), "f.csv")
        response = browser.open(path, method=method, data=data)
        assert response.status_code < 500, (method, path)
        if names_object:
            assert response.status_code == 404, (method, path, response.status_code)
        elif method == "GET":  # a form may show back what was typed, never a stored name
            assert "Benali" not in response.get_data(as_text=True), path
    assert snapshot(demo) == before
    # The cabinet's own data is untouched too (no foreign id was taken for its own).
    assert CABINET_SIRET in str(before["portfolios"])


def test_no_post_without_the_csrf_token(demo, targets, administrator):
    before = snapshot(demo)
    posts = [path for method, path, _ in gestion_routes(demo, targets) if method == "POST"]
    assert len(posts) >= 15
    for path in posts:
        data = {**foreign_form(targets),
                "fichier": (io.BytesIO(f"SIRET;DSN\n{GRENOBLE};1\n".encode()), "f.csv")}
        response = administrator.post(path, data=data)
        # Its own objects, every field right, but no token: refused, nothing written.
        assert response.status_code in (400, 403), (path, response.status_code)
    assert snapshot(demo) == before
