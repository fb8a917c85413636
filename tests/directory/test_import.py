"""``flask idp directory import``: SIRENE stock files, all-or-nothing, idempotent, streamed."""

from __future__ import annotations

import csv
import random

import pytest
from sqlalchemy import func, inspect, select
from stdnum import luhn

from idp.audit.models import AuditEvent
from idp.directory import bulk as bulk_module
from idp.directory import importer as importer_module
from idp.directory.models import Company, Establishment
from idp.extensions import db
from tests.conftest import SAMPLE

HEADER = ["siren", "nic", "siret", "etablissementSiege", "etatAdministratifEtablissement",
          "denominationUsuelleEtablissement", "enseigne1Etablissement",
          "numeroVoieEtablissement", "typeVoieEtablissement", "libelleVoieEtablissement",
          "codePostalEtablissement", "libelleCommuneEtablissement", "colonneInconnue"]


def row(siret, siege="true", state="A", name="SOCIETE TEST", **overrides):
    values = {"siren": siret[:9], "nic": siret[9:], "siret": siret, "etablissementSiege": siege,
              "etatAdministratifEtablissement": state, "denominationUsuelleEtablissement": name,
              "enseigne1Etablissement": "", "numeroVoieEtablissement": "1",
              "typeVoieEtablissement": "RUE", "libelleVoieEtablissement": "DE LA PAIX",
              "codePostalEtablissement": "75002", "libelleCommuneEtablissement": "PARIS",
              "colonneInconnue": "ignorée"}
    values.update(overrides)
    return values


def write_csv(path, rows, header=HEADER):
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def run_import(app, *args):
    return app.test_cli_runner().invoke(args=["idp", "directory", "import", *map(str, args)])


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_sample_directory_imports(app):
    result = run_import(app, SAMPLE / "StockEtablissement_sample.csv", "--unites-legales",
                        SAMPLE / "StockUniteLegale_sample.csv")
    assert result.exit_code == 0, result.output
    assert "StockUniteLegale_sample.csv : 12 unité(s) légale(s) lu(s), 12 créé(s)" in result.output
    assert "StockEtablissement_sample.csv : 16 établissement(s) lu(s), 16 créé(s), 0 mis à jour" \
        in result.output
    with app.app_context():
        companies = db.session.scalar(select(func.count()).select_from(Company))
        assert companies == 12
        transports = db.session.get(Company, "528144322")
        assert transports.name == "TRANSPORTS LEFEVRE"
        sites = {e.siret: e for e in transports.establishments}
        assert len(sites) == 4
        assert sites["52814432200013"].is_headquarters
        assert not sites["52814432200021"].is_headquarters
        assert sites["52814432200047"].active is False  # the closed establishment
        assert sites["52814432200013"].address == "45 AV JEAN JAURES, 69007 LYON"
        # No denomination: the enseigne names the establishment.
        assert db.session.get(Establishment, "79104328400011").name == "MENUISERIE BERNARD"
        la_poste = db.session.get(Establishment, "35600000010000")
        assert la_poste.name == "LA POSTE BUREAU LYON BELLECOUR"


def test_company_takes_its_siege_name_without_a_unites_legales_file(app, tmp_path):
    path = write_csv(tmp_path / "etab.csv", [
        row("73282932000074", name="SIEGE DE LA SOCIETE"),
        row("73282932000082", siege="false", name="AGENCE"),
    ])
    assert run_import(app, path).exit_code == 0
    with app.app_context():
        assert db.session.get(Company, "732829320").name == "SIEGE DE LA SOCIETE"


def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_imported(app, tmp_path):
    path = write_csv(tmp_path / "etab.csv", [
        row("73282932000074"),                                  # line 2: good
        row("73282932000075"),                                  # line 3: bad key
        row("73282932000082", siege="oui"),                     # line 4
        row("73282932000082", state="X"),                       # line 5
        row("73282932000082", siren="732829321"),               # line 6: bad SIREN key
        row("7328293200008"),                                   # line 7: 13 digits
        row("73282932000082", nic="00009"),                     # line 8: SIRET ≠ SIREN+NIC
    ])
    result = run_import(app, path)
    assert result.exit_code == 1
    out = result.output
    assert "etab.csv, ligne 3 : SIRET « 73282932000075 » invalide (clé de contrôle)" in out
    assert "etab.csv, ligne 4 : etablissementSiege doit valoir true ou false" in out
    assert "etab.csv, ligne 5 : etatAdministratifEtablissement doit valoir A (actif) ou F" in out
    assert "etab.csv, ligne 6 : SIREN « 732829321 » invalide (clé de contrôle)" in out
    assert "etab.csv, ligne 7 : NIC « 0008 » : 5 chiffres attendus" in out
    assert "etab.csv, ligne 8 : SIRET « 73282932000082 » différent de SIREN + NIC" in out
    assert "ligne 2" not in out
    assert "6 ligne(s) en erreur, rien n'a été importé." in out
    assert count(app, Establishment) == 0
    assert count(app, Company) == 0
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "directory.import_establishments")).one()
        assert event.outcome == "failure"
        assert event.details["errors"] == 6


