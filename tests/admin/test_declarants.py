"""« Gérer les déclarants »: list, search and pages, add (then the welcome link and a first
sign-in), modify, suspend and reactivate, radiate with a transfer of habilitations; another
company's administrator finds nothing (404), a declarant is refused (403)."""

from __future__ import annotations

import html
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from idp.accounts.models import Account, Role, Status
from idp.demo import load_catalogue
from idp.extensions import db
from idp.habilitations.deps import habilitation_service
from idp.habilitations.models import Right
from idp.models_common import utcnow
from tests.admin.conftest import journal
from tests.conftest import PASSWORD, SIRET_SIEGE, SIRET_VILLEURBANNE, csrf_token, make_account
from tests.conftest import sign_in as fill_login

NEW = "Bienvenue2027"
QUESTION = "Quel est votre plat préféré ?"
OTHER_SIRET = "81234567600017"  # Boulangerie Martin: another company
CLOSED_SIRET = "52814432200047"  # Transports Lefèvre's closed establishment
CHEAP_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$unusable"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def declarant(app, last_name="Petit", first_name="Luc", siret=SIRET_SIEGE, **kwargs) -> Account:
    """A declarant of Transports Lefèvre (cheap hash unless a password is wanted)."""
    kwargs.setdefault("password_hash", None if "password" in kwargs else CHEAP_HASH)
    return make_account(app, siret=siret, last_name=last_name, first_name=first_name,
                        role=Role.DECLARANT, **kwargs)


def stored(app, account_id) -> Account:
    with app.app_context():
        account = db.session.get(Account, account_id)
        db.session.expunge(account)
        return account


def submit(client, form_path, data, post_path=None):
    """Load ``form_path``, post ``data`` with its CSRF token to ``post_path`` (or itself)."""
    token = csrf_token(client.get(form_path).get_data(as_text=True))
    return client.post(post_path or form_path, data={"csrf_token": token, **data})


def add(client, siret=SIRET_SIEGE, last_name="Martin", first_name="Léa",
        email="lea@example.fr"):
    return submit(client, "/gestion/declarants/ajouter", {
        "siret": siret, "last_name": last_name, "first_name": first_name, "email": email})


def press(client, account_id, decision):
    return submit(client, "/gestion/declarants/ajouter", {},
                  f"/gestion/declarants/{account_id}/{decision}")


def local(link: str) -> str:
    return urlsplit(link).path


def activate(client, link, password=NEW):
    return submit(client, local(link), {"new_password": password, "confirm_password": password,
                                        "secret_question": QUESTION,
                                        "secret_answer": "Gratin dauphinois"})


def rows(response) -> int:
    return text(response).count("/modifier")


# --- add, then the declarant's own first steps ------------------------------------------

def test_added_declarant_activates_its_account_and_signs_in(app, signed_in, mailbox, account):
    assert "/gestion/declarants" in text(signed_in.get("/gestion"))
    form = text(signed_in.get("/gestion/declarants/ajouter"))
    assert SIRET_VILLEURBANNE in form and CLOSED_SIRET not in form and OTHER_SIRET not in form
    response = add(signed_in, siret=SIRET_VILLEURBANNE)
    assert response.status_code == 302
    assert "Le compte de Léa Martin est créé" in text(signed_in.get(response.headers["Location"]))
    with app.app_context():
        created = db.session.scalar(select(Account).where(Account.last_name == "Martin"))
        assert (created.role, created.status) == (Role.DECLARANT, Status.PENDING_EMAIL)
        assert created.password_hash is None and not created.email_verified
    [event] = journal(app, "admin.declarant_added")
    assert event.account_id == account.id and event.details["declarant"] == str(created.id)
    [message] = mailbox.to("lea@example.fr")
    body = mailbox.text(message)
    assert "SIRET 52814432200021" in body and "7 jours" in body

    # The declarant cannot sign in yet.
    person = app.test_client()
    credentials = {"siret": SIRET_VILLEURBANNE, "last_name": "MARTIN", "first_name": "lea"}
    assert fill_login(person, password=NEW, **credentials).status_code != 302
    page = person.get(local(mailbox.link(message)))
    assert page.status_code == 200 and SIRET_VILLEURBANNE in text(page)
    done = activate(person, mailbox.link(message))
    assert done.status_code == 200 and "Compte activé" in text(done)
    activated = stored(app, created.id)
    assert activated.status is Status.ACTIVE and activated.email_verified
    assert activated.secret_question == QUESTION and activated.secret_answer_hash
    assert fill_login(person, password=NEW, **credentials).status_code == 302


