"""Single use under truly simultaneous requests, against a live server: one TOTP code, one
recovery code, one reset link, one administrator decision — exactly one success each."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from idp.accounts.models import PasswordResetRequest, Role
from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.accounts.test_recovery import identify, press
from tests.accounts.test_two_factor import enrol, next_code
from tests.conftest import (
    PASSWORD,
    SIRET_SIEGE,
    csrf_token,
    free_port,
    make_account,
    serve,
    sign_in,
)
from tests.races import at_once

RACERS = 6


@pytest.fixture
def settings(settings):
    """The IdP's issuer is the loopback address it is served on."""
    settings["ISSUER"] = f"http://127.0.0.1:{free_port()}"
    return settings


@pytest.fixture
def live(app, account):
    """The IdP over real HTTP (threaded), with Sophie's account."""
    with serve(app) as base:
        yield base


@pytest.fixture
def enrolled(live, app):
    """Sophie has 2FA on; returns her TOTP secret and recovery codes."""
    client = app.test_client()
    assert sign_in(client).status_code == 302
    return enrol(client)


def half_signed_in(live) -> tuple[requests.Session, str]:
    """A browser past the password step, and the CSRF token of the code page."""
    browser = requests.Session()
    response = sign_in(browser, f"{live}/connexion")
    assert response.headers["Location"] == "/connexion/code"
    return browser, csrf_token(browser.get(f"{live}/connexion/code").text)


def send_code_at_once(live, code) -> list[int]:
    browsers = [half_signed_in(live) for _ in range(RACERS)]

    def post(browser, token):
        return lambda: browser.post(f"{live}/connexion/code", allow_redirects=False,
                                    data={"csrf_token": token, "code": code})

    results = at_once([post(browser, token) for browser, token in browsers])
    return [r.status_code for r in results]


def journal_count(app, action, outcome="success") -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.outcome == outcome))


def test_one_totp_code_lets_one_session_in(live, enrolled):
    secret, _ = enrolled
    statuses = send_code_at_once(live, next_code(secret))
    assert sorted(statuses) == [302] + [401] * (RACERS - 1), statuses


def test_one_recovery_code_lets_one_session_in(live, enrolled, app):
    _, codes = enrolled
    statuses = send_code_at_once(live, codes[0])
    assert sorted(statuses) == [302] + [401] * (RACERS - 1), statuses
    before = journal_count(app, "login.second_factor")
    assert send_code_at_once(live, codes[0]).count(302) == 0  # and never again
    assert journal_count(app, "login.second_factor") == before


def test_one_reset_link_sets_the_password_once(live, app, mailbox):
    client = app.test_client()
    identify(client)
    press(client, "/mot-de-passe-oublie/courriel")
    link = mailbox.link(mailbox.messages[-1]).replace("http://localhost", live)
    browsers = [requests.Session() for _ in range(5)]
    tokens = [csrf_token(browser.get(link).text) for browser in browsers]

    def post(browser, token, password):
        return lambda: browser.post(link, data={
            "csrf_token": token, "new_password": password, "confirm_password": password})

    results = at_once([post(b, t, f"Nouveau{2030 + i}") for i, (b, t)
                       in enumerate(zip(browsers, tokens, strict=True))])
    assert sorted(r.status_code for r in results) == [200, 400, 400, 400, 400]
    assert sum("Mot de passe modifié" in r.text for r in results) == 1
    assert journal_count(app, "password.reset_link_used") == 1
    # The old password is gone; exactly one of the new ones works.
    assert sign_in(requests.Session(), f"{live}/connexion", password=PASSWORD).status_code == 401


def test_two_decisions_on_one_request_make_one(live, app, mailbox):
    requester = make_account(app, last_name="Garnier", first_name="Paul", role=Role.DECLARANT)
    with app.app_context():
        request = PasswordResetRequest(account_id=requester.id, siret=SIRET_SIEGE)
        db.session.add(request)
        db.session.commit()
        request_id = request.id
    browsers = []
    for _ in range(RACERS):
        browser = requests.Session()
        assert sign_in(browser, f"{live}/connexion").status_code == 302
        browsers.append((browser, csrf_token(browser.get(f"{live}/gestion/demandes").text)))

    def decide(browser, token):
        return lambda: browser.post(f"{live}/gestion/demandes/{request_id}/lien",
                                    data={"csrf_token": token}, allow_redirects=False)

    results = at_once([decide(b, t) for b, t in browsers])
    assert sorted(r.status_code for r in results) == [302] + [404] * (RACERS - 1)
    assert len(mailbox.to("paul@example.fr")) == 1
