"""The password policy: each rule, accents, the 20-character limit, the live gauge."""

from __future__ import annotations

import pytest

from idp.accounts.password_policy import LongPasswordPolicy, NetEntreprisesPolicy
from tests.conftest import csrf_token

NE = NetEntreprisesPolicy()


@pytest.mark.parametrize("password", [
    "Camions2026",            # 7 letters mixed, 4 digits
    "Éléphant42",             # accented letters count as letters
    "aB3cdef4",               # exactly 6 letters, 2 digits
    "Mot de passe 42!",       # spaces and specials are allowed
    "Abcdefghijklmnopqr12",   # exactly 20 characters
    "Señor€Prix99",
])
def test_net_entreprises_rule_accepts(password):
    assert NE.evaluate(password).accepted, NE.evaluate(password).problems


@pytest.mark.parametrize(("password", "problem"), [
    ("camions2026", "Mélange majuscules / minuscules"),
    ("CAMIONS2026", "Mélange majuscules / minuscules"),
    ("Cam2026", "Au moins 6 lettres"),
    ("Camions1", "Au moins 2 chiffres"),
    ("Abcdefghijklmnopqrs12", "Au plus 20 caractères"),   # 21 characters
    ("", "Au moins 6 lettres"),
    ("Camions2026\t", "Caractère(s) non autorisé(s)"),
    ("Camions2026🙂", "Caractère(s) non autorisé(s)"),
])
def test_net_entreprises_rule_refuses(password, problem):
    evaluation = NE.evaluate(password)
    assert not evaluation.accepted
    assert any(str(p).startswith(problem) for p in evaluation.problems), evaluation.problems


def test_levels_grow_with_the_password():
    assert NE.evaluate("camions").level == "weak"
    assert NE.evaluate("Camions26").level == "medium"
    assert NE.evaluate("Camions2026-Lyon").level == "strong"


@pytest.mark.parametrize(("password", "accepted"), [
    ("une phrase longue", True), ("onzecaracte", False), ("azertyuiop12", False),
    ("x" * 128, True), ("x" * 129, False),
])
def test_long_policy(password, accepted):
    assert LongPasswordPolicy().evaluate(password).accepted is accepted


def gauge(client, password):
    token = csrf_token(client.get("/connexion").get_data(as_text=True))
    return client.post("/mot-de-passe/evaluer", json={"password": password},
                       headers={"X-CSRFToken": token})


def test_gauge_endpoint_grades_with_the_server_rules(client):
    weak = gauge(client, "camions").get_json()
    assert weak["level"] == "weak" and weak["accepted"] is False
    assert {"text": "Au moins 2 chiffres", "ok": False} in weak["rules"]
    strong = gauge(client, "Camions2026-Lyon").get_json()
    assert strong == {"accepted": True, "level": "strong", "problems": [], "rules": [
        {"text": "Au moins 6 lettres", "ok": True}, {"text": "Au moins 2 chiffres", "ok": True},
        {"text": "Au plus 20 caractères", "ok": True},
        {"text": "Mélange majuscules / minuscules", "ok": True}]}


def test_gauge_endpoint_validates_its_input(client):
    assert gauge(client, None).status_code == 400
    assert gauge(client, "x" * 2000).status_code == 400
    assert client.post("/mot-de-passe/evaluer", json={"password": "x"}).status_code == 400


@pytest.fixture
def long_settings(settings):
    settings["PASSWORD_POLICY"] = "long"
    return settings


def test_configured_policy_is_the_one_applied(long_settings, app):
    client = app.test_client()
    assert gauge(client, "une phrase assez longue").get_json()["accepted"] is True
    assert gauge(client, "Camions2026").get_json()["accepted"] is False
