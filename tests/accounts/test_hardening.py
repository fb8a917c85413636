"""Re-authentication limits, request floods, decoys, and hostile form input (issue review)."""

from __future__ import annotations

import io
import json
import re

import pyotp
import pytest

from idp.accounts.models import Account
from idp.extensions import db
from tests.accounts.test_recovery import identify, press, text
from tests.accounts.test_two_factor import enrol, next_code, second_step
from tests.conftest import PASSWORD, csrf_token, sign_in

SECURITY = "/compte/securite"
ENROL = "/compte/securite/double-authentification"


def security_token(client) -> str:
    return csrf_token(client.get(SECURITY).get_data(as_text=True))


def change_authenticator(client, password, code):
    return client.post(f"{ENROL}/changer", data={
        "chg-csrf_token": security_token(client), "chg-password": password, "chg-code": code})


def test_a_new_key_needs_the_password_and_a_current_code(signed_in, app, account):
    secret, codes = enrol(signed_in)
    page = signed_in.get(ENROL)
    assert page.status_code == 403 and "totp-secret" not in page.get_data(as_text=True)
    forced = signed_in.post(ENROL, data={"csrf_token": security_token(signed_in),
                                         "code": next_code(secret)})
    assert forced.status_code == 403
    assert change_authenticator(signed_in, "Mauvais2026", next_code(secret)).status_code == 400
    assert change_authenticator(signed_in, PASSWORD, "000000").status_code == 400
    allowed = change_authenticator(signed_in, PASSWORD, next_code(secret))
    assert allowed.headers["Location"] == ENROL
    new_secret, new_codes = enrol(signed_in)
    assert new_secret != secret and set(new_codes).isdisjoint(codes)
    with app.app_context():
        assert db.session.get(Account, account.id).totp_secret == new_secret
    # The allowance was spent: another new key needs a new confirmation.
    assert signed_in.get(ENROL).status_code == 403


def test_security_page_passwords_count_against_the_sign_in_limit(signed_in, client):
    token = security_token(signed_in)

    def change_question(password):
        return signed_in.post(f"{SECURITY}/question-secrete", data={
            "sq-csrf_token": token, "sq-password": password,
            "sq-question": "Quel est votre plat préféré ?", "sq-answer": "Tartiflette"})

    assert change_question("Mauvais2026").status_code == 400
    assert change_question("Mauvais2027").status_code == 400
    third = change_question("Mauvais2028")
    assert "Veuillez patienter" in text(third)
    waiting = change_question(PASSWORD)  # even the right one waits now
    assert waiting.status_code == 429
    # One limiter: « Vous connecter » waits for that account too.
    assert sign_in(client).status_code == 429


@pytest.mark.parametrize("path", ["/mot-de-passe-oublie/courriel",
                                  "/mot-de-passe-oublie/administrateur"])
@pytest.mark.parametrize("person", [{}, {"last_name": "Inconnu", "first_name": "Paul"}])
def test_recovery_requests_are_limited_per_person(client, account, mailbox, path, person):
    identify(client, **person)
    statuses = [press(client, path).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # the same for an unknown person
    assert "Réessayez dans" in text(press(client, path))
    assert len(mailbox.messages) <= 3


def test_recovery_requests_are_limited_per_address(client, account):
    for number in range(20):
        identify(client, last_name=f"Inconnu{number}", first_name="Paul")
        assert press(client, "/mot-de-passe-oublie/courriel").status_code == 200
    identify(client, last_name="Inconnu99", first_name="Paul")
    assert press(client, "/mot-de-passe-oublie/courriel").status_code == 429


def test_decoy_addresses_use_the_domains_people_really_have(client, account):
    # The only account's address is sophie@example.fr: a decoy shows that domain's shape,
    # not a made-up webmail.
    page = text(identify(client, last_name="Inconnu", first_name="Paul"))
    assert re.search(r"p\*\*\*\*@e\*\*\*\*\.fr", page)
    real = text(identify(client))
    assert re.search(r"s\*\*\*\*@e\*\*\*\*\.fr", real)


def test_disposable_addresses_are_refused_on_change(signed_in, mailbox):
    response = signed_in.post(f"{SECURITY}/courriel", data={
        "em-csrf_token": security_token(signed_in), "em-password": PASSWORD,
        "em-email": "sophie@yopmail.com", "em-confirm_email": "sophie@yopmail.com"})
    assert response.status_code == 400
    assert "Les adresses jetables ne sont pas acceptées" in text(response)
    assert mailbox.to("sophie@yopmail.com") == []


@pytest.mark.parametrize("code", ["１２３４５６", "١٢٣٤٥٦", "¹²³⁴⁵⁶"])
def test_non_ascii_digits_are_a_wrong_code(client, signed_in, code):
    secret, _ = enrol(signed_in)
    signed_in.post("/deconnexion", data={"csrf_token": csrf_token(
        signed_in.get("/deconnexion").get_data(as_text=True))})
    assert sign_in(client).headers["Location"] == "/connexion/code"
    assert second_step(client, code).status_code == 401
    assert second_step(client, pyotp.TOTP(secret).at(0)).status_code == 401


@pytest.mark.parametrize("body", [
    "[1, 2, 3]", '"mot de passe"', "null", "[" * 5000 + "]" * 5000, "{" + '"a":' * 3000,
    json.dumps({"password": ["liste"]}), json.dumps({"password": "x" * 1025}),
])
def test_the_gauge_answers_400_to_what_is_not_a_password(client, body):
    token = csrf_token(client.get("/connexion").get_data(as_text=True))
    response = client.post("/mot-de-passe/evaluer", data=body, content_type="application/json",
                           headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert "Mot de passe attendu" in response.get_json()["error"]


def test_forms_ignore_json_bodies(client, account):
    token = csrf_token(client.get("/connexion").get_data(as_text=True))
    for body in ("[1, 2]", "[[\"siret\", \"52814432200013\"]]", '{"siret": 1}'):
        response = client.post("/connexion", data=body, content_type="application/json",
                               headers={"X-CSRFToken": token})
        assert response.status_code == 400, body
        assert "Ce champ est obligatoire" in text(response)


def test_a_file_where_text_is_expected_is_a_missing_field(client, account):
    token = csrf_token(client.get("/connexion").get_data(as_text=True))
    response = client.post("/connexion", content_type="multipart/form-data", data={
        "csrf_token": token, "siret": (io.BytesIO(b"52814432200013"), "siret.txt"),
        "last_name": "Lefèvre", "first_name": "Sophie", "password": PASSWORD})
    assert response.status_code == 400
    assert "Ce champ est obligatoire" in text(response)


@pytest.mark.parametrize("field", ["last_name", "first_name", "password"])
def test_control_characters_are_refused(client, account, field):
    values = {"last_name": "Lefèvre", "first_name": "Sophie", "password": PASSWORD}
    values[field] += "\x00"
    response = sign_in(client, **values)
    assert response.status_code == 400
    assert "caractères non autorisés" in text(response)
    identify_page = client.get("/mot-de-passe-oublie").get_data(as_text=True)
    refused = client.post("/mot-de-passe-oublie", data={
        "csrf_token": csrf_token(identify_page), "siret": "52814432200013",
        "last_name": "Le\x00fèvre", "first_name": "Sophie"})
    assert refused.status_code == 400
    assert "caractères non autorisés" in text(refused)
