"""« Vous connecter »: success, identical failures, validation, next, rehash, journal."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher as Argon2Hasher
from sqlalchemy import select

from idp.accounts.models import Account, Role, Status
from idp.accounts.passwords import PasswordHasher
from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.conftest import PASSWORD, SIRET_SIEGE, SIRET_VILLEURBANNE, csrf_token, make_account
from tests.conftest import sign_in as fill_login

GENERIC_ERROR = ("Les informations saisies ne permettent pas de vous identifier. "
                 "Vérifiez le SIRET, le nom, le prénom et le mot de passe.")


def alert(response) -> str:
    """The text of the page's error banner."""
    html = response.get_data(as_text=True)
    match = re.search(r'<div class="alert" role="alert">(.*?)</div>', html, re.S)
    # Babel separates number and unit with a no-break space, as French typography wants.
    text = match.group(1).strip() if match else ""
    return text.replace("&#39;", "'").replace("\xa0", " ")


def test_login_page_has_a_label_for_each_field(client):
    html = client.get("/connexion").get_data(as_text=True)
    assert "<h1>Vous connecter</h1>" in html
    for field, label in (("siret", "SIRET"), ("last_name", "Nom"), ("first_name", "Prénom"),
                         ("password", "Mot de passe")):
        assert re.search(rf'<label for="{field}">{label}', html), field
        assert re.search(rf'<input[^>]+id="{field}"', html), field
    assert 'href="/mot-de-passe-oublie">Mot de passe oublié ?' in html