def test_a_new_welcome_link_replaces_the_first(app, signed_in, mailbox):
    add(signed_in, siret=SIRET_VILLEURBANNE)
    with app.app_context():
        created = db.session.scalar(select(Account).where(Account.last_name == "Martin"))
    assert "Renvoyer le lien d'activation" in text(signed_in.get("/gestion/declarants"))
    response = press(signed_in, created.id, "renvoyer-lien")
    assert "Un nouveau lien d'activation a été envoyé à lea@example.fr" in text(
        signed_in.get(response.headers["Location"]))
    first, second = mailbox.to("lea@example.fr")
    assert len(journal(app, "admin.declarant_link_sent")) == 1
    person = app.test_client()
    assert "n'est pas ou plus valide" in text(person.get(local(mailbox.link(first))))
    assert activate(person, mailbox.link(second)).status_code == 200
    # Activated: no link to send any more, and nothing is sent.
    response = press(signed_in, created.id, "renvoyer-lien")
    assert "Ce compte est déjà activé" in text(signed_in.get(response.headers["Location"]))
    assert len(mailbox.to("lea@example.fr")) == 2


def test_the_same_login_triple_is_refused(app, signed_in, mailbox):
    declarant(app)
    response = add(signed_in, last_name=" PETIT ", first_name="lùc")
    assert response.status_code == 400
    assert "Un compte existe déjà pour cet établissement, ce nom et ce prénom" in text(response)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Account).where(
            Account.last_name_key == "petit")) == 1
    assert mailbox.messages == []
    # Another establishment of the company: another login, accepted.
    assert add(signed_in, siret=SIRET_VILLEURBANNE, last_name="Petit",
               first_name="Luc").status_code == 302
    # A removed account frees its triple.
    with app.app_context():
        db.session.scalar(select(Account).where(Account.siret == SIRET_SIEGE,
                                                Account.last_name == "Petit")).status = (
            Status.REMOVED)
        db.session.commit()
    assert add(signed_in, last_name="Petit", first_name="Luc").status_code == 302


@pytest.mark.parametrize(("field", "value", "message"), [
    ("siret", CLOSED_SIRET, None),
    ("siret", OTHER_SIRET, None),
    ("last_name", "", "Ce champ est obligatoire"),
    ("first_name", "A" * 101, "100 caractères au plus"),
    ("email", "pas-une-adresse", "Adresse électronique invalide"),
    ("last_name", "Le\x00fèvre", "Ce champ contient des caractères non autorisés."),
])
def test_bad_input_shows_the_form_again(app, signed_in, mailbox, field, value, message):
    details = {"siret": SIRET_SIEGE, "last_name": "Martin", "first_name": "Léa",
               "email": "lea@example.fr", field: value}
    response = add(signed_in, **details)
    assert response.status_code == 400
    if message:
        assert message in text(response)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Account)) == 1
    assert mailbox.messages == []


# --- the list -----------------------------------------------------------------------------

@pytest.fixture
def many(app, account):
    """45 declarants of the company, and people the list must not show."""
    for i in range(45):
        declarant(app, last_name=f"Nom{i:02d}", first_name="Jean",
                  siret=SIRET_VILLEURBANNE if i % 3 else SIRET_SIEGE)
    declarant(app, last_name="Dùpont", first_name="Éloïse")
    declarant(app, last_name="Parti", first_name="Paul", status=Status.REMOVED)
    declarant(app, last_name="Ailleurs", first_name="Anne", siret=OTHER_SIRET)
    make_account(app, last_name="Chef", first_name="Claire", password_hash=CHEAP_HASH)
    return app


