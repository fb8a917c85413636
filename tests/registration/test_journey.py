"""The « inscription » journey, end to end through HTTP, with the mail caught by a real SMTP
server and the letters read from the letters outbox."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.accounts.models import Account, Status
from idp.audit.models import AuditEvent
from idp.extensions import db
from idp.habilitations.models import Habilitation, Subscription
from idp.models_common import utcnow
from idp.registration.models import AdminCandidacy, Registration
from tests.conftest import csrf_token
from tests.conftest import sign_in as fill_login
from tests.registration.conftest import (
    BOULANGERIE,
    PASSWORD,
    details,
    letter_text,
    post,
    walk,
)


def text(response):
    return html.unescape(response.get_data(as_text=True)).replace("\xa0", " ")


@pytest.fixture
def letters(settings):
    """Where the postal letters (PDF) are written."""
    return Path(settings["LETTERS_DIR"])


def validation_link(mailbox, email):
    [message] = mailbox.to(email)
    assert message["Subject"] == "Validez votre inscription à net-entreprises.fr"
    return mailbox.link(message).replace("http://localhost", "")


def test_a_new_company_registers_its_first_administrator(client, app, directory, mailbox,
                                                         letters):
    done = walk(client)
    assert done.status_code == 200
    page = text(done)
    assert "Votre inscription est enregistrée" in page and BOULANGERIE in page
    pdf = client.get("/inscription/compte-rendu.pdf")
    assert pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"

    # Before validation, no sign-in.
    refused = fill_login(app.test_client(), siret=BOULANGERIE, last_name="Martin",
                         first_name="Paul", password=PASSWORD)
    assert refused.status_code == 403
    assert "pas encore été validée" in text(refused)

    link = validation_link(mailbox, "paul.martin@boulangerie.example")
    validated = client.get(link)
    assert "vous pouvez vous connecter" in text(validated)
    assert client.get(link).status_code == 400  # once
    assert fill_login(app.test_client(), siret=BOULANGERIE, last_name="MARTIN",
                      first_name="paul", password=PASSWORD).status_code == 302

    with app.app_context():
        account = db.session.scalars(select(Account).where(Account.siret == BOULANGERIE)).one()
        assert account.status is Status.ACTIVE and account.is_administrator
        assert account.email_verified
        subscription = db.session.scalars(select(Subscription).where(
            Subscription.siret == BOULANGERIE)).one()
        assert subscription.service_code == "DSN"
        grants = db.session.scalars(select(Habilitation).where(
            Habilitation.account_id == account.id)).all()
        assert [(g.service_code, g.rights) for g in grants] == [("DSN", 3)]
        # Effective after the service's access delay (24 hours).
        delay = grants[0].effective_from - utcnow()
        assert timedelta(hours=23) < delay <= timedelta(hours=24)
    [letter] = Path(letters).glob("*representant-legal-81234567600017*.pdf")
    content = letter_text(letter)
    assert "repr\xe9sentant l\xe9gal" in content and "BOULANGERIE MARTIN" in content


def test_every_step_is_journaled(client, app, directory, mailbox, letters):
    walk(client)
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.action.like("registration.%")).order_by(AuditEvent.id)).all()
    assert actions == ["registration.details", "registration.step2", "registration.step3",
                       "registration.step4", "registration.step5", "registration.step6",
                       "registration.step7", "registration.completed"]


@pytest.fixture
def second_admin(client, app, account, mailbox, letters):
    """Sophie administers Transports Lefèvre; Jean registers its Villeurbanne site."""
    walk(client, siret="52814432200021", last_name="Dupont", first_name="Jean",
         email="jean.dupont@transports.example")
    client.get(validation_link(mailbox, "jean.dupont@transports.example"))
    return app


def test_a_second_administrator_becomes_a_candidate(second_admin, app, mailbox):
    with app.app_context():
        jean = db.session.scalars(select(Account).where(Account.last_name == "Dupont")).one()
        assert jean.status is Status.CANDIDATE_ADMIN
    [to_sophie] = mailbox.to("sophie@example.fr")
    assert "Jean Dupont" in mailbox.text(to_sophie)
    assert "Demandes en attente" in mailbox.text(to_sophie)


def decide(app, decision):
    sophie = app.test_client()
    fill_login(sophie)
    page = text(sophie.get("/gestion/administrateurs"))
    assert "Jean Dupont (SIRET 52814432200021)" in page
    action = re.search(rf'action="(/gestion/administrateurs/\d+/{decision})"', page).group(1)
    assert sophie.post(action, data={"csrf_token": csrf_token(page)}).status_code == 302
    return sophie


def test_cooptation_accepted(second_admin, app, mailbox):
    sophie = decide(app, "accord")
    assert "Aucune demande en attente." in text(sophie.get("/gestion/administrateurs"))
    with app.app_context():
        jean = db.session.scalars(select(Account).where(Account.last_name == "Dupont")).one()
        assert jean.status is Status.ACTIVE
    [told] = mailbox.to("jean.dupont@transports.example")[1:]
    assert "a accepté votre demande" in mailbox.text(told)


def test_cooptation_refused(second_admin, app, mailbox):
    decide(app, "refus")
    with app.app_context():
        jean = db.session.scalars(select(Account).where(Account.last_name == "Dupont")).one()
        assert jean.status is Status.REMOVED
    [told] = mailbox.to("jean.dupont@transports.example")[1:]
    assert "a refusé votre demande" in mailbox.text(told)


def test_activation_key_from_the_letter(second_admin, app, letters):
    [letter] = Path(letters).glob("*cle-activation-52814432200021*.pdf")
    key = re.search(r"[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}", letter_text(letter)).group(0)
    jean = app.test_client()
    assert fill_login(jean, siret="52814432200021", last_name="Dupont", first_name="Jean",
                      password=PASSWORD).status_code == 302
    assert "Saisir la clé d'activation" in text(jean.get("/compte"))
    wrong = post(jean, "/compte/activation", key="0000-0000-0000")
    assert wrong.status_code == 400 and "n'est pas reconnue" in text(wrong)
    right = post(jean, "/compte/activation", key=key.lower().replace("-", " "))
    assert right.status_code == 302
    with app.app_context():
        assert db.session.scalars(select(Account.status).where(
            Account.last_name == "Dupont")).one() is Status.ACTIVE


def test_candidacy_expires_after_fifteen_days(second_admin, app):
    with app.app_context():
        candidacy = db.session.scalars(select(AdminCandidacy)).one()
        candidacy.created_at = utcnow() - timedelta(days=16)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["idp", "purge"])
    assert "1 candidature(s) d'administrateur expirée(s)" in result.output
    with app.app_context():
        assert db.session.scalars(select(Account.status).where(
            Account.last_name == "Dupont")).one() is Status.REMOVED
        assert db.session.scalars(select(AdminCandidacy)).all() == []


def test_abandoned_registration_is_purged(client, app, directory):
    details(client)
    post(client, "/inscription/conditions", decision="accept")
    with app.app_context():
        registration = db.session.scalars(select(Registration)).one()
        registration.created_at = utcnow() - timedelta(hours=49)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["idp", "purge"])
    assert result.exit_code == 0 and "1 inscription(s) inachevée(s)" in result.output
    with app.app_context():
        assert db.session.scalars(select(Registration)).all() == []
    # The browser's journey starts again from the first step.
    assert client.get("/inscription/etablissement").headers["Location"] == "/inscription"


def test_state_survives_reload_and_back(client, directory):
    details(client)
    post(client, "/inscription/conditions", decision="accept")
    back = text(client.get("/inscription"))
    assert 'value="Martin"' in back and 'value="paul.martin@boulangerie.example"' in back
    # Going back does not lose the way forward.
    assert client.get("/inscription/etablissement").status_code == 200
    # A later step is not reachable yet: it sends to the furthest step reached.
    assert client.get("/inscription/recapitulatif").headers["Location"] == \
        "/inscription/etablissement"


def test_refusing_the_terms_ends_the_registration(client, app, directory):
    details(client)
    response = post(client, "/inscription/conditions", decision="refuse")
    assert "l'inscription est abandonnée" in text(response)
    with app.app_context():
        assert db.session.scalars(select(Registration)).all() == []
    download = client.get("/inscription/conditions-generales.txt")
    assert "CONDITIONS GÉNÉRALES" in download.get_data(as_text=True)


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"siret": ""}, "siret", "Ce champ est obligatoire"),
    ({"siret": "8123456760001"}, "siret", "Le numéro SIRET doit comporter 14 chiffres."),
    ({"siret": "81234567600018"}, "siret", "Ce numéro SIRET n'est pas valide"),
    ({"siret": "73282932000074"}, "siret", "Ce SIRET est inconnu du répertoire"),
    ({"siret": "52814432200047"}, "siret", "Cet établissement est fermé"),
    ({"last_name": ""}, "last_name", "Ce champ est obligatoire"),
    ({"first_name": ""}, "first_name", "Ce champ est obligatoire"),
    ({"phone": "04 72 00"}, "phone", "Le numéro doit comporter 10 chiffres."),
    ({"mobile": "06-12"}, "mobile", "Le numéro doit comporter 10 chiffres."),
    ({"email": "paul", "confirm_email": "paul"}, "email", "Adresse électronique invalide"),
    ({"confirm_email": "autre@boulangerie.example"}, "confirm_email",
     "Les deux adresses diffèrent."),
    ({"email": "paul@yopmail.com", "confirm_email": "paul@yopmail.com"}, "email",
     "Les adresses jetables ne sont pas acceptées"),
])
def test_every_field_says_what_is_wrong(client, directory, overrides, field, message):
    response = details(client, **overrides)
    assert response.status_code == 400
    assert re.search(rf'id="{field}-error">{re.escape(message)}', text(response)), field


def test_a_duplicate_points_to_password_recovery(client, account):
    response = details(client, siret="52814432200013", last_name="LEFEVRE",
                       first_name="Sophie")
    assert response.status_code == 400
    assert "Un compte existe déjà" in text(response)
    assert "Mot de passe oublié ?" in text(response)


@pytest.mark.parametrize(("controls", "overrides", "message"), [
    ({"REGISTRATION_SIRET_DENY": BOULANGERIE}, {}, "n'est pas possible en ligne"),
    ({"REGISTRATION_SIRET_ALLOW": "52814432200013"}, {}, "n'est pas possible en ligne"),
    ({"REGISTRATION_EMAIL_DOMAINS_DENY": "boulangerie.example"}, {},
     "Les adresses jetables ne sont pas acceptées"),
])
def test_configured_controls(settings, directory, controls, overrides, message):
    from idp import create_app

    # The lists are read when the app is built (same database, same directory).
    controlled = create_app({**settings, **controls})
    response = details(controlled.test_client(), **overrides)
    assert response.status_code == 400
    assert message in text(response)


def test_allow_list_lets_listed_sirets_through(settings, directory):
    from idp import create_app

    allowing = create_app({**settings, "REGISTRATION_SIRET_ALLOW": BOULANGERIE})
    assert details(allowing.test_client()).status_code == 302


def test_password_step_applies_the_policy(client, directory):
    details(client)
    post(client, "/inscription/conditions", decision="accept")
    post(client, "/inscription/etablissement")
    response = post(client, "/inscription/mot-de-passe", new_password="faible",
                    confirm_password="faible", secret_question="Quel est votre plat préféré ?",
                    secret_answer="Quenelles")
    assert response.status_code == 400 and "Au moins 2 chiffres" in text(response)


def test_services_step_needs_a_service(client, directory):
    details(client)
    post(client, "/inscription/conditions", decision="accept")
    post(client, "/inscription/etablissement")
    post(client, "/inscription/mot-de-passe", new_password=PASSWORD, confirm_password=PASSWORD,
         secret_question="Quel est votre plat préféré ?", secret_answer="Quenelles")
    post(client, "/inscription/recapitulatif")
    response = post(client, "/inscription/services", profile="entreprise")
    assert response.status_code == 400
    assert "Ce champ est obligatoire" in text(response)


def test_probing_for_existing_accounts_is_slowed(client, account):
    for _ in range(10):
        response = details(client, siret="52814432200013", last_name="Lefèvre",
                           first_name="Sophie")
        assert "Un compte existe déjà" in text(response)
    blocked = details(client, siret="52814432200013", last_name="Lefèvre",
                      first_name="Sophie")
    assert blocked.status_code == 429
    assert "Trop de tentatives d'inscription" in text(blocked)