def test_sign_in_opens_the_account_space(client, account):
    response = fill_login(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/compte"
    page = client.get("/compte").get_data(as_text=True)
    assert "Lefèvre" in page and "Sophie" in page
    assert SIRET_SIEGE in page and "TRANSPORTS LEFEVRE SIEGE" in page
    assert "Administrateur" in page
    assert "45 AV JEAN JAURES, 69007 LYON" in page


def test_names_compare_without_case_or_accents(client, account):
    response = fill_login(client, last_name="  LEFEVRE ", first_name="sophie")
    assert response.status_code == 302


def test_siret_may_be_typed_with_spaces(client, account):
    assert fill_login(client, siret="528 144 322 00013").status_code == 302


def test_declarant_sees_their_role(client, directory):
    make_account(directory, siret=SIRET_VILLEURBANNE, last_name="Benali", first_name="Karim",
                 role=Role.DECLARANT)
    assert fill_login(client, siret=SIRET_VILLEURBANNE, last_name="Benali",
                      first_name="Karim").status_code == 302
    page = client.get("/compte").get_data(as_text=True)
    assert "Déclarant" in page and "TRANSPORTS LEFEVRE VILLEURBANNE" in page


@pytest.mark.parametrize("change", [
    {"password": "Mauvais2026"},
    {"siret": "81234567600017"},  # a real establishment, no such person there
    {"siret": "73282932000074"},  # a valid SIRET the directory does not know
    {"last_name": "Lefebvre"},
    {"first_name": "Sofia"},
])
def test_every_failure_answers_the_same(client, account, change):
    response = fill_login(client, **change)
    assert response.status_code == 401
    assert alert(response) == GENERIC_ERROR
    assert client.get("/compte").status_code == 302  # still not signed in


def test_removed_account_looks_unknown(client, directory):
    make_account(directory, status=Status.REMOVED)
    response = fill_login(client)
    assert response.status_code == 401
    assert alert(response) == GENERIC_ERROR


def test_unknown_account_costs_one_argon2_verification_like_a_wrong_password(
        client, account, monkeypatch):
    calls = []
    real_verify = PasswordHasher.verify

    def counting_verify(self, password_hash, password):
        calls.append(password_hash)
        return real_verify(self, password_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    fill_login(client, password="Mauvais2026")
    fill_login(client, last_name="Inconnu")
    assert len(calls) == 2
    assert calls[0] is not None  # the account's own hash
    assert calls[1] is None  # the dummy hash, same parameters, same cost


@pytest.mark.parametrize(("status", "message"), [
    (Status.LOCKED, "Votre compte est bloqué"),
    (Status.PENDING_EMAIL, "adresse électronique n'a pas encore été validée"),
])
def test_account_state_is_told_only_after_the_right_password(client, directory, status,
                                                             message):
    make_account(directory, status=status)
    assert alert(fill_login(client, password="Mauvais2026")) == GENERIC_ERROR
    response = fill_login(client)
    assert response.status_code == 403
    assert message in alert(response)
    assert client.get("/compte").status_code == 302


def test_missing_fields_are_each_reported_and_typed_values_kept(client):
    page = client.get("/connexion").get_data(as_text=True)
    response = client.post("/connexion", data={"csrf_token": csrf_token(page), "siret": "",
                                               "last_name": "Martin", "first_name": "",
                                               "password": ""})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    for field in ("siret", "first_name", "password"):
        assert f'<p class="error" id="{field}-error">Ce champ est obligatoire</p>' in html
    assert 'id="last_name-error"' not in html
    assert re.search(r'id="last_name"[^>]*value="Martin"', html)


@pytest.mark.parametrize(("siret", "message"), [
    ("5281443220001", "Le numéro SIRET doit comporter 14 chiffres."),
    ("52814432200A13", "Le numéro SIRET doit comporter 14 chiffres."),
    ("52814432200014", "Ce numéro SIRET n'est pas valide : vérifiez sa saisie."),
])
def test_malformed_siret_is_explained(client, siret, message):
    response = fill_login(client, siret=siret)
    assert response.status_code == 400
    html = response.get_data(as_text=True).replace("&#39;", "'")
    assert f'<p class="error" id="siret-error">{message}</p>' in html
    assert 'aria-invalid="true"' in html


def test_overlong_password_is_refused_before_hashing(client, account):
    response = fill_login(client, password="A1" * 100)
    assert response.status_code == 400
    assert "128 caractères au plus" in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["/compte?onglet=securite", "/compte"])
def test_next_local_path_is_followed(client, account, target):
    response = fill_login(client, next_url=target)
    assert response.headers["Location"] == target


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/compte", "/\\evil.example", "javascript:alert(1)",
    "http:/evil.example", "/%0a/evil.example".replace("%0a", "\n"),
])
def test_next_elsewhere_is_refused(client, account, target):
    response = fill_login(client, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/compte"


def test_protected_page_comes_back_after_sign_in(client, account):
    response = client.get("/compte")
    assert response.status_code == 302
    assert response.headers["Location"] == "/connexion?next=/compte"
    login_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/compte"' in login_page
    assert fill_login(client, next_url="/compte").headers["Location"] == "/compte"


def test_outdated_hash_is_replaced_at_sign_in(client, directory, app):
    old = Argon2Hasher(time_cost=3, memory_cost=20 * 1024, parallelism=1).hash(PASSWORD)
    created = make_account(directory, password_hash=old)
    assert fill_login(client).status_code == 302
    with app.app_context():
        new_hash = db.session.get(Account, created.id).password_hash
    assert new_hash != old
    assert new_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_journal_records_success_and_failure_without_the_password(client, account, app):
    fill_login(client, password="Mauvais2026", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    fill_login(client, environ_base={"REMOTE_ADDR": "203.0.113.7"},
               headers={"User-Agent": "Navigateur de test"})
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "login").order_by(AuditEvent.id)
        ).all()
        assert [(e.outcome, e.details.get("reason")) for e in events] == [
            ("failure", "invalid_credentials"), ("success", None)]
        assert all(e.account_id == account.id for e in events)
        assert all(e.ip == "203.0.113.7" for e in events)
        assert events[1].user_agent == "Navigateur de test"
        assert events[0].details["siret"] == SIRET_SIEGE
        for event in events:
            assert "Mauvais2026" not in repr(event.details)
            assert PASSWORD not in repr(event.details)


def test_no_password_reaches_the_logs(client, account, caplog):
    caplog.set_level("DEBUG")
    fill_login(client, password="Mauvais2026")
    fill_login(client)
    assert "Mauvais2026" not in caplog.text
    assert PASSWORD not in caplog.text
