"""Welcome links (/compte/bienvenue/<token>): 7 days, single use even under simultaneous
requests, only the newest works, a refused password keeps the link usable."""

from __future__ import annotations

import html
from urllib.parse import urlsplit

import pytest
import requests

from idp.accounts.deps import welcome_links
from idp.accounts.models import Account, Role, Status
from idp.extensions import db
from tests.conftest import SIRET_SIEGE, csrf_token, free_port, make_account, serve, sign_in
from tests.races import at_once

NEW = "Bienvenue2027"
QUESTION = "Quel est votre plat préféré ?"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def pending(directory):
    """Léa, just added by her administrator: no password yet."""
    account = make_account(directory, last_name="Martin", first_name="Léa", role=Role.DECLARANT,
                           status=Status.PENDING_EMAIL)
    with directory.app_context():
        db.session.get(Account, account.id).password_hash = None
        db.session.commit()
    return account


def issue(app, account) -> str:
    """A welcome link's path for ``account``."""
    with app.test_request_context():
        link = welcome_links().issue(db.session.get(Account, account.id))
    return urlsplit(link).path


def choose(client, path, password=NEW, confirm=None, question=QUESTION):
    token = csrf_token(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, "new_password": password,
                                   "confirm_password": confirm or password,
                                   "secret_question": question,
                                   "secret_answer": "Gratin dauphinois"})


def status(app, account) -> Status:
    with app.app_context():
        return db.session.get(Account, account.id).status


def test_the_link_activates_once(app, client, pending):
    path = issue(app, pending)
    response = choose(client, path)
    assert response.status_code == 200 and "Compte activé" in text(response)
    assert status(app, pending) is Status.ACTIVE
    assert sign_in(client, last_name="Martin", first_name="Léa", password=NEW).status_code == 302
    again = app.test_client().get(path)
    assert again.status_code == 400 and "Lien invalide" in text(again)


@pytest.mark.parametrize(("password", "confirm", "question", "message"), [
    ("court", None, QUESTION, "Au moins 2 chiffres"),
    (NEW, "Autre2027x", QUESTION, "Les deux mots de passe diffèrent."),
    (NEW, None, "Quelle est la réponse ?", None),
])
def test_a_refused_form_keeps_the_link_usable(app, client, pending, password, confirm,
                                              question, message):
    path = issue(app, pending)
    refused = choose(client, path, password, confirm, question)
    assert refused.status_code == 400
    if message:
        assert message in text(refused)
    assert status(app, pending) is Status.PENDING_EMAIL
    assert choose(client, path).status_code == 200


def test_the_link_lasts_seven_days(app, client, pending, clock):
    path = issue(app, pending)
    clock.advance(7 * 24 * 3600 - 60)
    page = client.get(path)
    assert page.status_code == 200
    clock.advance(120)  # the form was opened in time, and sent too late
    late = client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                   "new_password": NEW, "confirm_password": NEW,
                                   "secret_question": QUESTION, "secret_answer": "Gratin"})
    assert late.status_code == 400 and "Lien invalide" in text(late)
    assert status(app, pending) is Status.PENDING_EMAIL


def test_only_the_newest_link_works(app, client, pending):
    old, new = issue(app, pending), issue(app, pending)
    assert client.get(old).status_code == 400
    assert choose(client, new).status_code == 200


def test_no_link_for_an_account_no_longer_pending(app, client, pending):
    path = issue(app, pending)
    with app.app_context():
        db.session.get(Account, pending.id).status = Status.REMOVED
        db.session.commit()
    assert client.get(path).status_code == 400
    assert client.get("/compte/bienvenue/inconnu").status_code == 400
    assert client.get("/compte/bienvenue/" + "a" * 200).status_code == 404


@pytest.fixture
def live_settings(settings):
    """The IdP's issuer is the loopback address it is served on."""
    settings["ISSUER"] = f"http://127.0.0.1:{free_port()}"
    return settings


def test_one_link_sent_at_once_activates_once(live_settings, app, pending):
    path = issue(app, pending)
    with serve(app) as base:
        browsers = [requests.Session() for _ in range(5)]
        tokens = [csrf_token(browser.get(f"{base}{path}").text) for browser in browsers]

        def post(browser, token, password):
            return lambda: browser.post(f"{base}{path}", data={
                "csrf_token": token, "new_password": password, "confirm_password": password,
                "secret_question": QUESTION, "secret_answer": "Gratin dauphinois"})

        results = at_once([post(b, t, f"Bienvenue{2030 + i}")
                           for i, (b, t) in enumerate(zip(browsers, tokens, strict=True))])
    assert sorted(r.status_code for r in results) == [200, 400, 400, 400, 400]
    assert sum("Compte activé" in r.text for r in results) == 1
    assert status(app, pending) is Status.ACTIVE
    winner = next(i for i, r in enumerate(results) if "Compte activé" in r.text)
    assert sign_in(app.test_client(), siret=SIRET_SIEGE, last_name="Martin", first_name="Léa",
                   password=f"Bienvenue{2030 + winner}").status_code == 302
