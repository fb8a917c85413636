"""« Gérer les portefeuilles »: create, rename, delete, the container, composing (one by one
and by file), each client's declarations, the AT/MP link rule, the advice past 100 SIRET, a
declarant's rights on the portfolio, and another company's administrator refused."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from stdnum import luhn

from idp.directory.models import Company, Establishment
from idp.extensions import db
from idp.habilitations.models import (
    Habilitation,
    Portfolio,
    PortfolioClient,
    PortfolioClientService,
    Right,
)
from idp.habilitations.service import HabilitationService
from tests.admin.conftest import CABINET_SIRET, text_of
from tests.conftest import csrf_token

CLIENT = "81234567600017"  # a client of the demo portfolio, with a recent DSN link
GRENOBLE = "52814432200039"  # in the directory, no link with the cabinet


@pytest.fixture
def portfolio_id(demo) -> int:
    """The demo portfolio « Clients lyonnais » of the cabinet."""
    with demo.app_context():
        return db.session.scalar(select(Portfolio.id).where(Portfolio.name == "Clients lyonnais"))


def page(browser, portfolio_id, **args) -> str:
    """The portfolio's page."""
    response = browser.get(f"/gestion/portefeuilles/{portfolio_id}", query_string=args)
    assert response.status_code == 200
    return text_of(response)


def post(browser, path, data=None, **kwargs):
    """Post to ``path`` with the CSRF token of the portfolio list; follow to the message."""
    token = csrf_token(browser.get("/gestion/portefeuilles").get_data(as_text=True))
    response = browser.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)
    return response


def message(browser, response) -> str:
    """The page a post redirected to."""
    assert response.status_code == 302, response.get_data(as_text=True)
    return text_of(browser.get(response.headers["Location"]))


def declarations(app, portfolio_id, siret) -> set[str]:
    """The client's declarations in the portfolio."""
    with app.app_context():
        return set(db.session.scalars(select(PortfolioClientService.service_code).where(
            PortfolioClientService.portfolio_id == portfolio_id,
            PortfolioClientService.siret == siret)))


def clients(app, portfolio_id) -> set[str]:
    """The portfolio's client SIRETs."""
    with app.app_context():
        return set(db.session.scalars(select(PortfolioClient.siret).where(
            PortfolioClient.portfolio_id == portfolio_id)))


def test_list_create_rename_delete(demo, firm):
    assert "Clients lyonnais" in firm.get("/gestion/portefeuilles").get_data(as_text=True)
    response = post(firm, "/gestion/portefeuilles", {"nom": "Holding", "proprietaire":
                                                      CABINET_SIRET})
    assert "Portefeuille créé" in message(firm, response)
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert "Portefeuille créé" not in message(firm, post(
        firm, f"/gestion/portefeuilles/{new_id}/renommer", {"nom": ""}))
    message(firm, post(firm, f"/gestion/portefeuilles/{new_id}/renommer",
                       {"nom": "Holding Sud"}))
    assert "Holding Sud" in firm.get("/gestion/portefeuilles").get_data(as_text=True)
    message(firm, post(firm, f"/gestion/portefeuilles/{new_id}/supprimer"))
    with demo.app_context():
        assert db.session.get(Portfolio, new_id) is None
    assert post(firm, "/gestion/portefeuilles", {
        "nom": "X", "proprietaire": "52814432200013"}).status_code == 404  # not its own


def test_container_withdrawal_reaches_clients_and_rights(demo, firm, portfolio_id, people):
    assert declarations(demo, portfolio_id, CLIENT) == {"DSN", "DUCS", "ATMP"}
    text = message(firm, post(firm, f"/gestion/portefeuilles/{portfolio_id}/declarations",
                              {"declaration": ["DSN", "DUCS"]}))
    assert "Déclarations du portefeuille enregistrées" in text
    assert declarations(demo, portfolio_id, CLIENT) == {"DSN", "DUCS"}
    with demo.app_context():
        assert not db.session.scalars(select(Habilitation).where(
            Habilitation.portfolio_id == portfolio_id,
            Habilitation.service_code == "ATMP")).all()


def test_compose_one_by_one_with_the_link_rule(demo, firm, portfolio_id):
    path = f"/gestion/portefeuilles/{portfolio_id}/clients"
    text = message(firm, post(firm, path, {"siret": GRENOBLE, "declaration": ["DSN", "ATMP"]}))
    assert "lien déclarant–déclaré de moins de trois mois" in text
    assert GRENOBLE not in clients(demo, portfolio_id)
    text = message(firm, post(firm, path, {"siret": GRENOBLE, "declaration": ["DSN"]}))
    assert f"Client {GRENOBLE} ajouté" in text
    assert declarations(demo, portfolio_id, GRENOBLE) == {"DSN"}
    assert "Ajoutez d'abord la déclaration" in message(firm, post(
        firm, f"{path}/{GRENOBLE}", {"declaration": ["MCF"]}))
    message(firm, post(firm, f"{path}/{GRENOBLE}", {"declaration": ["DSN", "DUCS"]}))
    assert declarations(demo, portfolio_id, GRENOBLE) == {"DSN", "DUCS"}
    assert "n'est pas un établissement actif" in message(firm, post(
        firm, path, {"siret": "12345678901234", "declaration": ["DSN"]}))
    message(firm, post(firm, f"{path}/{GRENOBLE}/retirer"))
    assert GRENOBLE not in clients(demo, portfolio_id)
    assert post(firm, f"{path}/{GRENOBLE}/retirer").status_code == 404


