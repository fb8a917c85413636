"""The SIRENE stock import at scale: a synthetic stock in INSEE's own column layout (53
columns for StockEtablissement, 34 for StockUniteLegale), imported once, then re-imported with
1 % of its rows changed (names and addresses moved, establishments closed), as every month.

The stock holds multi-establishment companies, closed establishments, La Poste offices (SIREN
356000000, whose SIRETs follow La Poste's digit-sum rule instead of Luhn) and non-diffusible
units (``statutDiffusion… = P``, their fields ``[ND]`` as in the open data). It prints rows
per second for each file of both imports and the import's own report.

Run: ``.venv/bin/python bench/directory.py [--establishments 300000] [--database-url URL]``
(PostgreSQL by default; the database's name must contain ``bench``).
"""

# The imports follow the sys.path fix below (as in bench/habilitations.py).
# ruff: noqa: E402

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse
import csv
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from stdnum import luhn

from bench.load import _create_database_if_missing, refuse_unless_bench

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_directory"
SECRET_KEY = "bench-secret-key"  # noqa: S105
LA_POSTE = "356000000"
NON_DIFFUSIBLE = "[ND]"

ESTABLISHMENT_HEADER = (
    "siren", "nic", "siret", "statutDiffusionEtablissement", "dateCreationEtablissement",
    "trancheEffectifsEtablissement", "anneeEffectifsEtablissement",
    "activitePrincipaleRegistreMetiersEtablissement", "dateDernierTraitementEtablissement",
    "etablissementSiege", "nombrePeriodesEtablissement", "complementAdresseEtablissement",
    "numeroVoieEtablissement", "indiceRepetitionEtablissement",
    "dernierNumeroVoieEtablissement", "indiceRepetitionDernierNumeroVoieEtablissement",
    "typeVoieEtablissement", "libelleVoieEtablissement", "codePostalEtablissement",
    "libelleCommuneEtablissement", "libelleCommuneEtrangerEtablissement",
    "distributionSpecialeEtablissement", "codeCommuneEtablissement", "codeCedexEtablissement",
    "libelleCedexEtablissement", "codePaysEtrangerEtablissement",
    "libellePaysEtrangerEtablissement", "identifiantAdresseEtablissement",
    "coordonneeLambertAbscisseEtablissement", "coordonneeLambertOrdonneeEtablissement",
    "complementAdresse2Etablissement", "numeroVoie2Etablissement",
    "indiceRepetition2Etablissement", "typeVoie2Etablissement", "libelleVoie2Etablissement",
    "codePostal2Etablissement", "libelleCommune2Etablissement",
    "libelleCommuneEtranger2Etablissement", "distributionSpeciale2Etablissement",
    "codeCommune2Etablissement", "codeCedex2Etablissement", "libelleCedex2Etablissement",
    "codePaysEtranger2Etablissement", "libellePaysEtranger2Etablissement", "dateDebut",
    "etatAdministratifEtablissement", "enseigne1Etablissement", "enseigne2Etablissement",
    "enseigne3Etablissement", "denominationUsuelleEtablissement",
    "activitePrincipaleEtablissement", "nomenclatureActivitePrincipaleEtablissement",
    "caractereEmployeurEtablissement",
)
COMPANY_HEADER = (
    "siren", "statutDiffusionUniteLegale", "unitePurgeeUniteLegale", "dateCreationUniteLegale",
    "sigleUniteLegale", "sexeUniteLegale", "prenom1UniteLegale", "prenom2UniteLegale",
    "prenom3UniteLegale", "prenom4UniteLegale", "prenomUsuelUniteLegale",
    "pseudonymeUniteLegale", "identifiantAssociationUniteLegale",
    "trancheEffectifsUniteLegale", "anneeEffectifsUniteLegale",
    "dateDernierTraitementUniteLegale", "nombrePeriodesUniteLegale", "categorieEntreprise",
    "anneeCategorieEntreprise", "dateDebut", "etatAdministratifUniteLegale", "nomUniteLegale",
    "nomUsageUniteLegale", "denominationUniteLegale", "denominationUsuelle1UniteLegale",
    "denominationUsuelle2UniteLegale", "denominationUsuelle3UniteLegale",
    "categorieJuridiqueUniteLegale", "activitePrincipaleUniteLegale",
    "nomenclatureActivitePrincipaleUniteLegale", "nicSiegeUniteLegale",
    "economieSocialeSolidaireUniteLegale", "societeMissionUniteLegale",
    "caractereEmployeurUniteLegale",
)
STREETS = ("RUE", "AV", "BD", "PL", "CHE", "IMP", "ALL")
TOWNS = (("69002", "LYON"), ("38000", "GRENOBLE"), ("75011", "PARIS"), ("13001", "MARSEILLE"),
         ("31000", "TOULOUSE"), ("59000", "LILLE"), ("33000", "BORDEAUX"), ("44000", "NANTES"))
