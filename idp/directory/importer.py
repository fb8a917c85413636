"""Import of the INSEE SIRENE stock files into the directory (RCD).

Streams the CSV in batches inside one transaction: a file of a million rows never sits in
memory. By default a file with a bad row imports nothing (all-or-nothing per file); with
``max_errors`` (the national stock, where a handful of odd rows must not block millions) up
to that many bad rows are set aside, each handed to ``set_aside`` with its line and reason,
and the rest imported. A file whose header or encoding is wrong imports nothing either way.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.exceptions import ValidationError
from stdnum.fr import siren as stdnum_siren
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


def _text(row: dict, column: str) -> str | None:
    value = (row.get(column) or "").strip()
    return value if value and value != NON_DIFFUSIBLE else None


def _diffusible(row: dict, column: str) -> bool:
    """False for statutDiffusion P (partly diffusible) or N; absent means diffusible."""
    return (_text(row, column) or "O") not in ("P", "N")


def _check_siren(value: str | None) -> str:
    if not value or not value.isdigit() or len(value) != 9:
        raise RowRejected(f"SIREN « {value or ''} » : 9 chiffres attendus")
    try:
        return stdnum_siren.validate(value)
    except ValidationError as exc:
        raise RowRejected(f"SIREN « {value} » invalide (clé de contrôle)") from exc


def _establishment(row: dict) -> dict:
    """The establishments row for one CSV row, or RowRejected."""
    siren = _check_siren(_text(row, "siren"))
    nic = _text(row, "nic") or ""
    if not nic.isdigit() or len(nic) != 5:
        raise RowRejected(f"NIC « {nic} » : 5 chiffres attendus")
    siret = _text(row, "siret") or ""
    if not siret.isdigit() or len(siret) != 14:
        raise RowRejected(f"SIRET « {siret} » : 14 chiffres attendus")
    if siret != siren + nic:
        raise RowRejected(f"SIRET « {siret} » différent de SIREN + NIC ({siren}{nic})")
    try:
        stdnum_siret.validate(siret)  # Luhn, or La Poste's digit sum for SIREN 356000000
    except ValidationError as exc:
        raise RowRejected(f"SIRET « {siret} » invalide (clé de contrôle)") from exc
    headquarters = (_text(row, "etablissementSiege") or "").lower()
    if headquarters not in ("true", "false"):
        raise RowRejected("etablissementSiege doit valoir true ou false")
    state = _text(row, "etatAdministratifEtablissement")
    if state not in ("A", "F"):
        raise RowRejected("etatAdministratifEtablissement doit valoir A (actif) ou F (fermé)")
    return {
        "siret": siret,
        "siren": siren,
        "nic": nic,
        "is_headquarters": headquarters == "true",
        "name": _text(row, "denominationUsuelleEtablissement")
        or _text(row, "enseigne1Etablissement"),
        "street_number": _text(row, "numeroVoieEtablissement"),
        "street_type": _text(row, "typeVoieEtablissement"),
        "street_name": _text(row, "libelleVoieEtablissement"),
        "postal_code": _text(row, "codePostalEtablissement"),
        "city": _text(row, "libelleCommuneEtablissement"),
        "active": state == "A",
        "diffusible": _diffusible(row, "statutDiffusionEtablissement"),
        "updated_at": utcnow(),
    }


def _company(row: dict) -> dict:
    """The companies row for one StockUniteLegale row, or RowRejected."""
    siren = _check_siren(_text(row, "siren"))
    name = _text(row, "denominationUniteLegale") or " ".join(
        p for p in (_text(row, "prenom1UniteLegale"), _text(row, "nomUniteLegale")) if p
    )
    diffusible = _diffusible(row, "statutDiffusionUniteLegale")
    if not name and diffusible:
        raise RowRejected("denominationUniteLegale vide")
    return {"siren": siren, "name": name or None, "diffusible": diffusible,
            "updated_at": utcnow()}


def _decoded_lines(stream: BinaryIO) -> Iterator[str]:
    """Decode line by line, so that a bad byte is reported on its own line (BOM tolerated)."""
    for number, line in enumerate(stream):
        yield line.decode("utf-8-sig" if number == 0 else "utf-8")


def _rows(stream: BinaryIO, required: tuple[str, ...], report: ImportReport) -> Iterator[tuple]:
    """Yield (line number, row) from a CSV stream whose header holds ``required``."""
    reader = csv.DictReader(_decoded_lines(stream))
    try:
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            report.refuse(1, "colonne(s) obligatoire(s) absente(s) : " + ", ".join(missing))
            return
        for row in reader:
            yield reader.line_num, row
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
        return self._import(stream, report, COMPANY_COLUMNS, _company, Company.__table__,
                            "siren", self._write_companies, "directory.import_companies")

    def import_establishments(self, stream: BinaryIO, name: str, max_errors: int = 0,
                              set_aside: Callable[[RowError], None] | None = None,
                              ) -> ImportReport:
        """Import a StockEtablissement-style file."""
        report = ImportReport(file=name, max_errors=max_errors, set_aside=set_aside)
        return self._import(stream, report, ESTABLISHMENT_COLUMNS, _establishment,
                            Establishment.__table__, "siret", self._write_establishments,
                            "directory.import_establishments")

    def _import(self, stream, report, columns, parse, table, key, write,
                action) -> ImportReport:
        """Parse each row, write valid rows (COPY then one merge on PostgreSQL, batches
        elsewhere), undo everything if the file is unreadable or holds more bad rows than
        allowed."""
        batch: dict[str, dict] = {}
        staged: StagedMerge | None = None
        bulk = is_postgresql(self._session)
        for line, row in _rows(stream, columns, report):
            report.rows += 1
            try:
                record = parse(row)
            except RowRejected as exc:
                report.reject(line, str(exc))
                continue
            if not report.ok:  # past the allowed bad rows nothing is written
                continue
            if bulk:
                staged = staged or StagedMerge(self._session, table, key, list(record))
                staged.add(line, record)
                continue
            batch[record[key]] = record  # a key twice in one batch: the last row wins
            if len(batch) >= BATCH_SIZE:
                write(batch, report)
        if staged is not None:
            staged.close()
            if report.ok:
                if table is Establishment.__table__:
                    staged.name_companies()  # the foreign key first
                staged.merge(report)
        elif report.ok:
            write(batch, report)
        return self._finish(action, report)

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
