"""The bulk habilitation file over HTTP: the template and « Générer le fichier des
habilitations », a good file with its report, journal and e-mail, every refusal (bad lines,
a SIRET outside the portfolio, a second file within 48 hours), nothing applied when refused."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from idp.demo import PORTFOLIO_CLIENTS
from idp.extensions import db
from idp.habilitations.models import Habilitation, Portfolio, Right
from idp.habilitations.service import HabilitationService
from tests.admin.conftest import journal, text_of
from tests.admin.test_portfolios import GRENOBLE, post
from tests.conftest import csrf_token

A, B, X, Y = sorted(PORTFOLIO_CLIENTS)
HEADER = "SIRET;DSN;DUCS;ATMP"


@pytest.fixture
def portfolio_id(demo) -> int:
    """The demo portfolio « Clients lyonnais » of the cabinet."""
    with demo.app_context():
        return db.session.scalar(select(Portfolio.id).where(Portfolio.name == "Clients lyonnais"))


@pytest.fixture
def julie(people) -> str:
    """The cabinet's declarant whose file is sent."""
    return str(people["Julie"])


def send(browser, portfolio_id, declarant, content: bytes):
    """Upload ``content`` as the declarant's file for the portfolio."""
    return post(browser, f"/gestion/portefeuilles/{portfolio_id}/fichier", {
        "declarant": declarant, "fichier": (io.BytesIO(content), "habilitations.csv")},
        content_type="multipart/form-data")


def per_client(app, account_id) -> dict[tuple[str, str], Habilitation]:
    """The declarant's per-client habilitations, by (SIRET, declaration)."""
    with app.app_context():
        return {(h.client_siret, h.service_code): (h.rights, h.effective_from)
                for h in db.session.scalars(select(Habilitation).where(
                    Habilitation.account_id == account_id,
                    Habilitation.client_siret.is_not(None)))}


def test_template_and_export(demo, firm, portfolio_id, julie):
    base = f"/gestion/portefeuilles/{portfolio_id}"
    template = firm.get(f"{base}/modele.csv")
    assert template.mimetype == "text/csv"
    assert template.get_data(as_text=True).splitlines()[0].split(";")[0] == "SIRET"
    assert set(template.get_data(as_text=True).strip().split(";")) == set(HEADER.split(";"))
    export = firm.get(f"{base}/habilitations.csv", query_string={"declarant": julie})
    assert "attachment" in export.headers["Content-Disposition"]
    lines = export.get_data(as_text=True).splitlines()
    assert set(lines[0].split(";")) == set(HEADER.split(";"))
    assert sorted(line.split(";")[0] for line in lines[1:]) == sorted(PORTFOLIO_CLIENTS)
    assert firm.get(f"{base}/habilitations.csv", query_string={
        "declarant": "pas-un-uuid"}).status_code == 404


def test_a_good_file_with_report_journal_and_mail(demo, firm, portfolio_id, julie, people,
                                                  mailbox):
    content = f"{HEADER}\r\n{A};1;0;1\r\n{B};0;1;0\r\n{X};0;0;0\r\n{Y};0;0;0\r\n".encode()
    response = send(firm, portfolio_id, julie, content)
    assert response.status_code == 200, text_of(response)
    text = text_of(response)
    assert "Fichier appliqué : 4 ligne(s) lue(s), 3 habilitation(s) ajoutée(s)" in text
    stored = per_client(demo, people["Julie"])
    assert set(stored) == {(A, "DSN"), (A, "ATMP"), (B, "DUCS")}
    with demo.app_context():
        later = datetime.now(UTC) + timedelta(days=3)
        rules = HabilitationService(db.session)
        assert rules.rights_on(people["Julie"], "DUCS", B, later) & Right.DECLARER
        assert not rules.rights_on(people["Julie"], "DUCS", A, later)
    [event] = journal(demo, "admin.portfolio_bulk_file")
    assert event.details["added"] == 3 and event.details["declarant"] == julie
    [mail] = mailbox.to("julie.chevalier@cabinet-durand.example")
    assert "Clients lyonnais" in mailbox.text(mail)
    # The export now gives back what was sent.
    export = firm.get(f"/gestion/portefeuilles/{portfolio_id}/habilitations.csv",
                      query_string={"declarant": julie}).get_data(as_text=True)
    columns = export.splitlines()[0].split(";")
    row_a = next(line for line in export.splitlines() if line.startswith(A)).split(";")
    assert {columns[i] for i, cell in enumerate(row_a) if cell == "1"} == {"DSN", "ATMP"}


