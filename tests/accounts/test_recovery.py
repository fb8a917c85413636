"""« Mot de passe oublié ? »: question, e-mail link, administrators, support; same answers
for unknown accounts."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from idp.accounts.deps import password_hasher
from idp.accounts.models import Account, Role
from idp.accounts.security import answer_key
from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.conftest import SIRET_SIEGE, csrf_token, make_account
from tests.conftest import sign_in as fill_login

NEW = "Retrouve2027"
QUESTION = "Quel est votre plat préféré ?"


@pytest.fixture
def with_question(account, app):
    with app.app_context():
        stored = db.session.get(Account, account.id)
        stored.secret_question = QUESTION
        stored.secret_answer_hash = password_hasher().hash(answer_key("Gratin dauphinois"))
        db.session.commit()
    return account


def text(response):
    return html.unescape(response.get_data(as_text=True))


def identify(client, last_name="Lefèvre", first_name="Sophie", siret=SIRET_SIEGE):
    page = client.get("/mot-de-passe-oublie").get_data(as_text=True)
    response = client.post("/mot-de-passe-oublie", data={
        "csrf_token": csrf_token(page), "siret": siret, "last_name": last_name,
        "first_name": first_name})
    assert response.headers["Location"] == "/mot-de-passe-oublie/choix"
    return client.get("/mot-de-passe-oublie/choix")


def answer(client, reply, password=NEW):
    token = csrf_token(client.get("/mot-de-passe-oublie/choix").get_data(as_text=True))
    return client.post("/mot-de-passe-oublie/question", data={
        "csrf_token": token, "answer": reply, "new_password": password,
        "confirm_password": password})


def press(client, path):
    token = csrf_token(client.get("/mot-de-passe-oublie/choix").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token})


def test_choice_page_shows_the_three_ways(client, with_question):
    page = text(identify(client))
    assert QUESTION in page
    assert "s****@e****.fr" in page  # sophie@example.fr, masked
    assert "Réinitialiser le mot de passe par courrier électronique" in page
    assert "Envoyer la demande aux administrateurs" in page


def test_right_answer_sets_the_new_password_at_once(client, app, with_question, mailbox):
    other_device = app.test_client()
    fill_login(other_device)
    identify(client)
    done = answer(client, "  GRATIN Dauphinóis ")  # case, accents and spaces do not matter
    assert done.status_code == 200 and "Votre nouveau mot de passe est enregistré" in text(done)
    assert other_device.get("/compte").status_code == 302  # its session ended
    assert fill_login(app.test_client(), password=NEW).status_code == 302
    assert "nouveau mot de passe" in mailbox.text(mailbox.messages[-1])


def test_new_password_must_follow_the_policy(client, with_question):
    identify(client)
    response = answer(client, "Gratin dauphinois", password="faible")
    assert response.status_code == 400
    assert "Au moins 2 chiffres" in text(response)


LOCK_MESSAGE = ("Au-delà de 5 réponses erronées, un délai d'attente de 60 minutes vous est "
                "demandé. Réessayez dans 1 heure.")


def test_five_wrong_answers_cost_sixty_minutes(client, with_question):
    identify(client)
    for _ in range(4):
        wrong = answer(client, "Pot-au-feu")
        assert "La réponse à la question secrète est incorrecte." in text(wrong)
    fifth = answer(client, "Pot-au-feu")  # the lock is announced at once
    assert fifth.status_code == 429
    assert LOCK_MESSAGE in text(fifth).replace("\xa0", " ")
    locked = answer(client, "Gratin dauphinois")
    assert locked.status_code == 429
    assert LOCK_MESSAGE in text(locked).replace("\xa0", " ")


def test_unknown_person_gets_the_same_journey(client, app, with_question, mailbox):
    page = text(identify(client, last_name="Inconnu", first_name="Paul"))
    assert re.search(r"<strong>[^<]+ \?</strong>", page)  # a question is shown all the same
    assert re.search(r"[a-z]\*\*\*\*@[a-z]\*\*\*\*\.[a-z]+", page)
    wrong = answer(client, "Gratin dauphinois")
    assert wrong.status_code == 401
    assert "La réponse à la question secrète est incorrecte." in text(wrong)
    for path, message in (("/mot-de-passe-oublie/courriel", "Si les informations saisies"),
                          ("/mot-de-passe-oublie/administrateur", "Votre demande a été")):
        response = press(client, path)
        assert response.status_code == 200 and message in text(response)
    assert mailbox.messages == []
    # The decoy is stable: the same person sees the same question again.
    assert text(identify(client, last_name="Inconnu", first_name="Paul")) \
        .count("<strong>") == page.count("<strong>")


def test_email_link_resets_once(client, app, account, mailbox):
    identify(client)
    response = press(client, "/mot-de-passe-oublie/courriel")
    assert "transmis à l'adresse s****@e****.fr" in text(response)
    [message] = mailbox.to("sophie@example.fr")
    link = mailbox.link(message).replace("http://localhost", "")
    assert "/mot-de-passe-oublie/lien/" in link
    page = client.get(link)
    assert page.status_code == 200
    done = client.post(link, data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                   "new_password": NEW, "confirm_password": NEW})
    assert "Votre nouveau mot de passe est enregistré" in text(done)
    assert client.get(link).status_code == 400  # used
    assert fill_login(app.test_client(), password=NEW).status_code == 302


def test_a_newer_link_retires_the_older_one(client, account, mailbox):
    identify(client)
    press(client, "/mot-de-passe-oublie/courriel")
    press(client, "/mot-de-passe-oublie/courriel")
    first, second = (mailbox.link(m).replace("http://localhost", "") for m in mailbox.messages)
    assert client.get(first).status_code == 400
    assert client.get(second).status_code == 200


def test_a_password_change_retires_the_link(client, app, with_question, mailbox):
    identify(client)
    press(client, "/mot-de-passe-oublie/courriel")
    link = mailbox.link(mailbox.messages[-1]).replace("http://localhost", "")
    answer(client, "Gratin dauphinois")  # the password changes another way
    assert client.get(link).status_code == 400


@pytest.fixture
def short_links(settings):
    settings["RESET_LINK_SECONDS"] = 1
    return settings


def test_links_expire(short_links, app, account, mailbox, clock):
    client = app.test_client()
    identify(client)
    press(client, "/mot-de-passe-oublie/courriel")
    link = mailbox.link(mailbox.messages[-1]).replace("http://localhost", "")
    clock.advance(1.5)
    assert "plus valide" in text(client.get(link))


@pytest.fixture
def colleague(account, directory):
    """A declarant of the same establishment, who forgot their password."""
    return make_account(directory, last_name="Martin", first_name="Léa",
                        role=Role.DECLARANT)


def test_administrator_sends_the_link(client, app, colleague, mailbox):
    identify(client, last_name="Martin", first_name="Léa")
    press(client, "/mot-de-passe-oublie/administrateur")
    [to_admin] = mailbox.to("sophie@example.fr")
    assert "Léa Martin" in mailbox.text(to_admin)

    admin = app.test_client()
    fill_login(admin)
    page = text(admin.get("/gestion/demandes"))
    assert "Léa Martin, demandée le" in page
    action = re.search(r'action="(/gestion/demandes/\d+/lien)"', page).group(1)
    done = admin.post(action, data={"csrf_token": csrf_token(page)})
    assert done.status_code == 302
    assert "Aucune demande en attente." in text(admin.get("/gestion/demandes"))
    [to_lea] = mailbox.to("lea@example.fr")
    link = mailbox.link(to_lea).replace("http://localhost", "")
    assert client.get(link).status_code == 200


def test_administrator_refuses_and_the_person_is_told(client, app, colleague, mailbox):
    identify(client, last_name="Martin", first_name="Léa")
    press(client, "/mot-de-passe-oublie/administrateur")
    admin = app.test_client()
    fill_login(admin)
    page = text(admin.get("/gestion/demandes"))
    action = re.search(r'action="(/gestion/demandes/\d+/refus)"', page).group(1)
    admin.post(action, data={"csrf_token": csrf_token(page)})
    [refusal] = mailbox.to("lea@example.fr")
    assert "a refusé votre demande" in mailbox.text(refusal)


def test_declarants_cannot_handle_requests(client, colleague):
    fill_login(client, last_name="Martin", first_name="Léa")
    assert client.get("/gestion/demandes").status_code == 403


def test_support_command_sends_the_link_and_journals_it(app, account, mailbox):
    result = app.test_cli_runner().invoke(args=["idp", "account", "reset-link", SIRET_SIEGE,
                                                "LEFEVRE", "sophie"])
    assert result.exit_code == 0, result.output
    assert "Lien envoyé à s****@e****.fr." in result.output
    assert len(mailbox.to("sophie@example.fr")) == 1
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "password.reset_link_support")).one()
        assert event.outcome == "success" and event.ip == "cli"
    missing = app.test_cli_runner().invoke(args=["idp", "account", "reset-link", SIRET_SIEGE,
                                                 "Personne", "Paul"])
    assert missing.exit_code != 0 and "aucun compte" in missing.output
