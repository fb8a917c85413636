"""The habilitation rules: the check, the listing tokens carry, and the writes
(docs/architecture.md §3).

A right reaches SIRET X for service S through a habilitation of the account on
  * X itself;
  * X's SIREN (all establishments of the company, present and future);
  * a whole portfolio that has X as a client, X having the habilitation's declaration among
    its own (each client has its declarations, chosen among the portfolio's container);
  * X as one client of a portfolio (a per-client habilitation, what the bulk file writes),
    under the same condition;
and a habilitation on a service A that implies S (A is in ``S.implied_by``, e.g. PPREV is
implied by ATMP or MCF) counts for S, limited to the rights S knows. Where the habilitation's
service requires a declarant–declared link (ATMP), the portfolio branches count only if the
portfolio's firm filed a DSN for X in the last three months; the company's own people,
habilitated on a SIRET or SIREN, need no link. Only habilitations already effective count.

The check is one statement, a UNION ALL of the four branches; each is an index probe on the
unique partial index of its scope, (account_id, service_code, siret | siren | portfolio_id |
client_siret + portfolio_id). A single SELECT with an OR across the scopes cannot use partial
indexes and reads the whole table. The catalogue facts (implications, link rule, known
rights) are read once per service object from the small ``services`` table and enter the
statement as constants.

``rights_on_many`` is the same statement for a list of SIRETs (each branch probes its index
with the whole list: one round trip for up to a thousand). ``listing_after`` serves the listing
page by page after a keyset position (service, own or implied, habilitation id, SIRET): its
queries are limited in SQL and read a portfolio's clients by primary key after the last SIRET
served, so a page never expands a portfolio further than it shows.

``EXPLAIN`` on PostgreSQL over 100,000+ habilitations (tests/habilitations/test_plan.py) shows
every branch on an index: the portfolio branches reach ``portfolio_clients``,
``portfolio_client_services`` and ``portfolio_services`` by their primary keys
(portfolio_id, …), ``portfolios`` by id and ``declarant_links`` by its primary key
(declarant_siret, declared_siret). The one index added for them, (client_siret,
portfolio_id) on per-client rows, serves removing a client (its rows go with it), not the
check. An index on (account_id, effective_from) would not help: the check always knows the
service and the scope, which the unique indexes lead with.

Writes flush (ids exist, conflicts surface at once) but never commit: the caller owns the
unit of work and commits it once, so a registration, a demo load or a transfer lands whole or
not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import CompoundSelect, Select, exists, or_, select, union_all
from sqlalchemy.orm import Session

from idp.directory.models import Company, Establishment
from idp.habilitations.common import LINK_VALIDITY, HabilitationRefused
from idp.habilitations.models import (
    DeclarantLink,
    Granularity,
    Habilitation,
    Portfolio,
    PortfolioClient,
    PortfolioClientService,
    PortfolioService,
    Right,
    Service,
    Subscription,
)
from idp.habilitations.portfolios import PortfolioRules
from idp.habilitations.visibility import VisibilityRules
from idp.models_common import utcnow

H = Habilitation
# The conditions of each partial unique index of habilitations, one per kind of scope.
_SCOPES = ((H.siret.is_not(None),), (H.siren.is_not(None),),
           (H.portfolio_id.is_not(None), H.client_siret.is_(None)),
           (H.client_siret.is_not(None),))


class ListingKey(NamedTuple):
    """A position in ``listing``'s order: the entry's service, whether it is implied, the
    habilitation it comes from and its SIRET ("" for a SIREN entry). Unique per entry."""

    service: str
    implied: bool
    habilitation_id: int
    siret: str


@dataclass(frozen=True)
class CatalogueEntry:
    """A service as the catalogue describes it: what ``load_catalogue`` writes."""

    code: str
    label: str
    granularity: Granularity
    rights: tuple[str, ...]
    implied_by: tuple[str, ...] = ()
    requires_declarant_link: bool = False
    access_delay_hours: int = 24


@dataclass(frozen=True)
class _Facts:
    """What the rules need of a service, copied out of the session (it survives commits)."""

    granularity: Granularity
    rights: Right
    access_delay: timedelta
    implied_by: tuple[str, ...]
    requires_link: bool


class HabilitationService(PortfolioRules, VisibilityRules):
    """Answers « which rights on S for X? », lists habilitations, and writes them (the
    portfolios' composition comes from ``PortfolioRules``)."""

    def __init__(self, session: Session, clock: Callable[[], datetime] = utcnow):
        self._session = session
        self._clock = clock
        self._facts: dict[str, _Facts] | None = None

    # --- the catalogue ------------------------------------------------------------------

    def catalogue(self) -> list[Service]:
        """The services of the catalogue, by code."""
        return list(self._session.scalars(select(Service).order_by(Service.code)))

    def load_catalogue(self, entries: Iterable[CatalogueEntry]) -> None:
        """Create or refresh these services (flushed, not committed)."""
        entries = list(entries)
        codes = {entry.code for entry in entries} | set(self._catalogue())
        for entry in entries:
            unknown = set(entry.implied_by) - codes
            if unknown:
                raise HabilitationRefused("unknown_service",
                                          f"{entry.code} implied by unknown {sorted(unknown)}")
            service = self._session.get(Service, entry.code) or Service(code=entry.code)
            service.label = entry.label
            service.granularity = entry.granularity
            service.rights = int(Right.from_names(entry.rights))
            service.implied_by = list(entry.implied_by)
            service.requires_declarant_link = entry.requires_declarant_link
            service.access_delay_hours = entry.access_delay_hours
            self._session.add(service)
        self._session.flush()
        self._facts = None

    def _catalogue(self) -> dict[str, _Facts]:
        # A handful of rows, read once per service object (one request, one command).
        if self._facts is None:
            self._facts = {
                s.code: _Facts(Granularity(s.granularity), Right(s.rights),
                               timedelta(hours=s.access_delay_hours), tuple(s.implied_by or ()),
                               bool(s.requires_declarant_link))
                for s in self._session.scalars(select(Service))}
        return self._facts

    def knows_service(self, code: str) -> bool:
        """Whether ``code`` is a service of the catalogue (read once per service object)."""
        return code in self._catalogue()

    def _service(self, code: str) -> _Facts:
        facts = self._catalogue().get(code)
        if facts is None:
            raise HabilitationRefused("unknown_service", f"unknown service {code!r}")
        return facts

    def _implying(self, code: str) -> list[str]:
        # One level only: a service implied by an implied service is not implied in turn.
        catalogue = self._catalogue()
        facts = catalogue.get(code)
        return [a for a in facts.implied_by if a in catalogue and a != code] if facts else []

    def scope_for(self, service_code: str, siret: str) -> dict[str, str]:
        """The scope to grant or subscribe ``service_code`` for an establishment: its SIREN
        for a per-company service, else the SIRET."""
        if self._service(service_code).granularity is Granularity.SIREN:
            return {"siren": siret[:9]}
        return {"siret": siret}

    # --- the check ----------------------------------------------------------------------

    def rights_on(self, account_id: uuid.UUID, service_code: str, siret: str,
                  at: datetime | None = None) -> Right:
        """The effective rights of ``account_id`` on ``service_code`` for ``siret``."""
        facts = self._catalogue().get(service_code)
        known = facts.rights if facts else Right(0)
        rights = Right(0)
        statement = self.check_statement(account_id, service_code, siret, at)
        for code, mask in self._session.execute(statement):
            # An implying service lends only the rights the implied service knows.
            rights |= Right(mask) if code == service_code else Right(mask) & known
        return rights

    def check_statement(self, account_id: uuid.UUID, service_code: str, siret: str,
                        at: datetime | None = None) -> CompoundSelect:
        """The one statement ``rights_on`` runs: (service_code, rights) rows to OR."""
        at = at or self._clock()
        codes = [service_code, *self._implying(service_code)]
        by_siret, by_siren, by_portfolio, by_client = self._by_scope(
            (H.service_code, H.rights), account_id, codes, at)
        return union_all(by_siret.where(H.siret == siret),
                         by_siren.where(H.siren == siret[:9]),
                         self._through_portfolio(by_portfolio, codes, at,
                                                 PortfolioClient.siret == siret, siret),
                         self._through_portfolio(by_client.where(H.client_siret == siret),
                                                 codes, at, PortfolioClient.siret == siret,
                                                 siret))

    def rights_on_many(self, account_id: uuid.UUID, service_code: str, sirets: Iterable[str],
                       at: datetime | None = None) -> dict[str, Right]:
        """``rights_on`` for each of ``sirets`` (say, up to a thousand) in one statement."""
        sirets = sorted(set(sirets))
        rights = dict.fromkeys(sirets, Right(0))
        if not sirets:
            return rights
        facts = self._catalogue().get(service_code)
        known = facts.rights if facts else Right(0)
        by_siren: dict[str, list[str]] = {}
        for siret in sirets:
            by_siren.setdefault(siret[:9], []).append(siret)
        statement = self.check_many_statement(account_id, service_code, sirets, at)
        for code, mask, scope in self._session.execute(statement):
            mask = Right(mask) if code == service_code else Right(mask) & known
            for siret in by_siren.get(scope, ()) if len(scope) == 9 else (scope,):
                rights[siret] |= mask
        return rights

    def check_many_statement(self, account_id: uuid.UUID, service_code: str,
                             sirets: list[str], at: datetime | None = None) -> CompoundSelect:
        """The statement ``rights_on_many`` runs: (service_code, rights, scope) rows, where
        scope is the SIRET or SIREN the row applies to: the check's four branches, each
        probing its index for the whole list at once."""
        at = at or self._clock()
        codes = [service_code, *self._implying(service_code)]
        by_siret, by_siren, by_portfolio, by_client = self._by_scope(
            (H.service_code, H.rights), account_id, codes, at)
        return union_all(
            by_siret.add_columns(H.siret.label("scope")).where(H.siret.in_(sirets)),
            by_siren.add_columns(H.siren.label("scope"))
            .where(H.siren.in_(sorted({s[:9] for s in sirets}))),
            *(self._through_portfolio(branch, codes, at, client, PortfolioClient.siret)
              .add_columns(PortfolioClient.siret.label("scope"))
              for branch, client in (
                  (by_portfolio, PortfolioClient.siret.in_(sirets)),
                  (by_client.where(H.client_siret.in_(sirets)),
                   PortfolioClient.siret == H.client_siret))))

    def _through_portfolio(self, branch: Select, codes: list[str], at: datetime,
                           client, declared) -> Select:
        # The portfolio branches: the client ``client`` selects (for a per-client
        # habilitation, its own client), which has the habilitation's declaration, held by
        # the container; for a service needing it, a recent DSN of the firm for
        # ``declared``. Each join is a primary key probe.
        branch = (
            branch
            .join(PortfolioClient, (PortfolioClient.portfolio_id == H.portfolio_id) & client)
            .join(PortfolioClientService,
                  (PortfolioClientService.portfolio_id == H.portfolio_id)
                  & (PortfolioClientService.siret == PortfolioClient.siret)
                  & (PortfolioClientService.service_code == H.service_code))
            .join(PortfolioService, (PortfolioService.portfolio_id == H.portfolio_id)
                  & (PortfolioService.service_code == H.service_code)))
        catalogue = self._catalogue()
        linked = [c for c in codes if c in catalogue and catalogue[c].requires_link]
        if linked:
            recent_dsn = exists().where(
                Portfolio.id == H.portfolio_id,
                DeclarantLink.declarant_siret == Portfolio.owner_siret,
                DeclarantLink.declared_siret == declared,
                DeclarantLink.last_dsn_at >= at - LINK_VALIDITY)
            free = [c for c in codes if c not in linked]
            branch = branch.where(
                or_(H.service_code.in_(free), recent_dsn) if free else recent_dsn)
        return branch

    @staticmethod
    def _by_scope(columns, account_id: uuid.UUID, codes: Iterable[str],
                  at: datetime) -> list[Select]:
        # One SELECT per kind of scope: each condition set matches the partial unique index
        # (account_id, service_code, siret | siren | portfolio_id | client_siret…) of that
        # scope: SIRET, SIREN, whole portfolio, one client of a portfolio.
        common = (H.account_id == account_id, H.service_code.in_(sorted(set(codes))),
                  H.effective_from <= at)
        return [select(*columns).where(*common, *scope) for scope in _SCOPES]

    # --- the listing --------------------------------------------------------------------

    def listing(self, account_id: uuid.UUID, services: Iterable[str],
                at: datetime | None = None) -> list[dict]:
        """The habilitations tokens carry for ``services``: one entry per SIRET or SIREN.

        A portfolio habilitation becomes one SIRET entry per client having the declaration
        (link rule applied), a per-client one the entry of its client if it has it; a
        habilitation on an implying service adds an entry for the implied one, marked
        ``implied_by`` (shown as such, never stored).
        """
        at = at or self._clock()
        catalogue = self._catalogue()
        services = set(services)  # read twice below
        counts_for = self._counts_for(services)
        if not counts_for:
            return []
        rows = sorted(self._session.execute(self.listing_statement(account_id, services, at)),
                      key=lambda row: row.id)
        clients = self._clients({(r.portfolio_id, r.service_code) for r in rows
                                 if r.portfolio_id is not None and r.client_siret is None}, at)
        found: list[tuple[str, bool, int, dict]] = []
        for row in rows:
            if row.siret:
                scopes = [("siret", row.siret)]
            elif row.siren:
                scopes = [("siren", row.siren)]
            elif row.client_siret:
                scopes = [("siret", row.client_siret)]
            else:
                scopes = [("siret", c) for c in clients.get((row.portfolio_id, row.service_code),
                                                            ())]
            for service in counts_for[row.service_code]:
                implied = service != row.service_code
                mask = Right(row.rights)
                if implied:
                    mask &= catalogue[service].rights  # only what the implied service knows
                if not mask:
                    continue
                extra = {"implied_by": row.service_code} if implied else {}
                found.extend((service, implied, row.id,
                              {"service": service, key: value, "rights": mask.names(), **extra})
                             for key, value in scopes)
        # Per service: its own habilitations, then implied ones, each by habilitation id; a
        # portfolio's clients stay in SIRET order (the sort is stable).
        found.sort(key=lambda item: item[:3])
        return [entry for *_, entry in found]

    def listing_after(self, account_id: uuid.UUID, services: Iterable[str],
                      after: ListingKey | None, limit: int,
                      at: datetime | None = None) -> tuple[list[dict], ListingKey | None]:
        """One page of ``listing``: at most ``limit`` entries after the position ``after``
        (``None``: from the start), and the position of the last one when more follow.

        Keyset paging, never OFFSET: each (service, own or implied) group of the listing's
        order reads its habilitations by id after the position, ``limit`` + 1 at a time, and a
        portfolio's clients by SIRET after the position the same way, so page 100 of a
        50,000-client portfolio costs what page 1 does.
        """
        at = at or self._clock()
        found: list[tuple[ListingKey, dict]] = []
        for item in self._entries_after(account_id, sorted(set(services)), after, at,
                                        limit + 1):
            found.append(item)
            if len(found) > limit:
                break
        page = found[:limit]
        more = len(found) > limit
        return [entry for _, entry in page], (page[-1][0] if more and page else None)

    def _entries_after(self, account_id: uuid.UUID, services: list[str],
                       after: ListingKey | None, at: datetime,
                       batch: int) -> Iterator[tuple[ListingKey, dict]]:
        # The listing's entries in its order, from ``after`` on, read lazily batch by batch.
        catalogue = self._catalogue()
        for service in services:
            for implied in (False, True):
                if after is not None and (service, implied) < (after.service, after.implied):
                    continue
                codes = self._implying(service) if implied else [service]
                if not codes:
                    continue
                resume = after if after is not None and (service, implied) == (
                    after.service, after.implied) else None
                known = catalogue[service].rights if implied else None
                for row in self._rows_after(account_id, codes, at, resume, batch):
                    mask = Right(row.rights) if known is None else Right(row.rights) & known
                    if not mask:
                        continue
                    extra = {"implied_by": row.service_code} if implied else {}
                    same = resume is not None and row.id == resume.habilitation_id
                    if row.portfolio_id is None or row.client_siret:
                        if same:
                            continue  # the entry the cursor points at: already served
                        siret = row.siret or row.client_siret
                        key, value = ("siret", siret) if siret else ("siren", row.siren)
                        yield (ListingKey(service, implied, row.id, siret or ""),
                               {"service": service, key: value, "rights": mask.names(),
                                **extra})
                        continue
                    for siret in self._clients_after(row.portfolio_id, row.service_code,
                                                     resume.siret if same else "", at, batch):
                        yield (ListingKey(service, implied, row.id, siret),
                               {"service": service, "siret": siret, "rights": mask.names(),
                                **extra})

    def _rows_after(self, account_id: uuid.UUID, codes: list[str], at: datetime,
                    resume: ListingKey | None, batch: int) -> Iterator:
        # Habilitations of ``codes`` by id, from the cursor's own (a portfolio may go on
        # past its last served client), ``batch`` at a time: each scope's index probe is
        # limited in SQL, then the three are merged.
        last = resume.habilitation_id - 1 if resume is not None else None
        while True:
            branches = []
            for branch in self._listed(account_id, codes, at):
                if last is not None:
                    branch = branch.where(H.id > last)
                branches.append(select(branch.order_by(H.id).limit(batch).subquery()))
            merged = union_all(*branches).subquery()
            rows = self._session.execute(
                select(merged).order_by(merged.c.id).limit(batch)).all()
            yield from rows
            if len(rows) < batch:
                return
            last = rows[-1].id

    def _clients_after(self, portfolio_id: int, code: str, after_siret: str, at: datetime,
                       batch: int) -> Iterator[str]:
        # A portfolio's clients having a declaration it holds, link rule applied, by SIRET after
        # ``after_siret``: the primary key (portfolio_id, siret), ``batch`` at a time.
        query = (select(PortfolioClient.siret)
                 .join(PortfolioClientService,
                       (PortfolioClientService.portfolio_id == PortfolioClient.portfolio_id)
                       & (PortfolioClientService.siret == PortfolioClient.siret)
                       & (PortfolioClientService.service_code == code))
                 .join(PortfolioService,
                       (PortfolioService.portfolio_id == PortfolioClient.portfolio_id)
                       & (PortfolioService.service_code == code))
                 .where(PortfolioClient.portfolio_id == portfolio_id))
        facts = self._catalogue().get(code)
        if facts and facts.requires_link:
            query = (query.join(Portfolio, Portfolio.id == PortfolioClient.portfolio_id)
                     .join(DeclarantLink,
                           (DeclarantLink.declarant_siret == Portfolio.owner_siret)
                           & (DeclarantLink.declared_siret == PortfolioClient.siret))
                     .where(DeclarantLink.last_dsn_at >= at - LINK_VALIDITY))
        while True:
            sirets = list(self._session.scalars(
                query.where(PortfolioClient.siret > after_siret)
                .order_by(PortfolioClient.siret).limit(batch)))
            yield from sirets
            if len(sirets) < batch:
                return
            after_siret = sirets[-1]

    def listing_statement(self, account_id: uuid.UUID, services: Iterable[str],
                          at: datetime | None = None) -> CompoundSelect:
        """The habilitations ``listing`` starts from: those of ``services`` and of the
        services implying them, one index probe per kind of scope."""
        return union_all(*self._listed(account_id, self._counts_for(services),
                                       at or self._clock()))

    def _listed(self, account_id: uuid.UUID, codes, at: datetime) -> list[Select]:
        # The listing's four branches; a per-client habilitation is filtered in SQL (its
        # client has the declaration, link rule), a whole-portfolio one expanded later.
        codes = sorted(set(codes))
        *direct, by_client = self._by_scope(
            (H.id, H.service_code, H.siret, H.siren, H.portfolio_id, H.client_siret, H.rights),
            account_id, codes, at)
        return [*direct, self._through_portfolio(by_client, codes, at,
                                                 PortfolioClient.siret == H.client_siret,
                                                 H.client_siret)]

    def _counts_for(self, services: Iterable[str]) -> dict[str, list[str]]:
        # Which requested services each stored service code counts for: itself, and the
        # services it implies.
        counts_for: dict[str, list[str]] = {}
        for service in sorted(set(services)):
            for code in (service, *self._implying(service)):
                counts_for.setdefault(code, []).append(service)
        return counts_for

    def _clients(self, pairs: set[tuple[int, str]], at: datetime) -> dict[tuple[int, str],
                                                                           list[str]]:
        """Client SIRETs per (portfolio, declaration they have), link rule applied: one
        query."""
        if not pairs:
            return {}
        catalogue = self._catalogue()
        rows = self._session.execute(
            select(PortfolioClient.portfolio_id, PortfolioService.service_code,
                   PortfolioClient.siret, DeclarantLink.last_dsn_at)
            .join(PortfolioClientService,
                  (PortfolioClientService.portfolio_id == PortfolioClient.portfolio_id)
                  & (PortfolioClientService.siret == PortfolioClient.siret))
            .join(PortfolioService,
                  (PortfolioService.portfolio_id == PortfolioClient.portfolio_id)
                  & (PortfolioService.service_code == PortfolioClientService.service_code))
            .join(Portfolio, Portfolio.id == PortfolioClient.portfolio_id)
            .outerjoin(DeclarantLink, (DeclarantLink.declarant_siret == Portfolio.owner_siret)
                       & (DeclarantLink.declared_siret == PortfolioClient.siret))
            .where(PortfolioClient.portfolio_id.in_(sorted({p for p, _ in pairs})),
                   PortfolioService.service_code.in_(sorted({c for _, c in pairs})))
            .order_by(PortfolioClient.portfolio_id, PortfolioClient.siret))
        clients: dict[tuple[int, str], list[str]] = {}
        for portfolio_id, code, siret, last_dsn_at in rows:
            if (portfolio_id, code) not in pairs:
                continue
            facts = catalogue.get(code)
            if facts and facts.requires_link and (last_dsn_at is None
                                                  or last_dsn_at < at - LINK_VALIDITY):
                continue
            clients.setdefault((portfolio_id, code), []).append(siret)
        return clients

    # --- writes -------------------------------------------------------------------------

    def grant(self, account_id: uuid.UUID, service_code: str, *, siret: str | None = None,
              siren: str | None = None, portfolio_id: int | None = None,
              client_siret: str | None = None, rights: Right | int | Iterable[str],
              granted_by: uuid.UUID | None = None,
              effective_from: datetime | None = None) -> Habilitation:
        """Set the rights of the one habilitation of (account, service, scope).

        The scope is a SIRET, a SIREN, a whole portfolio, or with ``client_siret`` one client
        of the portfolio (which must have the declaration). A new habilitation, or new rights
        on an existing one, start after the service's access delay unless ``effective_from``
        says otherwise; granting the same rights again changes nothing.
        """
        service = self._service(service_code)
        column, value = _one_scope(siret=siret, siren=siren, portfolio_id=portfolio_id)
        _client_needs_portfolio(column, client_siret)
        mask = _mask(rights)
        if not mask:
            raise HabilitationRefused("no_right", "a habilitation needs at least one right")
        if int(mask) & ~int(service.rights):
            raise HabilitationRefused("unknown_right",
                                      f"{service_code} does not know {mask.names()}")
        self._check_scope(service_code, service, column, value, client_siret)
        habilitation = self._find(account_id, service_code, column, value, client_siret)
        now = self._clock()
        start = effective_from or now + service.access_delay
        if habilitation is None:
            habilitation = H(account_id=account_id, service_code=service_code, rights=int(mask),
                             effective_from=start, granted_by=granted_by, granted_at=now,
                             client_siret=client_siret, **{column: value})
            self._session.add(habilitation)
        elif habilitation.rights != int(mask):
            # A right added to a row waits like a new one: the delay is there so a right
            # granted by a hijacked administrator account cannot be used at once.
            if effective_from or int(mask) & ~habilitation.rights:
                habilitation.effective_from = start
            habilitation.rights = int(mask)
            habilitation.granted_by = granted_by
            habilitation.granted_at = now
        self._session.flush()
        return habilitation

    def _find(self, account_id: uuid.UUID, code: str, column: str, value,
              client_siret: str | None) -> Habilitation | None:
        # Through the unique index of the scope (client_siret tells the two portfolio ones).
        return self._session.scalar(select(H).where(
            H.account_id == account_id, H.service_code == code, getattr(H, column) == value,
            H.client_siret.is_(None) if client_siret is None else H.client_siret == client_siret))

    def _check_scope(self, code: str, service: _Facts, column: str, value,
                     client_siret: str | None = None) -> None:
        if column == "siret":
            if service.granularity is Granularity.SIREN:
                raise HabilitationRefused("granularity",
                                          f"{code} is granted per company (SIREN), not SIRET")
            if self._session.get(Establishment, value) is None:
                raise HabilitationRefused("unknown_scope", f"unknown establishment {value}")
        elif column == "siren":
            if self._session.get(Company, value) is None:
                raise HabilitationRefused("unknown_scope", f"unknown company {value}")
        else:
            if self._session.get(Portfolio, value) is None:
                raise HabilitationRefused("unknown_scope", f"unknown portfolio {value}")
            if self._session.get(PortfolioService, (value, code)) is None:
                raise HabilitationRefused("portfolio_service",
                                          f"portfolio {value} does not hold {code}")
            if client_siret is None:
                return
            if self._session.get(PortfolioClient, (value, client_siret)) is None:
                raise HabilitationRefused("unknown_scope",
                                          f"{client_siret} is not a client of portfolio {value}")
            if self._session.get(PortfolioClientService, (value, client_siret, code)) is None:
                raise HabilitationRefused("client_service",
                                          f"client {client_siret} does not have {code}")

    def revoke(self, account_id: uuid.UUID, service_code: str, *, siret: str | None = None,
               siren: str | None = None, portfolio_id: int | None = None,
               client_siret: str | None = None) -> bool:
        """Delete the habilitation of (account, service, scope); whether there was one."""
        column, value = _one_scope(siret=siret, siren=siren, portfolio_id=portfolio_id)
        _client_needs_portfolio(column, client_siret)
        habilitation = self._find(account_id, service_code, column, value, client_siret)
        if habilitation is None:
            return False
        self._session.delete(habilitation)
        self._session.flush()
        return True

    def transfer(self, from_account_id: uuid.UUID, to_account_id: uuid.UUID,
                 granted_by: uuid.UUID | None = None) -> int:
        """Move every habilitation of a leaver to another account; how many moved.

        Rights merge into the other account's habilitation of the same scope, if any. Atomic
        with the caller's commit (nothing is committed here).
        """
        if from_account_id == to_account_id:
            raise HabilitationRefused("same_account", "cannot transfer to the same account")
        leaving = self.habilitations_of(from_account_id)
        kept = {(h.service_code, h.siret, h.siren, h.portfolio_id, h.client_siret): h
                for h in self.habilitations_of(to_account_id)}
        now = self._clock()
        for habilitation in leaving:
            target = kept.get((habilitation.service_code, habilitation.siret,
                               habilitation.siren, habilitation.portfolio_id,
                               habilitation.client_siret))
            if target is None:
                habilitation.account_id = to_account_id
                target = habilitation
            else:
                self._session.delete(habilitation)
                if target.rights | habilitation.rights == target.rights:
                    continue
                target.rights |= habilitation.rights
                # The later start of the two: no right becomes usable earlier than it was.
                target.effective_from = max(target.effective_from, habilitation.effective_from)
            target.granted_by = granted_by or target.granted_by
            target.granted_at = now
        self._session.flush()
        return len(leaving)

    def habilitations_of(self, account_id: uuid.UUID) -> list[Habilitation]:
        """Every stored habilitation of the account (each scope's index probed once)."""
        # Through the four partial indexes: « WHERE account_id = ? » alone would scan.
        branches = [select(H).where(H.account_id == account_id, *scope) for scope in _SCOPES]
        return list(self._session.scalars(select(H).from_statement(union_all(*branches))))

    def subscribe(self, service_code: str, *, siret: str | None = None,
                  siren: str | None = None, subscribed_by: uuid.UUID | None = None,
                  effective_from: datetime | None = None) -> Subscription:
        """Subscribe an establishment or a company to a service (idempotent)."""
        service = self._service(service_code)
        column, value = _one_scope(siret=siret, siren=siren)
        if column == "siret" and service.granularity is Granularity.SIREN:
            raise HabilitationRefused("granularity",
                                      f"{service_code} is subscribed per company (SIREN)")
        subscription = self._session.scalar(select(Subscription).where(
            Subscription.service_code == service_code, getattr(Subscription, column) == value))
        if subscription is None:
            now = self._clock()
            subscription = Subscription(
                service_code=service_code, subscribed_by=subscribed_by, subscribed_at=now,
                effective_from=effective_from or now + service.access_delay, **{column: value})
            self._session.add(subscription)
            self._session.flush()
        return subscription

    def subscriptions_for(self, siren: str) -> list[Subscription]:
        """The subscriptions of the company ``siren``: its own and its establishments'."""
        return list(self._session.scalars(select(Subscription).where(or_(
            Subscription.siren == siren,
            Subscription.siret.in_(select(Establishment.siret)
                                   .where(Establishment.siren == siren))))
            .order_by(Subscription.service_code, Subscription.siret)))

    def unsubscribe(self, service_code: str, *, siret: str | None = None,
                    siren: str | None = None) -> bool:
        """End the subscription of an establishment or a company; whether there was one."""
        column, value = _one_scope(siret=siret, siren=siren)
        subscription = self._session.scalar(select(Subscription).where(
            Subscription.service_code == service_code, getattr(Subscription, column) == value))
        if subscription is None:
            return False
        self._session.delete(subscription)
        self._session.flush()
        return True

    def subscribed_codes(self, siret: str) -> set[str]:
        """The services ``siret`` subscribes to, itself or through its company (pending
        ones included: a subscription waits for its start, it is not a request)."""
        return set(self._session.scalars(select(Subscription.service_code).where(or_(
            Subscription.siret == siret, Subscription.siren == siret[:9]))))


def _one_scope(**scopes) -> tuple[str, str | int]:
    given = [(column, value) for column, value in scopes.items() if value is not None]
    if len(given) != 1:
        raise HabilitationRefused("scope", f"give exactly one of {', '.join(scopes)}")
    return given[0]


def _client_needs_portfolio(column: str, client_siret: str | None) -> None:
    if client_siret is not None and column != "portfolio_id":
        raise HabilitationRefused("scope", "client_siret goes with portfolio_id only")


def _mask(rights: Right | int | Iterable[str]) -> Right:
    if isinstance(rights, int):
        return Right(rights)
    try:
        return Right.from_names(rights)
    except KeyError as error:
        raise HabilitationRefused("unknown_right", f"unknown right {error}") from None
