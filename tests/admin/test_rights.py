"""« Gérer les habilitations »: search, the grid, « Valider », implied rights, refusals,
another company's administrator, CSRF."""

from __future__ import annotations

from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.extensions import db
from idp.habilitations.models import Habilitation, Right
from idp.habilitations.service import HabilitationService
from tests.admin.conftest import text_of
from tests.conftest import csrf_token

VILLEURBANNE = "52814432200021"
GRENOBLE = "52814432200039"
SIREN = "528144322"


def grid(browser, declarant, **criteria) -> str:
    """The grid page of ``declarant``."""
    response = browser.get("/gestion/habilitations", query_string={
        "declarant": str(declarant), **criteria})
    assert response.status_code == 200
    return text_of(response)


def validate(browser, declarant, cells, ticked, **criteria):
    """Post « Valider » with ``cells`` shown and ``ticked`` boxes."""
    token = csrf_token(grid(browser, declarant, **criteria))
    return browser.post("/gestion/habilitations", data={
        "csrf_token": token, "declarant": str(declarant), "cellule": cells, "droit": ticked,
        **criteria})


def rights(app, account_id, service, siret) -> Right:
    """The effective rights, by the habilitation rules (the access delay passed)."""
    with app.app_context():
        from datetime import UTC, datetime, timedelta

        later = datetime.now(UTC) + timedelta(days=3)
        return HabilitationService(db.session).rights_on(account_id, service, siret, later)


def test_search_page_then_grid(administrator, people):
    page = text_of(administrator.get("/gestion/habilitations"))
    assert "Rechercher" in page and "Benali Karim" in page
    page = grid(administrator, people["Karim"])
    assert f'value="siret:{VILLEURBANNE}:DSN:declarer" checked' in page
    assert f'value="siret:{VILLEURBANNE}:DSN:payer" ' in page
    assert "Valider" in page and "Toute l'entreprise" in page


def test_filters_narrow_the_grid(administrator, people):
    page = grid(administrator, people["Karim"], service="DSN", siret=GRENOBLE)
    assert f"siret:{GRENOBLE}:DSN" in page
    assert f"siret:{VILLEURBANNE}:DSN" not in page and ":DUCS" not in page


def test_validate_grants_and_revokes_with_one_mail(demo, administrator, people, mailbox):
    cells = [f"siret:{VILLEURBANNE}:DSN", f"siret:{GRENOBLE}:DSN"]
    response = validate(administrator, people["Karim"], cells,
                        [f"siret:{GRENOBLE}:DSN:declarer", f"siret:{GRENOBLE}:DSN:payer"],
                        service="DSN")
    assert response.status_code == 302
    assert rights(demo, people["Karim"], "DSN", GRENOBLE) == Right.DECLARER | Right.PAYER
    assert rights(demo, people["Karim"], "DSN", VILLEURBANNE) == Right(0)  # unticked
    messages = mailbox.to("karim.benali@transports-lefevre.example")
    assert len(messages) == 1
    text = mailbox.text(messages[0])
    assert f"DSN pour {GRENOBLE} : declarer, payer" in text
    assert f"DSN pour {VILLEURBANNE} : retiré" in text
    with demo.app_context():
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "admin.habilitations_changed")).one()
        assert event.details["declarant"] == str(people["Karim"])
        assert len(event.details["changes"]) == 2
    page = text_of(administrator.get(response.headers["Location"]))
    assert "2 habilitation(s) modifiée(s)" in page
    assert "une fois les délais d'accès échus" in page  # the new right waits


def test_nothing_changed_sends_nothing(administrator, people, mailbox):
    cell = f"siret:{VILLEURBANNE}:DSN"
    response = validate(administrator, people["Karim"], [cell], [f"{cell}:declarer"],
                        service="DSN")
    assert "Aucune modification" in text_of(administrator.get(
        response.headers["Location"]))
    assert mailbox.messages == []


def test_unsubscribed_service_is_refused_and_nothing_is_written(demo, administrator, people):
    # Grenoble does not subscribe to DUCS; the first cell would be valid on its own.
    cells = [f"siret:{GRENOBLE}:DSN", f"siret:{GRENOBLE}:DUCS"]
    response = validate(administrator, people["Karim"], cells,
                        [f"siret:{GRENOBLE}:DSN:declarer", f"siret:{GRENOBLE}:DUCS:declarer"])
    page = text_of(administrator.get(response.headers["Location"]))
    assert "n'est pas abonné à ce service" in page
    assert rights(demo, people["Karim"], "DSN", GRENOBLE) == Right(0)
    assert "Non abonné" in grid(administrator, people["Karim"], siret=GRENOBLE)


def test_siren_wide_right_covers_every_establishment(demo, administrator, people):
    cell = f"siren:{SIREN}:DSN"
    validate(administrator, people["Élodie"], [cell], [f"{cell}:payer"], service="DSN")
    for siret in (VILLEURBANNE, GRENOBLE):
        assert Right.PAYER in rights(demo, people["Élodie"], "DSN", siret)
    page = grid(administrator, people["Élodie"], service="DSN", siret=VILLEURBANNE)
    assert "Déjà accordé sans case : payer" in page


def test_implied_service_is_shown_not_stored(demo, administrator, people):
    page = grid(administrator, people["Sophie"], service="PPREV")
    assert "implicite par ATMP, MCF" in page
    with demo.app_context():
        assert not db.session.scalars(select(Habilitation).where(
            Habilitation.service_code == "PPREV")).all()


def test_hostile_cells_are_refused(demo, administrator, people):
    for cell, box in [("siret:43917721300014:DSN", "siret:43917721300014:DSN:declarer"),
                      ("siren:439177213:DSN", "siren:439177213:DSN:declarer"),
                      (f"siret:{GRENOBLE}:MCF", f"siret:{GRENOBLE}:MCF:declarer"),
                      (f"siret:{GRENOBLE}:DSN", f"siret:{GRENOBLE}:DSN:consulter"),
                      (f"siret:{GRENOBLE}:DSN", f"siret:{VILLEURBANNE}:DSN:declarer"),
                      (f"siret:{GRENOBLE}:NOPE", f"siret:{GRENOBLE}:NOPE:declarer")]:
        response = validate(administrator, people["Karim"], [cell], [box])
        assert response.status_code == 302, cell
        assert "ne peut pas être attribuée" in text_of(administrator.get(
            response.headers["Location"]))
    assert rights(demo, people["Karim"], "DSN", GRENOBLE) == Right(0)


def test_another_company_and_csrf(demo, administrator, other_administrator, people):
    assert other_administrator.get("/gestion/habilitations", query_string={
        "declarant": str(people["Karim"])}).status_code == 404
    token = csrf_token(other_administrator.get("/gestion/portefeuilles").get_data(
        as_text=True))
    cell = f"siret:{VILLEURBANNE}:DSN"
    assert other_administrator.post("/gestion/habilitations", data={
        "csrf_token": token, "declarant": str(people["Karim"]), "cellule": [cell],
        "droit": []}).status_code == 404
    assert administrator.post("/gestion/habilitations", data={
        "declarant": str(people["Karim"]), "cellule": [cell], "droit": []}).status_code == 400
    assert rights(demo, people["Karim"], "DSN", VILLEURBANNE) == Right.DECLARER
    assert administrator.get("/gestion/habilitations", query_string={
        "declarant": "pas-un-uuid", "page": "99999999999"}).status_code == 404