def test_list_pages_by_twenty(many, signed_in):
    first = signed_in.get("/gestion/declarants")
    assert first.status_code == 200 and rows(first) == 20
    page = text(first)
    assert "46 déclarants" in page and "Page 1 sur 3" in page and "Actif" in page
    assert "Parti" not in page and "Ailleurs" not in page and "Chef" not in page
    assert "Lefèvre" not in page.split("<table")[1]  # nor the administrator herself
    assert rows(signed_in.get("/gestion/declarants?page=3")) == 6
    for bad in ("4", "0", "-1", "abc", "99999999999999999999", "1e3", "١"):
        assert signed_in.get(f"/gestion/declarants?page={bad}").status_code == 404, bad


def test_search_by_names_and_siret_folds_case_and_accents(many, signed_in):
    found = text(signed_in.get("/gestion/declarants?q=ELOISE+dupont"))
    assert "Dùpont" in found and "1 déclarant" in found
    assert rows(signed_in.get("/gestion/declarants?q=nom0")) == 10
    by_siret = signed_in.get(f"/gestion/declarants?q={SIRET_SIEGE}")
    assert "16 déclarants" in text(by_siret)  # 15 Nom + Dùpont
    for nothing in ("%", "_", "Parti", "Ailleurs", "x\x00y"):
        response = signed_in.get("/gestion/declarants", query_string={"q": nothing})
        assert response.status_code == 200 and "Aucun déclarant ne correspond" in text(response)


# --- modify, suspend, reactivate ------------------------------------------------------------

def test_modify_names_address_and_establishment(app, signed_in, mailbox):
    luc = declarant(app)
    declarant(app, last_name="Garnier", first_name="Paul", siret=SIRET_VILLEURBANNE)
    path = f"/gestion/declarants/{luc.id}/modifier"
    form = text(signed_in.get(path))
    assert 'value="Petit"' in form and 'value="luc@example.fr"' in form
    duplicate = submit(signed_in, path, {"siret": SIRET_VILLEURBANNE, "last_name": "garnier",
                                         "first_name": "PAUL", "email": "luc@example.fr"})
    assert duplicate.status_code == 400 and "Un compte existe déjà" in text(duplicate)
    response = submit(signed_in, path, {"siret": SIRET_VILLEURBANNE, "last_name": "Petit-Roy",
                                        "first_name": "Luc", "email": "luc.roy@example.fr"})
    assert response.status_code == 302
    changed = stored(app, luc.id)
    assert (changed.siret, changed.last_name, changed.last_name_key, changed.email) == (
        SIRET_VILLEURBANNE, "Petit-Roy", "petit-roy", "luc.roy@example.fr")
    [event] = journal(app, "admin.declarant_modified")
    assert event.details == {"declarant": str(luc.id),
                             "changed": ["siret", "last_name", "email"]}
    [summary] = mailbox.to("luc.roy@example.fr")
    assert "établissement, nom, adresse électronique" in mailbox.text(summary)
    assert "SIRET 52814432200021" in mailbox.text(summary)
    assert len(mailbox.to("luc@example.fr")) == 1  # the old address hears it was replaced
    again = submit(signed_in, path, {"siret": SIRET_VILLEURBANNE, "last_name": "Petit-Roy",
                                     "first_name": "Luc", "email": "luc.roy@example.fr"})
    assert "Aucune modification" in text(signed_in.get(again.headers["Location"]))


def test_a_pending_declarant_with_a_new_address_gets_a_new_link(app, signed_in, mailbox):
    add(signed_in)
    [first] = mailbox.to("lea@example.fr")
    with app.app_context():
        lea = db.session.scalar(select(Account).where(Account.last_name == "Martin"))
    submit(signed_in, f"/gestion/declarants/{lea.id}/modifier", {
        "siret": SIRET_SIEGE, "last_name": "Martin", "first_name": "Léa",
        "email": "lea.martin@example.fr"})
    [second] = mailbox.to("lea.martin@example.fr")
    person = app.test_client()
    assert person.get(local(mailbox.link(first))).status_code == 400  # the old link is dead
    assert activate(person, mailbox.link(second)).status_code == 200


