"""« Gérer les portefeuilles »: an accounting firm's (or a holding's) portfolios, their
declarations (the container), their clients and each client's declarations (the content).

Every portfolio is reached through the administrator's company: one owned by another company
is not found. The rules (container ⊇ content, the declarant–declared link of AT/MP) are the
habilitations package's; this desk checks the scope, journals and commits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.admin.emails import AdminMailer
from idp.admin.scope import CompanyScope
from idp.audit.service import AuditJournal, Origin
from idp.habilitations.bulk import BulkHabilitations, BulkReport
from idp.habilitations.models import Portfolio
from idp.habilitations.service import HabilitationRefused, HabilitationService

# « Un conseil : pas plus de 100 sirets dans un portefeuille ! »
ADVISED_CLIENTS = 100
COMPOSITION_MAX_LINES = 10_000


class PortfolioRefused(Exception):
    """The rules refuse a change; ``reason`` names the rule, ``line`` the file line if any."""

    def __init__(self, reason: str, line: int | None = None, siret: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.siret = siret


@dataclass(frozen=True)
class CompositionReport:
    """What a composition file did."""

    added: int
    removed: int
    unchanged: int


class PortfolioDesk:
    """The portfolio screens' actions for an administrator's company."""

    def __init__(self, session: Session, habilitations: HabilitationService,
                 bulk: BulkHabilitations, journal: AuditJournal, mailer: AdminMailer):
        self._session = session
        self._habilitations = habilitations
        self._bulk = bulk
        self._journal = journal
        self._mailer = mailer

    def portfolios(self, scope: CompanyScope) -> list[Portfolio]:
        """The company's portfolios."""
        return self._habilitations.portfolios_of(scope.siren)

    def portfolio(self, scope: CompanyScope, portfolio_id: int) -> Portfolio | None:
        """One of the company's portfolios, or None (unknown, or another company's)."""
        return self._habilitations.portfolio_of(portfolio_id, scope.siren)

    def _done(self, administrator: Account, action: str, origin: Origin, **details) -> None:
        self._journal.record(f"admin.portfolio_{action}", "success",
                             account_id=administrator.id, origin=origin, details=details)
        self._session.commit()

    def _refused(self, refused: HabilitationRefused, **where) -> PortfolioRefused:
        self._session.rollback()
        return PortfolioRefused(refused.reason, **where)

    def create(self, scope: CompanyScope, administrator: Account, owner_siret: str, name: str,
               origin: Origin) -> Portfolio:
        """A new, empty portfolio owned by one of the company's establishments."""
        if scope.establishment(self._session, owner_siret) is None:
            raise PortfolioRefused("unknown_scope")
        portfolio = self._habilitations.create_portfolio(owner_siret, name)
        self._done(administrator, "created", origin, portfolio=portfolio.id, name=name)
        return portfolio

    def rename(self, portfolio: Portfolio, administrator: Account, name: str,
               origin: Origin) -> None:
        """Give the portfolio another name."""
        self._habilitations.rename_portfolio(portfolio, name)
        self._done(administrator, "renamed", origin, portfolio=portfolio.id, name=name)

    def delete(self, portfolio: Portfolio, administrator: Account, origin: Origin) -> None:
        """Delete the portfolio, its clients and the habilitations given through it."""
        portfolio_id = portfolio.id
        self._habilitations.delete_portfolio(portfolio)
        self._done(administrator, "deleted", origin, portfolio=portfolio_id)

    def set_declarations(self, portfolio: Portfolio, administrator: Account,
                         codes: Iterable[str], origin: Origin) -> None:
        """« Gérer les déclarations du portefeuille »: the container."""
        codes = sorted(set(codes))
        try:
            self._habilitations.set_portfolio_services(portfolio, codes)
        except HabilitationRefused as refused:
            raise self._refused(refused) from None
        self._done(administrator, "declarations", origin, portfolio=portfolio.id,
                   services=codes)

    def add_client(self, portfolio: Portfolio, administrator: Account, siret: str,
                   codes: Iterable[str], origin: Origin) -> None:
        """Add a client from the directory with its declarations, among the container's."""
        codes = sorted(set(codes))
        try:
            self._habilitations.add_client(portfolio, siret, codes)
        except HabilitationRefused as refused:
            raise self._refused(refused, siret=siret) from None
        self._done(administrator, "client_added", origin, portfolio=portfolio.id, siret=siret,
                   services=codes)

    def set_client_declarations(self, portfolio: Portfolio, administrator: Account,
                                siret: str, codes: Iterable[str], origin: Origin) -> None:
        """« Gérer les déclarations » of one client."""
        codes = sorted(set(codes))
        try:
            self._habilitations.set_client_services(portfolio, siret, codes)
        except HabilitationRefused as refused:
            raise self._refused(refused, siret=siret) from None
        self._done(administrator, "client_declarations", origin, portfolio=portfolio.id,
                   siret=siret, services=codes)

    def remove_client(self, portfolio: Portfolio, administrator: Account, siret: str,
                      origin: Origin) -> bool:
        """Take a client out of the portfolio; whether it was in."""
        removed = self._habilitations.remove_client(portfolio, siret)
        if removed:
            self._done(administrator, "client_removed", origin, portfolio=portfolio.id,
                       siret=siret)
        return bool(removed)

    def compose(self, portfolio: Portfolio, administrator: Account, stream: io.TextIOBase,
                origin: Origin) -> CompositionReport:
        """A ``SIRET;1/0`` file: 1 adds the client (every declaration of the container),
        0 takes it out. Checked whole first: one bad line and nothing changes."""
        wanted: dict[str, tuple[bool, int]] = {}
        for number, row in enumerate(csv.reader(stream, delimiter=";"), start=1):
            if number > COMPOSITION_MAX_LINES:
                raise PortfolioRefused("too_many_lines", number)
            if not row or row == [""]:
                continue
            if len(row) != 2 or row[1].strip() not in ("0", "1"):
                raise PortfolioRefused("bad_line", number)
            siret = row[0].strip()
            if not (len(siret) == 14 and siret.isascii() and siret.isdigit()) or siret in wanted:
                raise PortfolioRefused("bad_siret" if siret not in wanted else "duplicate",
                                       number, siret)
            wanted[siret] = (row[1].strip() == "1", number)
        if not wanted:
            raise PortfolioRefused("empty")
        present = self._habilitations.client_sirets(portfolio, sorted(wanted))
        added = removed = 0
        for siret, (keep, number) in wanted.items():
            try:
                if keep and siret not in present:
                    self._habilitations.add_client(portfolio, siret)
                    added += 1
                elif not keep and siret in present:
                    self._habilitations.remove_client(portfolio, siret)
                    removed += 1
            except HabilitationRefused as refused:
                raise self._refused(refused, line=number, siret=siret) from None
        self._done(administrator, "composed", origin, portfolio=portfolio.id, added=added,
                   removed=removed)
        return CompositionReport(added, removed, len(wanted) - added - removed)

    def apply_file(self, portfolio: Portfolio, administrator: Account, declarant: Account,
                   lines: Iterable[bytes], origin: Origin) -> BulkReport:
        """A declarant's bulk habilitation file for the portfolio: all of it or, on any
        error, nothing (the report lists the lines). Raises BulkTooSoon within 48 hours."""
        report = self._bulk.apply(declarant.id, portfolio, lines, administrator.id)
        if report.errors:
            self._session.commit()  # only the 48-hour slot, released by the refusal
            return report
        self._done(administrator, "bulk_file", origin, portfolio=portfolio.id,
                   declarant=str(declarant.id), lines=report.lines, added=report.added,
                   removed=report.removed)
        if report.added or report.removed:
            self._mailer.bulk_applied(declarant, portfolio.name, report.added, report.removed)
        return report