def test_max_errors_sets_bad_rows_aside_with_their_line_and_reason(app, tmp_path):
    path = write_csv(tmp_path / "etab.csv", [
        row("73282932000074"),                                  # line 2: good
        row("73282932000075"),                                  # line 3: bad key
        row("73282932000082", siege="oui"),                     # line 4
        row("73282932000082"),                                  # line 5: good
    ])
    result = run_import(app, path, "--max-errors", "2")
    assert result.exit_code == 0, result.output
    assert "etab.csv : 4 établissement(s) lu(s), 2 créé(s), 0 mis à jour, 0 inchangé(s)." \
        in result.output
    assert f"2 ligne(s) écartée(s), détail dans {path}.rejets.csv." in result.output
    with (tmp_path / "etab.csv.rejets.csv").open(encoding="utf-8") as stream:
        assert list(csv.reader(stream)) == [
            ["ligne", "raison"],
            ["3", "SIRET « 73282932000075 » invalide (clé de contrôle)"],
            ["4", "etablissementSiege doit valoir true ou false"]]
    assert count(app, Establishment) == 2
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "directory.import_establishments")).one()
        assert (event.outcome, event.details["errors"], event.details["max_errors"]) == (
            "success", 2, 2)


def test_more_bad_rows_than_allowed_import_nothing_and_keep_the_report(app, tmp_path):
    path = write_csv(tmp_path / "etab.csv", [
        row("73282932000074"), row("73282932000075"), row("73282932000082", state="X"),
        row("7328293200008")])
    result = run_import(app, path, "--max-errors", "2")
    assert result.exit_code == 1
    assert "3 ligne(s) en erreur (plus que --max-errors 2), rien n'a été importé." \
        in result.output
    assert count(app, Establishment) == 0
    lines = (tmp_path / "etab.csv.rejets.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in lines] == ["ligne", "3", "4", "5"]


def test_max_errors_does_not_excuse_a_wrong_header_or_encoding(app, tmp_path):
    header = [c for c in HEADER if c != "siret"]
    path = write_csv(tmp_path / "etab.csv", [row("73282932000074")], header=header)
    assert run_import(app, path, "--max-errors", "100").exit_code == 1
    broken = tmp_path / "latin1.csv"
    write_csv(broken, [row("73282932000074"), row("73282932000082", name="SOCIÉTÉ")])
    broken.write_bytes(broken.read_bytes().replace("SOCIÉTÉ".encode(), "SOCIÉTÉ".encode(
        "latin-1")))
    result = run_import(app, broken, "--max-errors", "100")
    assert result.exit_code == 1
    assert "le fichier doit être encodé en UTF-8" in result.output
    assert count(app, Establishment) == 0
    assert "--max-errors" in run_import(app, path, "--max-errors", "-1").output


def test_missing_column_is_reported_on_line_one(app, tmp_path):
    header = [c for c in HEADER if c != "etatAdministratifEtablissement"]
    path = write_csv(tmp_path / "etab.csv", [row("73282932000074")], header=header)
    result = run_import(app, path)
    assert result.exit_code == 1
    assert "ligne 1 : colonne(s) obligatoire(s) absente(s) : etatAdministratifEtablissement" \
        in result.output


def test_reimport_updates_instead_of_duplicating(app, tmp_path):
    path = write_csv(tmp_path / "etab.csv", [row("73282932000074", name="ANCIEN NOM")])
    assert run_import(app, path).exit_code == 0
    write_csv(path, [row("73282932000074", name="NOUVEAU NOM", state="F"),
                     row("73282932000082", siege="false", name="NOUVELLE AGENCE")])
    result = run_import(app, path)
    assert result.exit_code == 0
    assert "2 établissement(s) lu(s), 1 créé(s), 0 mis à jour, 1 fermé(s), 0 inchangé(s)." \
        in result.output
    with app.app_context():
        renamed = db.session.get(Establishment, "73282932000074")
        assert (renamed.name, renamed.active) == ("NOUVEAU NOM", False)
    assert count(app, Establishment) == 2


def test_a_newer_stock_updates_closes_and_leaves_the_rest_untouched(app, tmp_path, clock):
    rows = [row("73282932000074"), row("73282932000082", siege="false", name="AGENCE"),
            row("81234567600017", name="BOULANGERIE")]
    path = write_csv(tmp_path / "etab.csv", rows)
    assert run_import(app, path).exit_code == 0

    def stamps():
        with app.app_context():
            return {**{e.siret: e.updated_at for e in db.session.scalars(select(Establishment))},
                    **{c.siren: c.updated_at for c in db.session.scalars(select(Company))}}

    before = stamps()
    clock.advance(3600)
    assert "3 établissement(s) lu(s), 0 créé(s), 0 mis à jour, 3 inchangé(s)." in run_import(
        app, path).output
    assert stamps() == before
    write_csv(path, [rows[0], row("73282932000082", siege="false", name="AGENCE", state="F"),
                     row("81234567600017", name="BOULANGERIE", numeroVoieEtablissement="12"),
                     row("55203253400646")])
    result = run_import(app, path)
    assert "4 établissement(s) lu(s), 1 créé(s), 1 mis à jour, 1 fermé(s), 1 inchangé(s)." \
        in result.output
    after = stamps()
    assert after["73282932000074"] == before["73282932000074"]
    assert after["732829320"] == before["732829320"] and after["812345676"] == before[
        "812345676"]
    assert after["73282932000082"] > before["73282932000082"]
    with app.app_context():
        assert db.session.get(Establishment, "73282932000082").active is False
        assert db.session.get(Establishment, "81234567600017").street_number == "12"
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "directory.import_establishments")
            .order_by(AuditEvent.id.desc())).first()
        assert [event.details[k] for k in ("created", "updated", "closed", "unchanged")] == [
            1, 1, 1, 1]