def test_suspend_ends_the_sessions_and_sign_in_then_reactivate(app, signed_in, mailbox):
    luc = declarant(app, password=PASSWORD)
    person = app.test_client()
    assert fill_login(person, last_name="Petit", first_name="Luc").status_code == 302
    assert person.get("/compte").status_code == 200
    response = press(signed_in, luc.id, "suspendre")
    assert response.status_code == 302
    assert "Suspendu" in text(signed_in.get("/gestion/declarants"))
    assert stored(app, luc.id).status is Status.LOCKED
    assert person.get("/compte").status_code == 302  # its session is gone
    assert fill_login(person, last_name="Petit", first_name="Luc").status_code != 302
    assert "suspendu" in mailbox.text(mailbox.to("luc@example.fr")[-1])
    # Suspending twice is refused with a message, not an error.
    again = press(signed_in, luc.id, "suspendre")
    assert "Seul un compte actif peut être suspendu." in text(signed_in.get(
        again.headers["Location"]))
    assert press(signed_in, luc.id, "reactiver").status_code == 302
    assert stored(app, luc.id).status is Status.ACTIVE
    assert "réactivé" in mailbox.text(mailbox.to("luc@example.fr")[-1])
    assert fill_login(person, last_name="Petit", first_name="Luc").status_code == 302
    assert [len(journal(app, f"admin.declarant_{a}")) for a in ("suspended", "reactivated")] == [
        1, 1]


# --- radiate ------------------------------------------------------------------------------

@pytest.fixture
def habilitated(app, account):
    """Luc has three habilitations (one already shared with Paul), Paul one."""
    luc = declarant(app, password=PASSWORD)
    paul = declarant(app, last_name="Garnier", first_name="Paul", siret=SIRET_VILLEURBANNE)
    past = utcnow() - timedelta(days=2)
    with app.test_request_context():
        load_catalogue(db.session)
        rules = habilitation_service()
        rules.grant(luc.id, "DSN", siret=SIRET_SIEGE, rights=["declarer"], effective_from=past)
        rules.grant(luc.id, "DUCS", siret=SIRET_VILLEURBANNE, rights=["payer"],
                    effective_from=past)
        rules.grant(luc.id, "MCF", siren=SIRET_SIEGE[:9], rights=["consulter"],
                    effective_from=past)
        rules.grant(paul.id, "DSN", siret=SIRET_SIEGE, rights=["payer"], effective_from=past)
        db.session.commit()
    return luc, paul


def rights(app, account_id, service, siret) -> Right:
    with app.test_request_context():
        return habilitation_service().rights_on(account_id, service, siret)


def test_radiate_moves_every_habilitation_in_one_step(app, signed_in, mailbox, habilitated,
                                                      account):
    luc, paul = habilitated
    path = f"/gestion/declarants/{luc.id}/radier"
    page = text(signed_in.get(path))
    assert f'value="{paul.id}"' in page and f'value="{account.id}"' in page
    assert f'value="{luc.id}"' not in page
    stranger = declarant(app, last_name="Ailleurs", first_name="Anne", siret=OTHER_SIRET)
    refused = submit(signed_in, path, {"receiver": str(stranger.id)})
    assert refused.status_code == 400 and stored(app, luc.id).status is Status.ACTIVE
    response = submit(signed_in, path, {"receiver": str(paul.id)})
    assert response.status_code == 302
    assert "Habilitations transférées : 3" in text(signed_in.get(response.headers["Location"]))
    assert stored(app, luc.id).status is Status.REMOVED
    assert rights(app, paul.id, "DSN", SIRET_SIEGE) == Right.DECLARER | Right.PAYER
    assert rights(app, paul.id, "DUCS", SIRET_VILLEURBANNE) == Right.PAYER
    assert rights(app, paul.id, "MCF", SIRET_SIEGE) == Right.CONSULTER
    assert rights(app, luc.id, "DSN", SIRET_SIEGE) == Right(0)
    [event] = journal(app, "admin.declarant_removed")
    assert event.details == {"declarant": str(luc.id), "receiver": str(paul.id),
                             "transferred": 3}
    [received] = mailbox.to("paul@example.fr")
    assert "3 habilitations" in mailbox.text(received) and "Luc Petit" in mailbox.text(received)
    assert "radié" in mailbox.text(mailbox.to("luc@example.fr")[-1])
    assert "Petit" not in text(signed_in.get("/gestion/declarants")).split("<table")[-1]
    assert fill_login(app.test_client(), last_name="Petit", first_name="Luc").status_code != 302
    assert signed_in.get(path).status_code == 404  # gone from this screen


