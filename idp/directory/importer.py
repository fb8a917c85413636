"""Import of the INSEE SIRENE stock files into the directory (RCD).

Streams the CSV in batches inside one transaction: a file of a million rows never sits in
memory. By default a file with a bad row imports nothing (all-or-nothing per file); with
``max_errors`` (the national stock, where a handful of odd rows must not block millions) up
to that many bad rows are set aside, each handed to ``set_aside`` with its line and reason,
and the rest imported. A file whose header or encoding is wrong imports nothing either way.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import BinaryIO

from sqlalchemy import Table, select
from sqlalchemy.orm import Session
from stdnum.fr import siret as stdnum_siret

from idp.audit.service import AuditJournal
from idp.db_helpers import is_postgresql, upsert
from idp.directory.bulk import StagedMerge
from idp.directory.models import Company, Establishment
from idp.models_common import utcnow

BATCH_SIZE = 1000
MAX_REPORTED_ERRORS = 100

ESTABLISHMENT_COLUMNS = ("siren", "nic", "siret", "etablissementSiege",
                         "etatAdministratifEtablissement")
COMPANY_COLUMNS = ("siren", "denominationUniteLegale")


@dataclass
class RowError:
    """A rejected line of the file."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"ligne {self.line} : {self.reason}"


@dataclass
class ImportReport:
    """What an import did, or why it did nothing."""

    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    closed: int = 0  # establishments active before, closed (état F) in this file
    unchanged: int = 0  # rows equal to what is stored: not written, updated_at kept
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    max_errors: int = 0
    unreadable: bool = False
    set_aside: Callable[[RowError], None] | None = None

    @property
    def ok(self) -> bool:
        """Whether the file is imported: readable, and no more bad rows than allowed."""
        return not self.unreadable and self.error_count <= self.max_errors

    def reject(self, line: int, reason: str) -> None:
        """Record a bad row (only the first ones are kept in full; every one goes to
        ``set_aside``)."""
        self.error_count += 1
        error = RowError(line, reason)
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)
        if self.set_aside is not None:
            self.set_aside(error)

    def refuse(self, line: int, reason: str) -> None:
        """Record what makes the whole file unreadable (header, encoding, CSV syntax)."""
        self.unreadable = True
        self.reject(line, reason)


class RowRejected(Exception):
    """A row that cannot be imported, with the reason in French."""


NON_DIFFUSIBLE = "[ND]"  # what the open data prints in place of a withheld value
LA_POSTE = "356000000"  # its offices' SIRETs follow a digit-sum rule instead of Luhn

# The columns each parser reads, in the order it unpacks them; the record fields it returns,
# in the order it returns them (the import adds ``updated_at``).
ESTABLISHMENT_READ = (*ESTABLISHMENT_COLUMNS, "denominationUsuelleEtablissement",
                      "enseigne1Etablissement", "numeroVoieEtablissement",
                      "typeVoieEtablissement", "libelleVoieEtablissement",
                      "codePostalEtablissement", "libelleCommuneEtablissement",
                      "statutDiffusionEtablissement")
ESTABLISHMENT_FIELDS = ("siret", "siren", "nic", "is_headquarters", "name", "street_number",
                        "street_type", "street_name", "postal_code", "city", "active",
                        "diffusible")
COMPANY_READ = (*COMPANY_COLUMNS, "prenom1UniteLegale", "nomUniteLegale",
                "statutDiffusionUniteLegale")
COMPANY_FIELDS = ("siren", "name", "diffusible")


def _text(value: str) -> str | None:
    value = value.strip()
    return value if value and value != NON_DIFFUSIBLE else None


def _diffusible(value: str) -> bool:
    """False for statutDiffusion P (partly diffusible) or N; absent means diffusible."""
    return value.strip() not in ("P", "N")


