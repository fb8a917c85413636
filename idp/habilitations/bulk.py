"""The bulk habilitation file of one declarant on one portfolio (« fichier d'habilitations »).

``SIRET;DSN;ATMP…`` then one line per client, ``1`` where the declarant has the declaration
on that client (a per-client portfolio habilitation with every right the service knows),
``0`` where not. The file is read as a stream and checked whole before anything changes:
its rows go to a temporary table in batches, the checks that need the database are a few
set-based queries on it, and so is the change (INSERT … SELECT, DELETE … EXISTS), so a
50,000-line file costs a handful of statements and rows that stay as they were are not
touched. One file per portfolio per 48 hours: the slot is claimed by a conditional UPDATE
(the row lock settles a race) and given back when the file is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from stdnum.fr import siret as siret_number

from idp.habilitations.models import (
    Habilitation,
    Portfolio,
    PortfolioClient,
    PortfolioClientService,
    PortfolioService,
    Service,
)
from idp.models_common import UTCDateTime

UPLOAD_INTERVAL = timedelta(hours=48)
BATCH = 1_000  # rows per executemany, clients per export query
MAX_ERRORS = 1_000  # enough to fix a file; a wholly wrong file does not fill memory

H = Habilitation


@dataclass(frozen=True)
class BulkError:
    """A refused line: its number (1 is the header), a stable reason code, a detail."""

    line: int
    reason: str
    detail: str = ""


@dataclass
class BulkReport:
    """What a file did (nothing at all when it has errors)."""

    lines: int = 0
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    errors: list[BulkError] = field(default_factory=list)


class BulkTooSoon(Exception):
    """The portfolio had a file less than 48 hours ago; ``allowed_at`` says when it may."""

    def __init__(self, allowed_at: datetime):
        super().__init__(f"next bulk file allowed at {allowed_at.isoformat()}")
        self.allowed_at = allowed_at


class BulkHabilitations:
    """Exports, checks and applies bulk habilitation files."""

    def __init__(self, session: Session, clock: Callable[[], datetime]):
        self._session = session
        self._clock = clock

    def template(self, portfolio: Portfolio) -> str:
        """The header line for the portfolio's declarations."""
        return _line(["SIRET", *self._container(portfolio)])

    def export(self, account_id: uuid.UUID, portfolio: Portfolio) -> Iterator[str]:
        """The declarant's per-client rights on the portfolio, header first, by SIRET."""
        codes = self._container(portfolio)
        yield _line(["SIRET", *codes])
        after = ""
        while True:
            sirets = list(self._session.scalars(
                select(PortfolioClient.siret)
                .where(PortfolioClient.portfolio_id == portfolio.id,
                       PortfolioClient.siret > after)
                .order_by(PortfolioClient.siret).limit(BATCH)))
            if not sirets:
                return
            held = {(siret, code) for siret, code in self._session.execute(
                select(H.client_siret, H.service_code).where(
                    H.account_id == account_id, H.client_siret.in_(sirets),
                    H.portfolio_id == portfolio.id))}
            for siret in sirets:
                yield _line([siret, *("1" if (siret, c) in held else "0" for c in codes)])
            after = sirets[-1]

    def apply(self, account_id: uuid.UUID, portfolio: Portfolio,
              lines: Iterable[bytes | str], granted_by: uuid.UUID | None,
              now: datetime | None = None) -> BulkReport:
        """Check the whole file, then apply it, or nothing if any line is wrong (flushed,
        not committed); raises ``BulkTooSoon`` within 48 hours of the last file."""
        now = now or self._clock()
        self._claim(portfolio, now)
        staging = _staging_table()
        connection = self._session.connection()
        staging.create(connection)
        try:
            report = self._stage(portfolio, lines, staging)
            if not report.errors:
                report.errors = self._check_clients(portfolio, staging)
            if report.errors:
                report.errors.sort(key=lambda error: error.line)
                del report.errors[MAX_ERRORS:]
                self._release(portfolio)
                return report
            cells = self._change(account_id, portfolio, staging, granted_by, now, report)
            report.unchanged = cells - report.added - report.removed
            return report
        finally:
            staging.drop(connection)

    # --- the 48-hour slot -------------------------------------------------------------

    def _claim(self, portfolio: Portfolio, now: datetime) -> None:
        # The first statement of the transaction writes: on PostgreSQL the row lock makes
        # a concurrent claim wait and then see the new time; SQLite serialises writers.
        claimed = self._session.execute(
            update(Portfolio).where(
                Portfolio.id == portfolio.id,
                or_(Portfolio.last_bulk_upload_at.is_(None),
                    Portfolio.last_bulk_upload_at <= now - UPLOAD_INTERVAL))
            .values(last_bulk_upload_at=now),
            execution_options={"synchronize_session": False})
        self._session.expire(portfolio, ["last_bulk_upload_at"])
        if claimed.rowcount != 1:
            raise BulkTooSoon(portfolio.last_bulk_upload_at + UPLOAD_INTERVAL)

    def _release(self, portfolio: Portfolio) -> None:
        # Older than 48 hours or none: the same to the rule, so a refused file frees it.
        self._session.execute(
            update(Portfolio).where(Portfolio.id == portfolio.id)
            .values(last_bulk_upload_at=None), execution_options={"synchronize_session": False})
        self._session.expire(portfolio, ["last_bulk_upload_at"])

    # --- checking ---------------------------------------------------------------------

    def _stage(self, portfolio: Portfolio, lines: Iterable[bytes | str],
               staging: Table) -> BulkReport:
        # Checks each line on its own and loads its cells, BATCH rows per executemany.
        report = BulkReport()
        errors = report.errors
        codes: list[str] | None = None
        seen: dict[str, int] = {}
        batch: list[dict] = []
        for number, raw in enumerate(lines, start=1):
            try:
                text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            except UnicodeDecodeError:
                errors.append(BulkError(number, "encoding"))
                if codes is None:
                    return report
                continue
            text = text.rstrip("\r\n")
            if codes is None:
                codes = self._header(portfolio, text.removeprefix("\ufeff"), errors)
                if errors:
                    return report
                continue
            if not text.strip():
                continue  # blank lines (a last empty line, say) mean nothing
            report.lines += 1
            cells = text.split(";")
            if len(cells) != len(codes) + 1:
                errors.append(BulkError(number, "column_count", str(len(cells))))
                continue
            siret, values = cells[0], cells[1:]
            if not siret_number.is_valid(siret) or len(siret) != 14:
                errors.append(BulkError(number, "siret_syntax", siret))
                continue
            if siret in seen:
                errors.append(BulkError(number, "duplicate_siret", f"{siret} {seen[siret]}"))
                continue
            seen[siret] = number
            bad = [code for code, value in zip(codes, values, strict=True)
                   if value not in ("0", "1")]
            if bad:
                errors.append(BulkError(number, "cell_value", bad[0]))
                continue
            if len(errors) >= MAX_ERRORS:
                continue  # the file is refused already: stop loading it
            batch.extend({"line": number, "siret": siret, "service_code": code,
                          "wanted": int(value)} for code, value in zip(codes, values,
                                                                      strict=True))
            if len(batch) >= BATCH:
                self._session.execute(insert(staging), batch)
                batch = []
        if codes is None:
            errors.append(BulkError(1, "empty_file"))
        elif not report.lines and not errors:
            errors.append(BulkError(2, "empty_file"))
        if batch and not errors:
            self._session.execute(insert(staging), batch)
        return report

    def _header(self, portfolio: Portfolio, text: str, errors: list[BulkError]) -> list[str]:
        cells = text.split(";")
        if cells[0] != "SIRET" or len(cells) < 2:
            errors.append(BulkError(1, "header", cells[0]))
            return []
        container = set(self._container(portfolio))
        codes: list[str] = []
        for code in cells[1:]:
            if code in codes:
                errors.append(BulkError(1, "duplicate_column", code))
            elif code not in container:
                errors.append(BulkError(1, "unknown_column", code))
            codes.append(code)
        return codes

    def _check_clients(self, portfolio: Portfolio, staging: Table) -> list[BulkError]:
        # Two anti-joins on the staged rows: SIRETs that are not clients, and 1s for a
        # declaration the client does not have.
        s = staging.c
        client = exists().where(PortfolioClient.portfolio_id == portfolio.id,
                                PortfolioClient.siret == s.siret)
        declared = exists().where(PortfolioClientService.portfolio_id == portfolio.id,
                                  PortfolioClientService.siret == s.siret,
                                  PortfolioClientService.service_code == s.service_code)
        errors = [BulkError(line, "not_a_client", siret) for line, siret in self._session.execute(
            select(s.line, s.siret).where(~client).group_by(s.line, s.siret)
            .order_by(s.line).limit(MAX_ERRORS))]
        errors += [BulkError(line, "not_held", f"{siret} {code}")
                   for line, siret, code in self._session.execute(
                       select(s.line, s.siret, s.service_code)
                       .where(s.wanted == 1, client, ~declared)
                       .order_by(s.line, s.service_code).limit(MAX_ERRORS))]
        return errors

    # --- applying ---------------------------------------------------------------------

    def _change(self, account_id: uuid.UUID, portfolio: Portfolio, staging: Table,
                granted_by: uuid.UUID | None, now: datetime, report: BulkReport) -> int:
        # Per declaration of the file (a few): insert the new 1s, delete the rows now 0.
        s = staging.c
        codes = list(self._session.scalars(select(s.service_code).distinct()))
        services = {service.code: service for service in self._session.scalars(
            select(Service).where(Service.code.in_(codes)))}
        for code in codes:
            service = services[code]
            mine = and_(H.account_id == account_id, H.service_code == code,
                        H.client_siret == s.siret, H.portfolio_id == portfolio.id)
            # A right given in bulk waits like any other (see HabilitationService.grant).
            start = now + timedelta(hours=service.access_delay_hours)
            # SQLAlchemy keeps an INSERT's rowcount only when asked (preserve_rowcount).
            added = self._session.execute(insert(H).from_select(
                ["account_id", "service_code", "portfolio_id", "client_siret", "rights",
                 "effective_from", "granted_by", "granted_at"],
                select(literal(account_id, Uuid), literal(code, String(16)),
                       literal(portfolio.id, Integer), s.siret,
                       literal(service.rights, SmallInteger), literal(start, UTCDateTime),
                       literal(granted_by, Uuid), literal(now, UTCDateTime))
                .where(s.service_code == code, s.wanted == 1, ~exists().where(mine))),
                execution_options={"preserve_rowcount": True})
            report.added += added.rowcount
            removed = self._session.execute(
                delete(H).where(H.account_id == account_id, H.service_code == code,
                                H.portfolio_id == portfolio.id, H.client_siret.is_not(None),
                                exists().where(s.siret == H.client_siret,
                                               s.service_code == code, s.wanted == 0)),
                execution_options={"synchronize_session": False})
            report.removed += removed.rowcount
        return self._session.scalar(select(func.count()).select_from(staging))

    def _container(self, portfolio: Portfolio) -> list[str]:
        return list(self._session.scalars(select(PortfolioService.service_code).where(
            PortfolioService.portfolio_id == portfolio.id).order_by(
            PortfolioService.service_code)))


def _staging_table() -> Table:
    # Per call and per connection (TEMPORARY): concurrent files never meet. The key is what
    # the DELETE probes (a duplicated SIRET or column is refused before it is staged).
    return Table(f"bulk_rows_{uuid.uuid4().hex[:16]}", MetaData(),
                 Column("line", Integer, nullable=False),
                 Column("siret", String(14), primary_key=True),
                 Column("service_code", String(16), primary_key=True),
                 Column("wanted", SmallInteger, nullable=False),
                 prefixes=["TEMPORARY"])


def _line(cells: Iterable[str]) -> str:
    return ";".join(cells) + "\r\n"