def test_radiate_without_receiver(app, signed_in, mailbox, habilitated):
    luc, paul = habilitated
    response = submit(signed_in, f"/gestion/declarants/{luc.id}/radier", {"receiver": ""})
    assert response.status_code == 302 and stored(app, luc.id).status is Status.REMOVED
    assert rights(app, paul.id, "DUCS", SIRET_VILLEURBANNE) == Right(0)
    assert mailbox.to("paul@example.fr") == []


def test_administrators_are_not_on_this_screen(app, signed_in, account):
    other = make_account(app, last_name="Chef", first_name="Claire", password_hash=CHEAP_HASH)
    token = csrf_token(signed_in.get("/gestion/declarants/ajouter").get_data(as_text=True))
    for target in (account.id, other.id):
        for path in (f"/gestion/declarants/{target}/radier",
                     f"/gestion/declarants/{target}/suspendre",
                     f"/gestion/declarants/{target}/modifier"):
            assert signed_in.post(path, data={"csrf_token": token, "receiver": ""}
                                  ).status_code == 404, path
        assert stored(app, target).status is Status.ACTIVE


# --- who may do what ----------------------------------------------------------------------

def declarant_routes(account_id) -> list[tuple[str, str]]:
    base = f"/gestion/declarants/{account_id}"
    return [("GET", f"{base}/modifier"), ("POST", f"{base}/modifier"),
            ("POST", f"{base}/suspendre"), ("POST", f"{base}/reactiver"),
            ("GET", f"{base}/radier"), ("POST", f"{base}/radier")]


def test_another_company_finds_nothing(app, client, habilitated, mailbox):
    luc, paul = habilitated
    make_account(app, siret=OTHER_SIRET, last_name="Martin", first_name="Jean")
    assert fill_login(client, siret=OTHER_SIRET, last_name="Martin",
                      first_name="Jean").status_code == 302
    token = csrf_token(client.get("/gestion/declarants/ajouter").get_data(as_text=True))
    assert "Petit" not in text(client.get("/gestion/declarants?q=petit")).split("<h2")[-1]
    data = {"csrf_token": token, "receiver": str(paul.id), "siret": OTHER_SIRET,
            "last_name": "Volé", "first_name": "Luc", "email": "vol@example.fr"}
    for method, path in declarant_routes(luc.id) + declarant_routes(uuid.uuid4()):
        assert client.open(path, method=method, data=data).status_code == 404, (method, path)
    assert add(client).status_code == 400  # its select has none of the first company's
    after = stored(app, luc.id)
    assert (after.status, after.last_name, after.siret) == (Status.ACTIVE, "Petit", SIRET_SIEGE)
    assert rights(app, luc.id, "DSN", SIRET_SIEGE) == Right.DECLARER
    assert journal(app, "admin.declarant_removed") == [] and mailbox.messages == []


def test_a_declarant_is_refused_everywhere(app, client, account):
    luc = declarant(app, password=PASSWORD)
    fill_login(client, last_name="Petit", first_name="Luc")
    token = csrf_token(client.get("/compte/securite").get_data(as_text=True))
    paths = [("GET", "/gestion/declarants"), ("GET", "/gestion/declarants/ajouter"),
             ("POST", "/gestion/declarants/ajouter"), *declarant_routes(luc.id)]
    for method, path in paths:
        assert client.open(path, method=method, data={"csrf_token": token}
                           ).status_code == 403, (method, path)


def test_missing_csrf_is_a_400_and_changes_nothing(app, signed_in, mailbox):
    luc = declarant(app)
    assert signed_in.post(f"/gestion/declarants/{luc.id}/suspendre").status_code == 400
    assert signed_in.post(f"/gestion/declarants/{luc.id}/radier",
                          data={"receiver": ""}).status_code == 400
    assert signed_in.post("/gestion/declarants/ajouter", data={
        "siret": SIRET_SIEGE, "last_name": "Martin", "first_name": "Léa",
        "email": "lea@example.fr"}).status_code == 400
    assert stored(app, luc.id).status is Status.ACTIVE
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Account)) == 2
    assert mailbox.messages == []


def test_routes_take_only_uuids(signed_in):
    for path in ("/gestion/declarants/12/modifier", "/gestion/declarants/x/radier",
                 "/gestion/declarants/" + "a" * 5000 + "/modifier"):
        assert signed_in.get(path).status_code == 404