assert len(ESTABLISHMENT_HEADER) == 53 and len(COMPANY_HEADER) == 34


def siren_of(number: int) -> str:
    """The SIREN of company ``number``: eight digits and their Luhn key."""
    body = f"{10_000_000 + number:08d}"
    return body + luhn.calc_check_digit(body)


def siret_of(siren: str, index: int) -> str:
    """The SIRET of establishment ``index`` of ``siren``: Luhn, or La Poste's digit sum."""
    if siren == LA_POSTE:
        nic = 10 * index  # four digits, then the one that makes the digit sum a multiple of 5
        digits = sum(map(int, f"{siren}{nic:04d}"))
        return f"{siren}{nic:04d}{(5 - digits % 5) % 5}"
    body = f"{siren}{index + 1:04d}"
    return body + luhn.calc_check_digit(body)


class Stock:
    """One month's stock: companies with 1 to 8 establishments (a few closed), La Poste's
    offices, and one unit in 50 non-diffusible; ``changed`` moves that share of rows."""

    def __init__(self, establishments: int, seed: int = 2026):
        self.establishments = establishments
        self._seed = seed

    def companies(self) -> Iterator[tuple[str, int, bool]]:
        """(SIREN, establishments, non-diffusible) until the stock's size is reached."""
        draw = random.Random(self._seed)
        offices = max(1, self.establishments // 1000)
        yield LA_POSTE, offices, False
        left, number = self.establishments - offices, 0
        while left > 0:
            count = min(left, 1 if draw.random() < 0.8 else draw.randint(2, 8))
            yield siren_of(number), count, draw.random() < 0.02
            left -= count
            number += 1

    def write(self, folder: Path, changed: float = 0.0) -> tuple[Path, Path, int]:
        """Write StockUniteLegale and StockEtablissement into ``folder``; the files and the
        number of companies."""
        draw = random.Random(self._seed + 1)
        moved = random.Random(self._seed + 2)
        units, places = folder / "StockUniteLegale.csv", folder / "StockEtablissement.csv"
        with units.open("w", newline="") as u, places.open("w", newline="") as p:
            unit_rows, place_rows = csv.writer(u), csv.writer(p)
            unit_rows.writerow(COMPANY_HEADER)
            place_rows.writerow(ESTABLISHMENT_HEADER)
            count = 0
            for siren, establishments, hidden in self.companies():
                count += 1
                change = moved.random() < changed
                unit_rows.writerow(self._unit(siren, hidden, change))
                for index in range(establishments):
                    postal, town = TOWNS[draw.randrange(len(TOWNS))]
                    closed = draw.random() < 0.1
                    if moved.random() < changed:  # half the changes close, half move
                        if moved.random() < 0.5:
                            closed = True
                        else:
                            postal, town = TOWNS[(TOWNS.index((postal, town)) + 1) % len(TOWNS)]
                    place_rows.writerow(self._place(siren, index, hidden, postal, town,
                                                    closed, draw.randrange(1, 200)))
        return units, places, count

    def _unit(self, siren: str, hidden: bool, renamed: bool) -> list[str]:
        row = dict.fromkeys(COMPANY_HEADER, "")
        name = "LA POSTE" if siren == LA_POSTE else f"SOCIETE {siren}"
        row.update(siren=siren, statutDiffusionUniteLegale="P" if hidden else "O",
                   dateCreationUniteLegale="2004-03-01", etatAdministratifUniteLegale="A",
                   dateDebut="2004-03-01", categorieJuridiqueUniteLegale="5710",
                   nicSiegeUniteLegale="00010" if siren == LA_POSTE else "00012")
        if hidden:  # a sole trader who asked not to be listed: the open data says [ND]
            row.update(nomUniteLegale=NON_DIFFUSIBLE, prenom1UniteLegale=NON_DIFFUSIBLE,
                       categorieJuridiqueUniteLegale="1000")
        else:
            row["denominationUniteLegale"] = name + (" (NOUVEAU NOM)" if renamed else "")
        return [row[column] for column in COMPANY_HEADER]

    def _place(self, siren: str, index: int, hidden: bool, postal: str, town: str,
               closed: bool, number: int) -> list[str]:
        row = dict.fromkeys(ESTABLISHMENT_HEADER, "")
        siret = siret_of(siren, index)
        row.update(siren=siren, nic=siret[9:], siret=siret,
                   statutDiffusionEtablissement="P" if hidden else "O",
                   dateCreationEtablissement="2004-03-01", etablissementSiege=str(
                       index == 0).lower(), dateDebut="2004-03-01",
                   etatAdministratifEtablissement="F" if closed and index else "A",
                   activitePrincipaleEtablissement="49.41A",
                   nomenclatureActivitePrincipaleEtablissement="NAFRev2",
                   caractereEmployeurEtablissement="O", codePostalEtablissement=postal)
        if hidden:
            row.update(numeroVoieEtablissement=NON_DIFFUSIBLE,
                       libelleVoieEtablissement=NON_DIFFUSIBLE,
                       libelleCommuneEtablissement=town)
        else:
            row.update(numeroVoieEtablissement=str(number),
                       typeVoieEtablissement=STREETS[number % len(STREETS)],
                       libelleVoieEtablissement=f"DES ENTREPRISES {number}",
                       libelleCommuneEtablissement=town,
                       denominationUsuelleEtablissement="" if index == 0 else
                       f"AGENCE {index}")
        return [row[column] for column in ESTABLISHMENT_HEADER]


def timed_import(app, units: Path, places: Path) -> list[tuple[str, int, float, object]]:
    """Import both files through the directory's importer: (file, rows, seconds, report)."""
    from idp.audit.deps import audit_journal
    from idp.directory.importer import DirectoryImporter
    from idp.extensions import db

    results = []
    with app.app_context():
        importer = DirectoryImporter(db.session, audit_journal())
        for path, run in ((units, importer.import_companies),
                          (places, importer.import_establishments)):
            start = time.perf_counter()
            with path.open("rb") as stream:
                report = run(stream, path.name)
            elapsed = time.perf_counter() - start
            if not report.ok:
                raise SystemExit(f"{path.name} refused: {report.errors[:3]}")
            results.append((path.name, report.rows, elapsed, report))
    return results


def show(title: str, results) -> None:
    """Print one import's figures."""
    print(f"\n{title}")
    for name, rows, elapsed, report in results:
        counts = ", ".join(f"{field} {getattr(report, field):,}" for field in (
            "created", "updated", "closed", "unchanged"))
        print(f"  {name:<24} {rows:>11,} rows {elapsed:8.1f} s {rows / elapsed:>10,.0f} rows/s"
              f"   ({counts})")
    rows, elapsed = sum(r[1] for r in results), sum(r[2] for r in results)
    print(f"  {'both files':<24} {rows:>11,} rows {elapsed:8.1f} s "
          f"{rows / elapsed:>10,.0f} rows/s")


def main() -> None:
    """Generate, import, re-import with 1 % changed, print."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--establishments", type=int, default=300_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    url = refuse_unless_bench(args.database_url)
    if url.get_backend_name() == "postgresql":
        _create_database_if_missing(args.database_url)

    from bench.habilitations import Base
    from idp import create_app

    app = create_app({"DATABASE_URL": args.database_url, "SECRET_KEY": SECRET_KEY})
    print(f"database: {url.render_as_string(hide_password=True)}")
    Base(args.database_url, 1.0).reset_schema(app)
    stock = Stock(args.establishments)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        units, places, companies = stock.write(Path(folder))
        print(f"stock written: {args.establishments:,} establishments, {companies:,} legal "
              f"units, {places.stat().st_size / 1e6:,.0f} MB, "
              f"{time.perf_counter() - start:.1f} s")
        show("first import", timed_import(app, units, places))
        units, places, _ = stock.write(Path(folder), changed=args.changed)
        show(f"re-import, {args.changed:.0%} of rows changed", timed_import(app, units, places))


if __name__ == "__main__":
    main()