def upload(browser, portfolio_id, content: bytes):
    """Send a composition file."""
    return post(browser, f"/gestion/portefeuilles/{portfolio_id}/composition",
                {"fichier": (io.BytesIO(content), "clients.csv")},
                content_type="multipart/form-data")


def test_composition_file_is_checked_whole(demo, firm, portfolio_id):
    before = clients(demo, portfolio_id)
    # A client added by file gets every declaration of the container: AT/MP needs the link.
    assert "Ligne 1 : La déclaration AT/MP" in message(firm, upload(
        firm, portfolio_id, f"{GRENOBLE};1\n".encode()))
    message(firm, post(firm, f"/gestion/portefeuilles/{portfolio_id}/declarations",
                       {"declaration": ["DSN", "DUCS"]}))
    for content, expected in [
        (f"{GRENOBLE};1\n{CLIENT};2\n".encode(), "Ligne 2"),
        (f"{GRENOBLE};1\n{GRENOBLE};0\n".encode(), "figure deux fois"),
        (f"{GRENOBLE};1\n123;1\n".encode(), "14 chiffres"),
        (f"{GRENOBLE};1;1\n".encode(), "SIRET;1 ou SIRET;0"),
        (b"", "Le fichier est vide"),
        ("52814432200039;1\nSoci\u00e9t\u00e9;1\n".encode("latin-1"), "UTF-8"),
        (f"{GRENOBLE};1\n12345678901234;1\n".encode(), "Ligne 2"),
    ]:
        text = message(firm, upload(firm, portfolio_id, content))
        assert expected in text, (content, re.findall(r'notice[^<]*', text))

        assert clients(demo, portfolio_id) == before, content
    text = message(firm, upload(firm, portfolio_id, f"{GRENOBLE};1\n{CLIENT};0\n".encode()))
    assert "1 client(s) ajouté(s), 1 retiré(s), 0 inchangé(s)" in text
    assert clients(demo, portfolio_id) == before - {CLIENT} | {GRENOBLE}


def test_advice_past_one_hundred_clients(demo, firm, portfolio_id):
    sirets = many_establishments(demo, 100)
    assert "pas plus de 100 SIRET" not in page(firm, portfolio_id)
    message(firm, post(firm, f"/gestion/portefeuilles/{portfolio_id}/declarations",
                       {"declaration": ["DSN"]}))
    content = "".join(f"{s};1\n" for s in sirets).encode()
    assert "100 client(s) ajouté(s)" in message(firm, upload(firm, portfolio_id, content))
    text = page(firm, portfolio_id)
    assert "pas plus de 100 SIRET" in text and "Clients suivants" in text


def test_declarant_rights_on_the_whole_portfolio(demo, firm, portfolio_id, people, mailbox):
    text = page(firm, portfolio_id, declarant=str(people["Julie"]))
    assert f'value="portfolio_id:{portfolio_id}:DSN:declarer" checked' in text
    cells = [f"portfolio_id:{portfolio_id}:{code}" for code in ("DSN", "DUCS", "ATMP")]
    text = message(firm, post(firm, f"/gestion/portefeuilles/{portfolio_id}/habilitations", {
        "declarant": str(people["Julie"]), "cellule": cells,
        "droit": [f"{cells[0]}:payer", f"{cells[2]}:consulter"]}))
    assert "1 habilitation(s) modifiée(s)" in text  # ATMP was already so
    with demo.app_context():
        later = datetime.now(UTC) + timedelta(days=3)
        rules = HabilitationService(db.session)
        assert rules.rights_on(people["Julie"], "DSN", CLIENT, later) == Right.PAYER
        assert rules.rights_on(people["Julie"], "ATMP", CLIENT, later) == Right.CONSULTER
    assert "Clients lyonnais" in mailbox.text(
        mailbox.to("julie.chevalier@cabinet-durand.example")[0])


def test_another_company_gets_404_everywhere(demo, administrator, portfolio_id, people):
    before = clients(demo, portfolio_id)
    assert "Clients lyonnais" not in administrator.get(
        "/gestion/portefeuilles").get_data(as_text=True)
    base = f"/gestion/portefeuilles/{portfolio_id}"
    assert administrator.get(base).status_code == 404
    for path, data in [(f"{base}/renommer", {"nom": "Pris"}), (f"{base}/supprimer", {}),
                       (f"{base}/declarations", {"declaration": ["DSN"]}),
                       (f"{base}/clients", {"siret": GRENOBLE}),
                       (f"{base}/clients/{CLIENT}", {"declaration": []}),
                       (f"{base}/clients/{CLIENT}/retirer", {}),
                       (f"{base}/habilitations", {"declarant": str(people["Julie"])})]:
        assert post(administrator, path, data).status_code == 404, path
    assert clients(demo, portfolio_id) == before
    with demo.app_context():
        assert db.session.get(Portfolio, portfolio_id).name == "Clients lyonnais"


def many_establishments(app, count: int) -> list[str]:
    """``count`` new active establishments of one new company, with valid SIRETs."""
    siren = "12345678"
    siren += luhn.calc_check_digit(siren)
    sirets = []
    with app.app_context():
        db.session.add(Company(siren=siren, name="Filiales"))
        for number in range(1, count + 1):
            nic = f"{number:04d}"
            nic += luhn.calc_check_digit(siren + nic)
            sirets.append(siren + nic)
            db.session.add(Establishment(siret=siren + nic, siren=siren, nic=nic,
                                         name=f"Filiale {number}", active=True))
        db.session.commit()
    return sirets
