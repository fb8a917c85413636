"""TOTP enrolment, sign-in with a code, replay, recovery codes, throttling, disabling."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from idp.accounts.models import Account
from idp.extensions import db
from tests.accounts.test_login import alert
from tests.conftest import PASSWORD, csrf_token
from tests.conftest import sign_in as fill_login


def enrol(client):
    """Enrol as a person does: read the key on the page, type the current code."""
    page = client.get("/compte/securite/double-authentification").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1)
    secret = secret.replace(" ", "")
    assert "<svg" in page  # the QR code
    done = client.post("/compte/securite/double-authentification", data={
        "csrf_token": csrf_token(page), "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = re.findall(r"<li>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</li>",
                       done.get_data(as_text=True))
    return secret, codes


def next_code(secret):
    """The code of the next time step: the current one was spent at enrolment."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def second_step(client, code):
    page = client.get("/connexion/code").get_data(as_text=True)
    return client.post("/connexion/code", data={"csrf_token": csrf_token(page), "code": code})


@pytest.fixture
def enrolled(signed_in, mailbox):
    secret, codes = enrol(signed_in)
    signed_in.post("/deconnexion", data={"csrf_token": csrf_token(
        signed_in.get("/deconnexion").get_data(as_text=True))})
    return secret, codes


def test_enrolment_shows_ten_recovery_codes_once(signed_in, app, mailbox, account):
    secret, codes = enrol(signed_in)
    assert len(codes) == 10 and len(set(codes)) == 10
    with app.app_context():
        stored = db.session.get(Account, account.id)
        assert stored.totp_secret == secret
        hashes = [c.code_hash for c in stored.recovery_codes]
        # HMAC-SHA-256 under the app secret: 64 hex digits, never the code itself.
        assert len(hashes) == 10 and all(len(h) == 64 for h in hashes)
        assert not any(code in repr(hashes) for code in codes)
    page = signed_in.get("/compte/securite").get_data(as_text=True)
    assert "Codes de secours restants : 10" in page
    assert codes[0] not in page  # never shown again
    assert "double authentification activée" in mailbox.text(mailbox.messages[-1])


def test_wrong_first_code_does_not_enable(signed_in, app, account):
    page = signed_in.get("/compte/securite/double-authentification").get_data(as_text=True)
    response = signed_in.post("/compte/securite/double-authentification", data={
        "csrf_token": csrf_token(page), "code": "000000"})
    assert response.status_code == 400
    assert "Code incorrect" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Account, account.id).totp_secret is None


def test_sign_in_asks_for_the_code_and_the_pending_state_is_not_a_session(client, enrolled):
    secret, _ = enrolled
    first = fill_login(client)
    assert first.headers["Location"] == "/connexion/code"
    assert client.get("/compte").status_code == 302  # not signed in between the steps
    done = second_step(client, next_code(secret))
    assert done.status_code == 302 and done.headers["Location"] == "/compte"
    assert client.get("/compte").status_code == 200


def test_a_code_cannot_be_replayed(client, app, enrolled):
    secret, _ = enrolled
    code = next_code(secret)
    fill_login(client)
    assert second_step(client, code).status_code == 302
    other = app.test_client()
    fill_login(other)
    replay = second_step(other, code)
    assert replay.status_code == 401
    assert "Code incorrect ou déjà utilisé." in alert(replay)


def test_codes_of_the_neighbour_steps_are_accepted_but_not_older(client, app, enrolled,
                                                                  account):
    secret, _ = enrolled
    totp = pyotp.TOTP(secret)
    with app.app_context():  # as if the last code was used ten minutes ago
        stored = db.session.get(Account, account.id)
        stored.totp_last_step = int(time.time()) // 30 - 20
        db.session.commit()
    fill_login(client)
    assert second_step(client, totp.at(time.time() - 30)).status_code == 302
    other = app.test_client()
    fill_login(other)
    assert second_step(other, totp.at(time.time() - 90)).status_code == 401
    # Nor the code just before the last one used.
    assert second_step(other, totp.at(time.time() - 60)).status_code == 401


def test_a_recovery_code_works_once(client, app, enrolled):
    _, codes = enrolled
    fill_login(client)
    assert second_step(client, codes[3].lower().replace("-", " ")).status_code == 302
    other = app.test_client()
    fill_login(other)
    assert second_step(other, codes[3]).status_code == 401
    assert "Codes de secours restants : 9" in client.get("/compte/securite") \
        .get_data(as_text=True)


def test_second_step_is_throttled(client, enrolled):
    secret, _ = enrolled
    fill_login(client)
    for _ in range(4):
        assert second_step(client, "123456").status_code == 401
    fifth = second_step(client, "123456")
    assert "Veuillez patienter 30 secondes" in alert(fifth)
    blocked = second_step(client, next_code(secret))
    assert blocked.status_code == 429


def test_disabling_needs_the_password_and_a_code(client, app, enrolled, account):
    secret, codes = enrolled
    fill_login(client)
    second_step(client, codes[0])
    page = client.get("/compte/securite").get_data(as_text=True)
    token = csrf_token(page)
    wrong_password = client.post("/compte/securite/double-authentification/desactiver",
                                 data={"off-csrf_token": token, "off-password": "Faux1234ab",
                                       "off-code": next_code(secret)})
    assert "Le mot de passe actuel est incorrect." in wrong_password.get_data(as_text=True) \
        .replace("&#39;", "'")
    wrong_code = client.post("/compte/securite/double-authentification/desactiver",
                             data={"off-csrf_token": token, "off-password": PASSWORD,
                                   "off-code": "000000"})
    assert wrong_code.status_code == 400
    done = client.post("/compte/securite/double-authentification/desactiver",
                       data={"off-csrf_token": token, "off-password": PASSWORD,
                             "off-code": next_code(secret)})
    assert done.status_code == 302
    with app.app_context():
        stored = db.session.get(Account, account.id)
        assert stored.totp_secret is None and stored.recovery_codes == []
    assert fill_login(app.test_client()).headers["Location"] == "/compte"


def test_journal_records_second_factor_attempts(client, app, enrolled, account):
    fill_login(client)
    second_step(client, "000000")
    from idp.audit.models import AuditEvent

    with app.app_context():
        outcomes = db.session.scalars(select(AuditEvent.outcome).where(
            AuditEvent.action == "login.second_factor")).all()
    assert outcomes == ["failure"]