def test_a_siret_twice_in_one_file_keeps_its_last_row(app, tmp_path):
    path = write_csv(tmp_path / "etab.csv", [row("73282932000074", name="PREMIER"),
                                             row("73282932000082", siege="false"),
                                             row("73282932000074", name="DERNIER")])
    assert "3 établissement(s) lu(s), 2 créé(s)" in run_import(app, path).output
    with app.app_context():
        assert db.session.get(Establishment, "73282932000074").name == "DERNIER"
        assert db.session.get(Company, "732829320").name == "DERNIER"


def test_unites_legales_rename_companies_on_reimport(app, tmp_path):
    establishments = write_csv(tmp_path / "etab.csv", [row("73282932000074")])
    companies = tmp_path / "ul.csv"
    companies.write_text("siren,denominationUniteLegale\n732829320,SOCIETE A\n", encoding="utf-8")
    assert run_import(app, establishments, "--unites-legales", companies).exit_code == 0
    companies.write_text("siren,denominationUniteLegale\n732829320,SOCIETE B\n", encoding="utf-8")
    assert run_import(app, establishments, "--unites-legales", companies).exit_code == 0
    with app.app_context():
        assert db.session.get(Company, "732829320").name == "SOCIETE B"


def test_bad_unites_legales_file_stops_before_the_establishments(app, tmp_path):
    establishments = write_csv(tmp_path / "etab.csv", [row("73282932000074")])
    companies = tmp_path / "ul.csv"
    companies.write_text("siren,denominationUniteLegale\n732829320,SOCIETE A\n12345,X\n",
                         encoding="utf-8")
    result = run_import(app, establishments, "--unites-legales", companies)
    assert result.exit_code == 1
    assert "ul.csv, ligne 3 : SIREN « 12345 » : 9 chiffres attendus" in result.output
    assert count(app, Company) == 0
    assert count(app, Establishment) == 0


@pytest.mark.parametrize(("siret", "accepted"), [
    ("35600000010000", True),   # La Poste: digit sum a multiple of 5, not a Luhn number
    ("35600000000048", True),   # La Poste's siège, an ordinary Luhn number
    ("35600000010001", False),  # digit sum 16
])
def test_la_poste_sirets_follow_their_own_rule(app, tmp_path, siret, accepted):
    path = write_csv(tmp_path / "etab.csv", [row(siret, siege="false", name="LA POSTE")])
    result = run_import(app, path)
    assert (result.exit_code == 0) is accepted, result.output
    assert count(app, Establishment) == (1 if accepted else 0)


def valid_sirets(start, stop):
    """SIRETs of SIREN 732829320 with NICs start..stop-1 and a correct key."""
    bases = (f"73282932{n:05d}" for n in range(start, stop))
    return [base + luhn.calc_check_digit(base) for base in bases]


