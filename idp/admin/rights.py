"""« Gérer les habilitations »: the grid of a declarant's rights per establishment × service.

The grid shows what is stored (boxes to tick), what the declarant already has without a box
of its own (through the whole company, or implied by another service: shown, never stored),
and refuses rights on a service the establishment does not subscribe to. The rules
themselves stay in ``habilitations``: this module only reads and writes through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.admin.emails import AdminMailer
from idp.admin.scope import CompanyScope
from idp.audit.service import AuditJournal, Origin
from idp.habilitations.models import Granularity, Portfolio, Right, Service
from idp.habilitations.service import HabilitationRefused, HabilitationService

COMPANY = "siren"
ESTABLISHMENT = "siret"
PORTFOLIO = "portfolio_id"  # a declarant's rights on every client of a portfolio
ROWS_PER_PAGE = 20


class GridRefused(Exception):
    """A ticked box the rules refuse; ``reason`` names the rule."""

    def __init__(self, reason: str, cell: str):
        super().__init__(f"{reason}: {cell}")
        self.reason = reason
        self.cell = cell


@dataclass
class Cell:
    """One service for one scope: its boxes and what the declarant already has."""

    kind: str  # COMPANY, ESTABLISHMENT or PORTFOLIO
    scope: str  # the SIREN or the SIRET
    service: Service
    subscribed: bool
    stored: Right = Right(0)
    inherited: Right = Right(0)  # effective without a box of this cell
    implied_by: list[str] = field(default_factory=list)
    effective_from: datetime | None = None

    @property
    def key(self) -> str:
        """The cell's name in the form: ``siret:<SIRET>:<service>``."""
        return f"{self.kind}:{self.scope}:{self.service.code}"

    @property
    def rights(self) -> list[Right]:
        """The boxes: the rights the service knows."""
        return [right for right in Right if right in self.service.known_rights]


@dataclass
class Row:
    """A line of the grid: the whole company or one establishment."""

    label: str
    kind: str
    scope: str
    cells: list[Cell]


@dataclass(frozen=True)
class Subscribed:
    """The company's subscriptions, as (service, SIRET or SIREN) pairs."""

    pairs: set[tuple[str, str]]

    def covers(self, code: str, kind: str, value: str) -> bool:
        """Whether rights on ``code`` may be given for that scope: an establishment
        subscribed itself or through a SIREN-wide subscription; the company once any of it
        subscribes."""
        if kind == COMPANY:
            return any(service == code for service, _ in self.pairs)
        if kind == PORTFOLIO:
            return (code, value) in self.pairs  # the portfolio's container
        return (code, value) in self.pairs or (code, value[:9]) in self.pairs


@dataclass(frozen=True)
class Change:
    """What « Valider » changed in one cell."""

    service: str
    kind: str
    scope: str
    before: Right
    after: Right
    label: str  # the scope as the e-mail names it


