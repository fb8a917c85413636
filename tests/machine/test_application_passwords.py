"""Application passwords: created in « Sécurité de votre compte », shown once, accepted by
/authentifier/1.0/ only, revocable; with 2FA on, the only way software gets in."""

from __future__ import annotations

import html
import re

import pyotp
import requests
from sqlalchemy import select

from idp.accounts.application_passwords import MAX_PER_ACCOUNT
from idp.accounts.models import Account, ApplicationPassword
from idp.extensions import db
from tests.conftest import csrf_token, sign_in
from tests.machine.conftest import KARIM, SOPHIE, identifiants

PAGE = "/compte/securite/mots-de-passe-application"
SECRET = re.compile(r'id="application-password"><code>([a-z0-9-]+)</code>')


def signed_in_as(issuer, person: dict) -> requests.Session:
    browser = requests.Session()
    answer = sign_in(browser, f"{issuer}/connexion", siret=person["siret"],
                     last_name=person["nom"], first_name=person["prenom"],
                     password=person["motdepasse"])
    assert answer.status_code == 302, answer.text
    return browser


def create(browser, issuer, name="Logiciel de paie", password=None) -> requests.Response:
    page = browser.get(issuer + PAGE)
    return browser.post(issuer + PAGE, data={"csrf_token": csrf_token(page.text), "name": name,
                                             "password": password or SOPHIE["motdepasse"]})


def created_secret(browser, issuer, name="Logiciel de paie") -> str:
    answer = create(browser, issuer, name)
    assert answer.status_code == 200, answer.text
    return SECRET.search(answer.text).group(1)


def shown(answer: requests.Response) -> str:
    """The page's text as a person reads it (apostrophes unescaped)."""
    return html.unescape(answer.text)


def with_password(person: dict, secret: str) -> dict:
    return {**person, "motdepasse": secret}


def test_created_shown_once_listed_and_accepted_by_software(issuer, software, demo):
    browser = signed_in_as(issuer, SOPHIE)
    assert "Mots de passe d'application" in shown(browser.get(f"{issuer}/compte/securite"))
    secret = created_secret(browser, issuer)
    assert re.fullmatch(r"([a-z2-9]{4}-){4}[a-z2-9]{4}", secret)
    listing = browser.get(issuer + PAGE).text
    assert "Logiciel de paie" in listing and "Jamais" in listing and secret not in listing
    assert software(identifiants(with_password(SOPHIE, secret))).status_code == 200
    # Kept by the software with spaces instead of dashes, or in capitals: the same secret.
    spaced = secret.replace("-", " ").upper()
    assert software(identifiants(with_password(SOPHIE, spaced))).status_code == 200
    assert "Jamais" not in browser.get(issuer + PAGE).text  # last use shown
    with demo.app_context():
        stored = db.session.scalars(select(ApplicationPassword)).one()
        assert secret not in stored.secret_hash and len(stored.secret_hash) == 64


def test_refused_on_the_sign_in_form(issuer):
    secret = created_secret(signed_in_as(issuer, SOPHIE), issuer)
    answer = sign_in(requests.Session(), f"{issuer}/connexion", password=secret)
    assert answer.status_code == 401


def test_another_persons_secret_does_not_open_this_account(issuer, software):
    secret = created_secret(signed_in_as(issuer, SOPHIE), issuer)
    assert software(identifiants(with_password(KARIM, secret))).status_code == 401


def test_revoked_it_no_longer_works(issuer, software):
    browser = signed_in_as(issuer, SOPHIE)
    secret = created_secret(browser, issuer)
    page = browser.get(issuer + PAGE).text
    action = re.search(r'action="(/compte/securite/mots-de-passe-application/\d+/revoquer)"',
                       page).group(1)
    answer = browser.post(issuer + action, data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 200
    assert "Le mot de passe d'application « Logiciel de paie » est révoqué." in shown(answer)
    assert software(identifiants(with_password(SOPHIE, secret))).status_code == 401
    again = browser.post(issuer + action, data={"csrf_token": csrf_token(page)})
    assert "n'existe pas ou a déjà été révoqué" in shown(again)


def test_one_cannot_revoke_another_persons(issuer, software, demo):
    sophie = signed_in_as(issuer, SOPHIE)
    secret = created_secret(sophie, issuer)
    with demo.app_context():
        row_id = db.session.scalars(select(ApplicationPassword.id)).one()
    karim = signed_in_as(issuer, KARIM)
    page = karim.get(issuer + PAGE).text
    answer = karim.post(f"{issuer}{PAGE}/{row_id}/revoquer", data={"csrf_token": csrf_token(page)})
    assert "n'existe pas ou a déjà été révoqué" in shown(answer)
    assert software(identifiants(with_password(SOPHIE, secret))).status_code == 200


def test_creation_needs_the_current_password_a_name_and_the_csrf_token(issuer, demo):
    browser = signed_in_as(issuer, SOPHIE)
    wrong = create(browser, issuer, password="Mauvais2026")
    assert wrong.status_code == 400 and "Le mot de passe actuel est incorrect." in shown(wrong)
    nameless = create(browser, issuer, name="")
    assert nameless.status_code == 400
    forged = browser.post(issuer + PAGE, data={"name": "x", "password": SOPHIE["motdepasse"]})
    assert forged.status_code == 400
    with demo.app_context():
        assert db.session.scalars(select(ApplicationPassword)).all() == []


def test_at_most_twenty_per_account(issuer):
    browser = signed_in_as(issuer, SOPHIE)
    for index in range(MAX_PER_ACCOUNT):
        assert create(browser, issuer, name=f"Poste {index}").status_code == 200
    refused = create(browser, issuer, name="Un de trop")
    assert refused.status_code == 400 and "révoquez-en un" in shown(refused)


def test_with_two_factor_only_application_passwords_reach_software(issuer, software, demo):
    browser = signed_in_as(issuer, SOPHIE)
    secret = created_secret(browser, issuer)
    with demo.app_context():
        account = db.session.scalar(select(Account).where(Account.first_name == "Sophie"))
        account.totp_secret = pyotp.random_base32()
        db.session.commit()
    own = software(identifiants(SOPHIE))
    wrong = software(identifiants({**SOPHIE, "motdepasse": "Mauvais2026"}))
    assert own.status_code == wrong.status_code == 401 and own.text == wrong.text
    assert software(identifiants(with_password(SOPHIE, secret))).status_code == 200
    assert "seuls les mots de passe d'application" in shown(browser.get(issuer + PAGE))


def test_page_in_english(issuer):
    browser = signed_in_as(issuer, SOPHIE)
    page = browser.get(f"{issuer}{PAGE}?lang=en").text
    assert "Application passwords" in page