def test_large_file_streams_in_batches_and_stays_all_or_nothing(app, tmp_path, monkeypatch):
    monkeypatch.setattr(importer_module, "BATCH_SIZE", 50)
    monkeypatch.setattr(bulk_module, "CHUNK_ROWS", 50)  # the PostgreSQL path's chunks
    sirets = valid_sirets(1, 400)
    rows = [row(s, siege="true" if i == 0 else "false") for i, s in enumerate(sirets)]
    result = run_import(app, write_csv(tmp_path / "etab.csv", rows))
    assert result.exit_code == 0, result.output
    assert f"{len(sirets)} établissement(s) lu(s), {len(sirets)} créé(s)" in result.output
    assert count(app, Establishment) == len(sirets)

    # A bad row far past the first batches: the batches already written are undone.
    more = [row(s, siege="false") for s in valid_sirets(1000, 1400)]
    wrong_key = more[350]["siret"][:13] + str((int(more[350]["siret"][13]) + 1) % 10)
    more[350] = row(wrong_key, siege="false")
    result = run_import(app, write_csv(tmp_path / "bad.csv", more))
    assert result.exit_code == 1
    assert f"ligne 352 : SIRET « {wrong_key} » invalide" in result.output
    assert count(app, Establishment) == len(sirets)


def test_file_that_is_not_utf8_is_refused_with_its_line(app, tmp_path):
    path = tmp_path / "etab.csv"
    good = ",".join(row("73282932000074")[c] for c in HEADER)
    path.write_bytes(("\ufeff" + ",".join(HEADER) + "\n" + good + "\n").encode() +
                     "73282932000082,SOCI\xc9T\xc9\n".encode("latin-1"))
    result = run_import(app, path)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "etab.csv, ligne 3 : le fichier doit être encodé en UTF-8" in result.output
    assert count(app, Establishment) == 0


def checks_in_place(app):
    """The establishments' foreign key to companies and their SIREN index."""
    with app.app_context():
        schema = inspect(db.engine)
        keys = [k["referred_table"] for k in schema.get_foreign_keys("establishments")]
        indexes = [i["name"] for i in schema.get_indexes("establishments")]
    return "companies" in keys and "ix_establishments_siren" in indexes


def test_a_first_import_in_chunks_keeps_the_keys_and_indexes(app, tmp_path, monkeypatch):
    # On PostgreSQL a first import into an empty table builds the foreign key and the index
    # once at the end, instead of row by row: they must be back, refused file or not.
    monkeypatch.setattr(bulk_module, "CHUNK_ROWS", 7)
    sirets = valid_sirets(1, 40)
    bad = [row(s, siege="false") for s in sirets]
    bad[30]["etablissementSiege"] = "oui"
    assert run_import(app, write_csv(tmp_path / "bad.csv", bad)).exit_code == 1
    assert checks_in_place(app) and count(app, Establishment) == 0
    rows = [row(s, siege="true" if i == 0 else "false") for i, s in enumerate(sirets)]
    result = run_import(app, write_csv(tmp_path / "etab.csv", rows))
    assert f"{len(sirets)} établissement(s) lu(s), {len(sirets)} créé(s)" in result.output
    assert checks_in_place(app) and count(app, Establishment) == len(sirets)
    with app.app_context():
        assert db.session.get(Company, "732829320").name == "SOCIETE TEST"


def test_a_row_with_a_wrong_number_of_columns_is_set_aside(app, tmp_path):
    path = write_csv(tmp_path / "etab.csv", [row("73282932000074"), row("73282932000082")])
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("DE LA PAIX", "DE LA PAIX,BIS")  # an unquoted comma
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")  # and a blank line
    result = run_import(app, path, "--max-errors", "1")
    assert result.exit_code == 0, result.output
    assert "2 établissement(s) lu(s), 1 créé(s)" in result.output
    rejects = (tmp_path / "etab.csv.rejets.csv").read_text(encoding="utf-8")
    assert "3,14 colonne(s) au lieu de 13 (séparateur ou guillemet mal placé ?)" in rejects
    with app.app_context():
        assert db.session.get(Establishment, "73282932000082") is None


def test_the_luhn_check_agrees_with_python_stdnum():
    draw = random.Random(15)
    numbers = ["".join(draw.choice("0123456789") for _ in range(draw.choice((9, 14))))
               for _ in range(20_000)] + valid_sirets(0, 2000)
    assert [importer_module.luhn_valid(n) for n in numbers] == [
        luhn.is_valid(n) for n in numbers]