_DIGIT = {str(d): d for d in range(10)}
_DOUBLED = {str(d): (2 * d) // 10 + (2 * d) % 10 for d in range(10)}


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (SIREN, SIRET).

    The same sum as python-stdnum's ``luhn.checksum`` (the tests compare them), without
    its per-digit generator: that generator was half the time of parsing a stock row.
    """
    return (sum(map(_DIGIT.__getitem__, digits[-1::-2]))
            + sum(map(_DOUBLED.__getitem__, digits[-2::-2]))) % 10 == 0


@functools.lru_cache(maxsize=4096)
def _check_siren(value: str) -> str:
    # Cached: the establishments of one company follow each other in the stock, so its
    # SIREN is checked once, not once per establishment.
    if not value.isdigit() or len(value) != 9:
        raise RowRejected(f"SIREN « {value} » : 9 chiffres attendus")
    if not luhn_valid(value):
        raise RowRejected(f"SIREN « {value} » invalide (clé de contrôle)")
    return value


def _check_siret_key(siret: str) -> None:
    # The digits and the SIREN are checked already: stdnum's siret.validate would clean the
    # number and check the SIREN again. La Poste's offices keep stdnum's own rule.
    valid = stdnum_siret.is_valid(siret) if siret.startswith(LA_POSTE) else luhn_valid(siret)
    if not valid:
        raise RowRejected(f"SIRET « {siret} » invalide (clé de contrôle)")


def _establishment(values: tuple[str, ...]) -> tuple:
    """The establishment record (ESTABLISHMENT_FIELDS) of one row's ESTABLISHMENT_READ
    values, or RowRejected."""
    (siren, nic, siret, headquarters, state, denomination, sign, number, street_type, street,
     postal_code, city, diffusion) = values
    siren = _check_siren(siren.strip())
    nic, siret = nic.strip(), siret.strip()
    if not nic.isdigit() or len(nic) != 5:
        raise RowRejected(f"NIC « {nic} » : 5 chiffres attendus")
    if not siret.isdigit() or len(siret) != 14:
        raise RowRejected(f"SIRET « {siret} » : 14 chiffres attendus")
    if siret != siren + nic:
        raise RowRejected(f"SIRET « {siret} » différent de SIREN + NIC ({siren}{nic})")
    _check_siret_key(siret)
    headquarters = headquarters.strip().lower()
    if headquarters not in ("true", "false"):
        raise RowRejected("etablissementSiege doit valoir true ou false")
    state = state.strip()
    if state not in ("A", "F"):
        raise RowRejected("etatAdministratifEtablissement doit valoir A (actif) ou F (fermé)")
    return (siret, siren, nic, headquarters == "true", _text(denomination) or _text(sign),
            _text(number), _text(street_type), _text(street), _text(postal_code), _text(city),
            state == "A", _diffusible(diffusion))


def _company(values: tuple[str, ...]) -> tuple:
    """The company record (COMPANY_FIELDS) of one row's COMPANY_READ values, or
    RowRejected."""
    siren, denomination, first_name, last_name, diffusion = values
    siren = _check_siren(siren.strip())
    name = _text(denomination) or " ".join(
        p for p in (_text(first_name), _text(last_name)) if p)
    diffusible = _diffusible(diffusion)
    if not name and diffusible:
        raise RowRejected("denominationUniteLegale vide")
    return siren, name or None, diffusible


@dataclass(frozen=True)
class _Kind:
    """What one stock file holds, how its rows become records and where they go."""

    required: tuple[str, ...]
    read: tuple[str, ...]
    parse: Callable[[tuple[str, ...]], tuple]
    fields: tuple[str, ...]
    table: Table
    action: str  # the audit journal's name for importing such a file
    companies_first: bool  # its rows name companies (the foreign key) before their own


ESTABLISHMENTS = _Kind(ESTABLISHMENT_COLUMNS, ESTABLISHMENT_READ, _establishment,
                       ESTABLISHMENT_FIELDS, Establishment.__table__,
                       "directory.import_establishments", companies_first=True)
COMPANIES = _Kind(COMPANY_COLUMNS, COMPANY_READ, _company, COMPANY_FIELDS, Company.__table__,
                  "directory.import_companies", companies_first=False)


def _decoded_lines(stream: BinaryIO) -> Iterator[str]:
    """Decode line by line, so that a bad byte is reported on its own line (BOM tolerated)."""
    for number, line in enumerate(stream):
        yield line.decode("utf-8-sig" if number == 0 else "utf-8")


def _rows(stream: BinaryIO, kind: _Kind, report: ImportReport) -> Iterator[tuple]:
    """Yield (line number, the row's values of ``kind.read``) from a CSV stream whose header
    holds ``kind.required``; an optional column the header lacks reads as empty."""
    reader = csv.reader(_decoded_lines(stream))
    try:
        header = next(reader, [])
        missing = [c for c in kind.required if c not in header]
        if missing:
            report.refuse(1, "colonne(s) obligatoire(s) absente(s) : " + ", ".join(missing))
            return
        width = len(header)
        # csv.reader and itemgetter run in C: a dict per row over 53 columns cost more than
        # all the checks together. Index ``width`` is the empty value appended to each row.
        pick = itemgetter(*(header.index(c) if c in header else width for c in kind.read))
        for values in reader:
            if not values:
                continue  # a blank line, as csv.DictReader skips it
            if len(values) != width:
                report.rows += 1
                report.reject(reader.line_num, f"{len(values)} colonne(s) au lieu de {width} "
                                               "(séparateur ou guillemet mal placé ?)")
                continue
            values.append("")
            yield reader.line_num, pick(values)
    except UnicodeDecodeError:
        report.refuse(reader.line_num + 1, "le fichier doit être encodé en UTF-8")
    except csv.Error as exc:
        report.refuse(reader.line_num, f"CSV illisible ({exc})")


class DirectoryImporter:
    """Imports SIRENE stock files in the caller's database session, journaling each file."""

    def __init__(self, session: Session, journal: AuditJournal):
        self._session = session
        self._journal = journal

    def import_companies(self, stream: BinaryIO, name: str, max_errors: int = 0,
                         set_aside: Callable[[RowError], None] | None = None) -> ImportReport:
        """Import a StockUniteLegale-style file: company names by SIREN."""
        report = ImportReport(file=name, max_errors=max_errors, set_aside=set_aside)
        return self._import(stream, report, COMPANIES, self._write_companies)

    def import_establishments(self, stream: BinaryIO, name: str, max_errors: int = 0,
                              set_aside: Callable[[RowError], None] | None = None,
                              ) -> ImportReport:
        """Import a StockEtablissement-style file."""
        report = ImportReport(file=name, max_errors=max_errors, set_aside=set_aside)
        return self._import(stream, report, ESTABLISHMENTS, self._write_establishments)

    def _import(self, stream, report, kind: _Kind, write) -> ImportReport:
        """Parse each row, write valid rows (COPY then one merge on PostgreSQL, batches
        elsewhere), undo everything if the file is unreadable or holds more bad rows than
        allowed."""
        batch: dict[str, dict] = {}
        staged: StagedMerge | None = None
        bulk = is_postgresql(self._session)
        stamp = (utcnow(),)  # one updated_at for the rows this file writes
        columns = [*kind.fields, "updated_at"]
        parse = kind.parse
        for line, values in _rows(stream, kind, report):
            report.rows += 1
            try:
                record = parse(values) + stamp
            except RowRejected as exc:
                report.reject(line, str(exc))
                continue
            if not report.ok:  # past the allowed bad rows nothing is written
                continue
            if bulk:
                staged = staged or StagedMerge(self._session, kind.table, columns[0], columns,
                                               companies_first=kind.companies_first)
                staged.add(line, record)
                continue
            batch[record[0]] = dict(zip(columns, record, strict=True))  # last row wins
            if len(batch) >= BATCH_SIZE:
                write(batch, report)
        if staged is not None:
            if report.ok:
                staged.finish(report)
            else:
                staged.abandon()
        elif report.ok:
            write(batch, report)
        return self._finish(kind.action, report)

    def _changed(self, table, key: str, batch: dict[str, dict],
                 report: ImportReport) -> list[dict]:
        # The batch's rows that are new or differ from the stored ones, counted; the others
        # are not written at all, so a monthly re-import rewrites only what moved.
        compared = [c for c in next(iter(batch.values())) if c not in (key, "updated_at")]
        stored = {found[0]: tuple(found[1:]) for found in self._session.execute(
            select(table.c[key], *(table.c[c] for c in compared))
            .where(table.c[key].in_(list(batch))))}
        written = []
        for name, record in batch.items():
            before = stored.get(name)
            if before is None:
                report.created += 1
            elif before == tuple(record[c] for c in compared):
                report.unchanged += 1
                continue
            elif "active" in compared and before[compared.index("active")] \
                    and not record["active"]:
                report.closed += 1
            else:
                report.updated += 1
            written.append(record)
        return written

    def _write_companies(self, batch: dict[str, dict], report: ImportReport) -> None:
        if not batch:
            return
        upsert(self._session, Company.__table__,
               self._changed(Company.__table__, "siren", batch, report), ["siren"],
               lambda excluded: {"name": excluded.name, "diffusible": excluded.diffusible,
                                 "updated_at": excluded.updated_at})
        batch.clear()

    def _write_establishments(self, batch: dict[str, dict], report: ImportReport) -> None:
        if not batch:
            return
        # Companies first (foreign key). A company not named by a StockUniteLegale file
        # takes its siège's name until one is imported; a named one is not written.
        companies: dict[str, dict] = {}
        for row in batch.values():
            if row["siren"] not in companies or row["is_headquarters"]:
                companies[row["siren"]] = {
                    "siren": row["siren"],
                    "name": row["name"] if row["is_headquarters"] else None,
                    "updated_at": row["updated_at"],
                }
        company_table = Company.__table__
        upsert(self._session, company_table, list(companies.values()), ["siren"],
               lambda excluded: {"name": excluded.name},
               where=lambda excluded: company_table.c.name.is_(None)
               & excluded.name.is_not(None))

        columns = [c for c in next(iter(batch.values())) if c != "siret"]
        upsert(self._session, Establishment.__table__,
               self._changed(Establishment.__table__, "siret", batch, report), ["siret"],
               lambda excluded: {c: getattr(excluded, c) for c in columns})
        batch.clear()

    def _finish(self, action: str, report: ImportReport) -> ImportReport:
        if report.ok:
            outcome = "success"
        else:
            self._session.rollback()  # all-or-nothing: the whole file is undone
            report.created = report.updated = report.closed = report.unchanged = 0
            outcome = "failure"
        self._journal.record(action, outcome, details={
            "file": report.file, "rows": report.rows, "created": report.created,
            "updated": report.updated, "closed": report.closed,
            "unchanged": report.unchanged, "errors": report.error_count,
            "max_errors": report.max_errors,
        })
        self._session.commit()
        return report