@pytest.mark.parametrize(("content", "expected"), [
    (f"{HEADER}\n{A};1;0\n", "Ligne 2 : le nombre de colonnes ne correspond pas"),
    (f"{HEADER}\n{A};1;0;2\n", "Ligne 2 : chaque case vaut 1 ou 0 (colonne ATMP)"),
    (f"{HEADER}\n{A};1;0;0\n123;1;0;0\n", "Ligne 3 : le SIRET 123 n'est pas valide"),
    (f"{HEADER}\n{A};1;0;0\n{A};0;0;0\n", "Ligne 3 : SIRET déjà présent plus haut"),
    (f"SIRET;DSN;DSN\n{A};1;0\n", "la colonne DSN figure deux fois"),
    (f"SIRET;DSN;MCF\n{A};1;0\n", "la déclaration MCF n'est pas dans le portefeuille"),
    (f"NUMERO;DSN\n{A};1\n", "Ligne 1 : la première ligne doit être SIRET;<déclarations>"),
    ("", "le fichier ne contient aucune ligne"),
    (f"{HEADER}\n{GRENOBLE};1;0;0\n", f"le SIRET {GRENOBLE} n'est pas un client du portefeuille"),
])
def test_bad_lines_apply_nothing_and_free_the_slot(demo, firm, portfolio_id, julie, people,
                                                   content, expected):
    before = per_client(demo, people["Julie"])
    response = send(firm, portfolio_id, julie, content.encode())
    assert response.status_code == 422
    text = text_of(response)
    assert "rien n'a été appliqué" in text and expected in text, text
    assert per_client(demo, people["Julie"]) == before
    # A refused file does not use the 48-hour slot: the corrected one goes through.
    assert send(firm, portfolio_id, julie, f"{HEADER}\n{A};1;0;0\n".encode()).status_code == 200


def test_a_file_not_in_utf8(demo, firm, portfolio_id, julie):
    response = send(firm, portfolio_id, julie, f"{HEADER}\n{A};1;0;0 é\n".encode("latin-1"))
    assert response.status_code == 422
    assert "le fichier doit être encodé en UTF-8" in text_of(response)


def test_one_file_per_portfolio_per_48_hours(demo, firm, portfolio_id, julie, people):
    assert send(firm, portfolio_id, julie, f"{HEADER}\n{A};1;0;0\n".encode()).status_code == 200
    before = per_client(demo, people["Julie"])
    # Another declarant, same portfolio: still within the portfolio's 48 hours.
    response = send(firm, portfolio_id, str(people["Marc"]), f"{HEADER}\n{B};1;0;0\n".encode())
    assert response.status_code == 429
    assert "Un seul fichier par portefeuille toutes les 48 heures" in text_of(response)
    assert per_client(demo, people["Julie"]) == before
    assert per_client(demo, people["Marc"]) == {}
    with demo.app_context():
        portfolio = db.session.get(Portfolio, portfolio_id)
        portfolio.last_bulk_upload_at -= timedelta(hours=49)
        db.session.commit()
    assert send(firm, portfolio_id, str(people["Marc"]),
                f"{HEADER}\n{B};1;0;0\n".encode()).status_code == 200


def test_refusals_without_a_file_token_or_rights(demo, firm, administrator, portfolio_id,
                                                 julie, people):
    path = f"/gestion/portefeuilles/{portfolio_id}/fichier"
    response = post(firm, path, {"declarant": julie}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Choisissez un fichier." in text_of(response)
    content = f"{HEADER}\n{A};1;0;0\n".encode()
    assert firm.post(path, data={"declarant": julie, "fichier": (
        io.BytesIO(content), "f.csv")}, content_type="multipart/form-data").status_code == 400
    assert send(firm, portfolio_id, "pas-un-uuid", content).status_code == 404
    # Sophie's company's declarant, Sophie's company's admin: neither is the cabinet's.
    assert send(firm, portfolio_id, str(people["Karim"]), content).status_code == 404
    token = csrf_token(administrator.get("/gestion/portefeuilles").get_data(as_text=True))
    assert administrator.post(path, data={"csrf_token": token, "declarant": julie, "fichier": (
        io.BytesIO(content), "f.csv")}, content_type="multipart/form-data").status_code == 404
    for suffix in ("modele.csv", f"habilitations.csv?declarant={julie}"):
        assert administrator.get(
            f"/gestion/portefeuilles/{portfolio_id}/{suffix}").status_code == 404
    assert per_client(demo, people["Julie"]) == {}
