"""« Sécurité de votre compte »: password, secret question, e-mail, last sign-ins."""

from __future__ import annotations

import html

from idp.accounts.models import Account
from idp.extensions import db
from tests.conftest import PASSWORD, csrf_token
from tests.conftest import sign_in as fill_login

NEW_PASSWORD = "Nouveau2027x"


def post(client, path, prefix, **fields):
    token = csrf_token(client.get("/compte/securite").get_data(as_text=True))
    data = {f"{prefix}-csrf_token": token}
    data.update({f"{prefix}-{name}": value for name, value in fields.items()})
    return client.post(path, data=data)


def text(response):
    return html.unescape(response.get_data(as_text=True))


def test_security_page_lists_the_last_sign_ins(signed_in):
    page = text(signed_in.get("/compte/securite"))
    for heading in ("Modifier votre mot de passe", "Double authentification",
                    "Modifier votre question secrète", "Modifier votre adresse électronique",
                    "Vos dernières connexions"):
        assert heading in page
    assert "Réussie" in page and "127.0.0.1" in page
    assert "Caractères spéciaux acceptés" in page


def test_password_change_needs_the_current_one(signed_in):
    response = post(signed_in, "/compte/securite/mot-de-passe", "pw",
                    current_password="Faux1234ab", new_password=NEW_PASSWORD,
                    confirm_password=NEW_PASSWORD)
    assert response.status_code == 400
    assert "Le mot de passe actuel est incorrect." in text(response)


def test_password_change_follows_the_policy_and_confirmation(signed_in):
    weak = post(signed_in, "/compte/securite/mot-de-passe", "pw", current_password=PASSWORD,
                new_password="faible", confirm_password="faible")
    assert weak.status_code == 400
    assert "Au moins 2 chiffres" in text(weak) and "Mélange majuscules" in text(weak)
    mismatch = post(signed_in, "/compte/securite/mot-de-passe", "pw",
                    current_password=PASSWORD, new_password=NEW_PASSWORD,
                    confirm_password=NEW_PASSWORD + "x")
    assert "Les deux mots de passe diffèrent." in text(mismatch)


def test_password_change_mails_the_holder_and_ends_other_sessions(signed_in, app, mailbox):
    other_device = app.test_client()
    assert fill_login(other_device).status_code == 302
    response = post(signed_in, "/compte/securite/mot-de-passe", "pw",
                    current_password=PASSWORD, new_password=NEW_PASSWORD,
                    confirm_password=NEW_PASSWORD)
    assert response.status_code == 302
    assert "Votre mot de passe a été modifié." in text(signed_in.get("/compte/securite"))
    assert signed_in.get("/compte").status_code == 200      # this session stays
    assert other_device.get("/compte").status_code == 302   # the other one is over
    [message] = mailbox.to("sophie@example.fr")
    assert message["Subject"] == "Modification de votre compte net-entreprises.fr"
    assert "nouveau mot de passe" in mailbox.text(message)
    assert NEW_PASSWORD not in mailbox.text(message)
    assert fill_login(app.test_client(), password=NEW_PASSWORD).status_code == 302
    assert fill_login(app.test_client(), password=PASSWORD).status_code == 401


def test_secret_question_is_stored_hashed(signed_in, app, account, mailbox):
    response = post(signed_in, "/compte/securite/question-secrete", "sq", password=PASSWORD,
                    question="Quel est votre plat préféré ?", answer="Gratin dauphinois")
    assert response.status_code == 302
    with app.app_context():
        stored = db.session.get(Account, account.id)
        assert stored.secret_question == "Quel est votre plat préféré ?"
        assert stored.secret_answer_hash.startswith("$argon2id$")
        assert "gratin" not in stored.secret_answer_hash.lower()
    assert "nouvelle question secrète" in mailbox.text(mailbox.messages[-1])
    page = text(signed_in.get("/compte/securite"))
    assert "Question actuelle : Quel est votre plat préféré ?" in page
    assert '<option selected value="Quel est votre plat préféré ?">' in page


def test_security_page_says_when_no_secret_question_was_chosen(signed_in):
    page = text(signed_in.get("/compte/securite"))
    assert "Vous n'avez pas encore choisi de question secrète." in page


def test_secret_question_must_be_from_the_list(signed_in):
    response = post(signed_in, "/compte/securite/question-secrete", "sq", password=PASSWORD,
                    question="Question inventée ?", answer="Réponse")
    assert response.status_code == 400
    assert 'id="sq-question-error">N\'est pas un choix valide.' in text(response)


def test_email_change_takes_effect_once_the_new_address_confirms(signed_in, app, account,
                                                                 mailbox):
    response = post(signed_in, "/compte/securite/courriel", "em", password=PASSWORD,
                    email="sophie.nouvelle@example.org",
                    confirm_email="sophie.nouvelle@example.org")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Account, account.id).email == "sophie@example.fr"
    [confirmation] = mailbox.to("sophie.nouvelle@example.org")
    link = mailbox.link(confirmation)
    opened = signed_in.get(link.replace("http://localhost", ""))
    assert opened.status_code == 200
    assert "sophie.nouvelle@example.org est enregistrée" in text(opened)
    with app.app_context():
        stored = db.session.get(Account, account.id)
        assert stored.email == "sophie.nouvelle@example.org" and stored.email_verified
    [notice] = mailbox.to("sophie@example.fr")
    assert "remplacée par sophie.nouvelle@example.org" in mailbox.text(notice)
    # The link works once.
    assert signed_in.get(link.replace("http://localhost", "")).status_code == 400


def test_email_change_refuses_bad_addresses(signed_in):
    response = post(signed_in, "/compte/securite/courriel", "em", password=PASSWORD,
                    email="pas-une-adresse", confirm_email="pas-une-adresse")
    assert response.status_code == 400
    assert "Adresse électronique invalide" in text(response)


def test_security_page_needs_sign_in(client):
    response = client.get("/compte/securite")
    assert response.headers["Location"] == "/connexion?next=/compte/securite"