class RightsGrid:
    """Reads and writes a declarant's grid, for an administrator of the same company."""

    def __init__(self, session: Session, habilitations: HabilitationService,
                 journal: AuditJournal, mailer: AdminMailer, clock: Callable[[], datetime]):
        self._session = session
        self._habilitations = habilitations
        self._journal = journal
        self._mailer = mailer
        self._clock = clock

    def services(self, service_code: str | None = None) -> list[Service]:
        """The catalogue, or the one service asked for (empty if unknown)."""
        return [s for s in self._habilitations.catalogue()
                if service_code in (None, "", s.code)]

    def rows(self, scope: CompanyScope, declarant: Account, service_code: str | None = None,
             siret: str | None = None, page: int = 1) -> list[Row]:
        """The grid: the company's row, then one row per establishment (a page of them)."""
        services = self.services(service_code)
        establishments = [e for e in scope.establishments(self._session)
                          if siret in (None, "", e.siret)]
        start = (page - 1) * ROWS_PER_PAGE
        establishments = establishments[start:start + ROWS_PER_PAGE]
        stored = self._stored(declarant)
        subscribed = self._subscribed(scope)
        now = self._clock()
        rows = [Row(scope.siren, COMPANY, scope.siren, [
            self._cell(COMPANY, scope.siren, s, stored, subscribed, declarant, now)
            for s in services])]
        for establishment in establishments:
            rows.append(Row(f"{establishment.siret} – {establishment.display_name}",
                            ESTABLISHMENT, establishment.siret, [
                                self._cell(ESTABLISHMENT, establishment.siret, s, stored,
                                           subscribed, declarant, now)
                                for s in services
                                if s.granularity is not Granularity.SIREN]))
        return rows

    def portfolio_row(self, portfolio: Portfolio, declarant: Account) -> Row:
        """The declarant's rights on the whole portfolio, one cell per service of its
        container."""
        stored = self._stored(declarant)
        container = self._container(portfolio)
        now = self._clock()
        return Row(portfolio.name, PORTFOLIO, str(portfolio.id), [
            self._cell(PORTFOLIO, str(portfolio.id), s, stored, container, declarant, now)
            for s in self.services() if (s.code, str(portfolio.id)) in container.pairs])

    @staticmethod
    def _container(portfolio: Portfolio) -> Subscribed:
        return Subscribed({(s.service_code, str(portfolio.id)) for s in portfolio.services})

    def _stored(self, declarant: Account) -> dict:
        # The declarant's habilitations by (service, scope): SIRET, SIREN or portfolio id
        # (per-client portfolio rights are the bulk file's, not the grid's).
        return {(h.service_code, h.siret or h.siren or str(h.portfolio_id)): h
                for h in self._habilitations.habilitations_of(declarant.id)
                if h.client_siret is None}

    def _subscribed(self, scope: CompanyScope) -> Subscribed:
        return Subscribed({(s.service_code, s.siret or s.siren)
                           for s in self._habilitations.subscriptions_for(scope.siren)})

    def _cell(self, kind: str, value: str, service: Service, stored: dict,
              subscribed: Subscribed, declarant: Account, now: datetime) -> Cell:
        habilitation = stored.get((service.code, value))
        own = Right(habilitation.rights) if habilitation else Right(0)
        cell = Cell(kind, value, service, subscribed.covers(service.code, kind, value),
                    own, effective_from=habilitation.effective_from if habilitation else None)
        if habilitation and habilitation.effective_from <= now:
            cell.effective_from = None
        if kind == ESTABLISHMENT:
            # What it has, or will have once the access delay of a new grant has passed.
            soon = now + timedelta(hours=service.access_delay_hours)
            effective = self._habilitations.rights_on(declarant.id, service.code, value, soon)
            cell.inherited = effective & ~own
        for code in service.implied_by or ():
            lender = stored.get((code, value)) or stored.get((code, value[:9]))
            if lender and Right(lender.rights) & service.known_rights:
                cell.implied_by.append(code)
                cell.inherited |= Right(lender.rights) & service.known_rights & ~own
        return cell

    def apply(self, scope: CompanyScope, administrator: Account, declarant: Account,
              shown: list[str], ticked: set[str], origin: Origin,
              portfolio: Portfolio | None = None) -> list[Change]:
        """Make the shown cells say what is ticked (``<cell key>:<right>``); one journal
        entry and one e-mail for the whole grid. Raises GridRefused, changing nothing.

        With ``portfolio`` (one of the company's), the cells are that portfolio's."""
        services = {s.code: s for s in self._habilitations.catalogue()}
        stored = self._stored(declarant)
        subscribed = self._container(portfolio) if portfolio else self._subscribed(scope)
        wanted: dict[tuple[str, str, str], Right] = {}
        for key in shown:
            kind, value, code = self._parse(scope, services, key, portfolio)
            wanted[(kind, value, code)] = Right(0)
        for key in ticked:
            cell, _, name = key.rpartition(":")
            kind, value, code = self._parse(scope, services, cell, portfolio)
            if (kind, value, code) not in wanted or name.upper() not in Right.__members__:
                raise GridRefused("unknown_cell", key)
            right = Right[name.upper()]
            if right not in services[code].known_rights:
                raise GridRefused("unknown_right", key)
            wanted[(kind, value, code)] |= right
        changes = []
        try:
            for (kind, value, code), mask in sorted(wanted.items()):
                habilitation = stored.get((code, value))
                before = Right(habilitation.rights) if habilitation else Right(0)
                if mask == before:
                    continue
                if mask & ~before and not subscribed.covers(code, kind, value):
                    raise GridRefused("not_subscribed", f"{kind}:{value}:{code}")
                try:
                    where = {kind: int(value) if kind == PORTFOLIO else value}
                    if mask:
                        self._habilitations.grant(declarant.id, code, rights=mask,
                                                  granted_by=administrator.id, **where)
                    else:
                        self._habilitations.revoke(declarant.id, code, **where)
                except HabilitationRefused as refused:
                    raise GridRefused(refused.reason, f"{kind}:{value}:{code}") from None
                changes.append(Change(code, kind, value, before, mask,
                                      portfolio.name if portfolio else value))
        except GridRefused:
            self._session.rollback()  # nothing of the grid is written
            raise
        if changes:
            self._journal.record("admin.habilitations_changed", "success",
                                 account_id=administrator.id, origin=origin, details={
                                     "declarant": str(declarant.id),
                                     "changes": [{"service": c.service, c.kind: c.scope,
                                                  "before": c.before.names(),
                                                  "after": c.after.names()}
                                                 for c in changes]})
            self._session.commit()
            self._mailer.habilitations_changed(declarant, changes)
        return changes

    @staticmethod
    def _parse(scope: CompanyScope, services: dict[str, Service], key: str,
               portfolio: Portfolio | None) -> tuple[str, str, str]:
        kind, _, rest = key.partition(":")
        value, _, code = rest.partition(":")
        allowed = (PORTFOLIO,) if portfolio else (COMPANY, ESTABLISHMENT)
        if code not in services or kind not in allowed:
            raise GridRefused("unknown_cell", key)
        if kind == PORTFOLIO and value != str(portfolio.id):
            raise GridRefused("unknown_cell", key)
        if kind == COMPANY and value != scope.siren:
            raise GridRefused("unknown_cell", key)
        if kind == ESTABLISHMENT and (len(value) != 14 or value[:9] != scope.siren
                                      or services[code].granularity is Granularity.SIREN):
            raise GridRefused("unknown_cell", key)
        return kind, value, code
