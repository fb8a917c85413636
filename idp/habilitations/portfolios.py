"""A portfolio's composition: its declarations (the container), its clients and each client's
declarations (the content, ⊆ the container), as the administrator's screens change them.

A client gets a declaration needing a declarant–declared link (ATMP) only if the portfolio's
firm filed a DSN for it within ``LINK_VALIDITY``; the check applies the same rule again when
rights are used, since the link ages. Everything a change leaves meaningless goes with it:
a declaration withdrawn from the container leaves every client and takes the portfolio's
habilitations of that service; a client removed takes its per-client habilitations.
Deletes are explicit statements, not left to ``ON DELETE CASCADE``, which SQLite only obeys
with foreign keys switched on. Writes flush, never commit: the caller commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from idp.directory.models import Establishment
from idp.habilitations.common import LINK_VALIDITY, HabilitationRefused
from idp.habilitations.models import (
    DeclarantLink,
    Habilitation,
    Portfolio,
    PortfolioClient,
    PortfolioClientService,
    PortfolioService,
)

PCS = PortfolioClientService


@dataclass(frozen=True)
class ClientEntry:
    """A client of a portfolio as the screens show it."""

    siret: str
    name: str | None
    declarations: tuple[str, ...]


class PortfolioRules:
    """Portfolios of a company and their composition (mixed into ``HabilitationService``)."""

    _session: Session
    _clock: Callable[[], datetime]

    # --- portfolios -------------------------------------------------------------------

    def portfolios_of(self, siren: str) -> list[Portfolio]:
        """The portfolios owned by an establishment of the company ``siren``, by name."""
        return list(self._session.scalars(
            select(Portfolio).join(Establishment, Establishment.siret == Portfolio.owner_siret)
            .where(Establishment.siren == siren).order_by(Portfolio.name, Portfolio.id)))

    def portfolio_of(self, portfolio_id: int, siren: str) -> Portfolio | None:
        """The portfolio, if an establishment of ``siren`` owns it (else None: no IDOR)."""
        portfolio = self._session.get(Portfolio, portfolio_id)
        return portfolio if portfolio is not None and portfolio.owner_siret[:9] == siren else None

    def create_portfolio(self, owner_siret: str, name: str) -> Portfolio:
        """A new, empty portfolio of the establishment ``owner_siret``."""
        self._active_establishment(owner_siret)
        portfolio = Portfolio(owner_siret=owner_siret, name=_name(name),
                              created_at=self._clock())
        self._session.add(portfolio)
        self._session.flush()
        return portfolio

    def rename_portfolio(self, portfolio: Portfolio, name: str) -> None:
        """Give the portfolio another name."""
        portfolio.name = _name(name)
        self._session.flush()

    def delete_portfolio(self, portfolio: Portfolio) -> None:
        """Delete the portfolio, its composition and every habilitation given through it."""
        for table in (Habilitation, PCS, PortfolioClient, PortfolioService):
            self._session.execute(delete(table).where(table.portfolio_id == portfolio.id))
        self._session.expire(portfolio)
        self._session.delete(portfolio)
        self._session.flush()

    def set_portfolio_services(self, portfolio: Portfolio, codes: Iterable[str]) -> None:
        """Make ``codes`` the container: a withdrawn code leaves every client and takes the
        portfolio's habilitations of that service (whole portfolio and per client)."""
        codes = set(codes)
        for code in codes:
            self._service(code)  # refuses an unknown one
        held = self._container(portfolio)
        withdrawn = sorted(held - codes)
        if withdrawn:
            for table in (Habilitation, PCS, PortfolioService):
                self._session.execute(delete(table).where(
                    table.portfolio_id == portfolio.id, table.service_code.in_(withdrawn)))
        added = sorted(codes - held)
        if added:
            self._session.execute(insert(PortfolioService), [
                {"portfolio_id": portfolio.id, "service_code": code} for code in added])
        self._session.expire(portfolio, ["services"])
        self._session.flush()

    def _container(self, portfolio: Portfolio) -> set[str]:
        return set(self._session.scalars(select(PortfolioService.service_code).where(
            PortfolioService.portfolio_id == portfolio.id)))

    # --- clients ----------------------------------------------------------------------

    def clients_page(self, portfolio: Portfolio, after_siret: str = "",
                     limit: int = 50) -> list[ClientEntry]:
        """Up to ``limit`` clients after ``after_siret``, by SIRET (keyset, never OFFSET)."""
        rows = self._session.execute(
            select(PortfolioClient.siret, Establishment.name)
            .join(Establishment, Establishment.siret == PortfolioClient.siret)
            .where(PortfolioClient.portfolio_id == portfolio.id,
                   PortfolioClient.siret > after_siret)
            .order_by(PortfolioClient.siret).limit(limit)).all()
        declarations: dict[str, list[str]] = {}
        if rows:
            for siret, code in self._session.execute(
                    select(PCS.siret, PCS.service_code)
                    .where(PCS.portfolio_id == portfolio.id,
                           PCS.siret.in_([siret for siret, _ in rows]))
                    .order_by(PCS.siret, PCS.service_code)):
                declarations.setdefault(siret, []).append(code)
        return [ClientEntry(siret, name, tuple(declarations.get(siret, ())))
                for siret, name in rows]

    def client_count(self, portfolio: Portfolio) -> int:
        """How many clients the portfolio has."""
        return self._session.scalar(select(func.count()).select_from(PortfolioClient).where(
            PortfolioClient.portfolio_id == portfolio.id))

    def client_sirets(self, portfolio: Portfolio, sirets: Iterable[str]) -> set[str]:
        """Those of ``sirets`` that are clients of the portfolio."""
        sirets = sorted(set(sirets))
        found: set[str] = set()
        for start in range(0, len(sirets), 1000):  # bounded IN lists
            found.update(self._session.scalars(select(PortfolioClient.siret).where(
                PortfolioClient.portfolio_id == portfolio.id,
                PortfolioClient.siret.in_(sirets[start:start + 1000]))))
        return found

    def add_client(self, portfolio: Portfolio, siret: str,
                   codes: Iterable[str] | None = None) -> None:
        """Add an active establishment with ``codes`` (default: every declaration of the
        container); each must be in the container and, where needed, have a recent link."""
        self._active_establishment(siret)
        if self._session.get(PortfolioClient, (portfolio.id, siret)) is not None:
            raise HabilitationRefused("already_client", f"{siret} is already a client")
        codes = self._container(portfolio) if codes is None else set(codes)
        self._check_declarations(portfolio, siret, codes, codes)
        self._session.add(PortfolioClient(
            portfolio_id=portfolio.id, siret=siret, added_at=self._clock(),
            declarations=[PCS(service_code=code) for code in sorted(codes)]))
        self._session.flush()

    def set_client_services(self, portfolio: Portfolio, siret: str,
                            codes: Iterable[str]) -> None:
        """Make ``codes`` the client's declarations (same rules as ``add_client``); one taken
        away takes the client's per-client habilitations of that service."""
        if self._session.get(PortfolioClient, (portfolio.id, siret)) is None:
            raise HabilitationRefused("not_a_client", f"{siret} is not a client")
        codes = set(codes)
        held = set(self._session.scalars(select(PCS.service_code).where(
            PCS.portfolio_id == portfolio.id, PCS.siret == siret)))
        # A link that aged since does not take away a declaration already there.
        self._check_declarations(portfolio, siret, codes, codes - held)
        withdrawn = sorted(held - codes)
        if withdrawn:
            self._session.execute(delete(Habilitation).where(
                Habilitation.portfolio_id == portfolio.id, Habilitation.client_siret == siret,
                Habilitation.service_code.in_(withdrawn)))
            self._session.execute(delete(PCS).where(
                PCS.portfolio_id == portfolio.id, PCS.siret == siret,
                PCS.service_code.in_(withdrawn)))
        added = sorted(codes - held)
        if added:
            self._session.execute(insert(PCS), [
                {"portfolio_id": portfolio.id, "siret": siret, "service_code": code}
                for code in added])
        self._session.flush()

    def remove_client(self, portfolio: Portfolio, siret: str) -> bool:
        """Take the client out with its declarations and per-client habilitations; whether
        it was a client."""
        self._session.execute(delete(Habilitation).where(
            Habilitation.portfolio_id == portfolio.id, Habilitation.client_siret == siret))
        self._session.execute(delete(PCS).where(PCS.portfolio_id == portfolio.id,
                                                PCS.siret == siret))
        removed = self._session.execute(delete(PortfolioClient).where(
            PortfolioClient.portfolio_id == portfolio.id, PortfolioClient.siret == siret))
        self._session.expire(portfolio, ["clients"])
        self._session.flush()
        return removed.rowcount == 1

    def _check_declarations(self, portfolio: Portfolio, siret: str, codes: set[str],
                            new: set[str]) -> None:
        # Content ⊆ container, at least one declaration, a recent link for ``new`` codes
        # that need one.
        if not codes:
            raise HabilitationRefused("no_service", "a client needs at least one declaration")
        outside = codes - self._container(portfolio)
        if outside:
            raise HabilitationRefused("not_in_container",
                                      f"the portfolio does not hold {sorted(outside)}")
        if any(self._service(code).requires_link for code in new):
            last_dsn_at = self._session.scalar(select(DeclarantLink.last_dsn_at).where(
                DeclarantLink.declarant_siret == portfolio.owner_siret,
                DeclarantLink.declared_siret == siret))
            if last_dsn_at is None or last_dsn_at < self._clock() - LINK_VALIDITY:
                raise HabilitationRefused(
                    "declarant_link", f"no DSN of {portfolio.owner_siret} for {siret} lately")

    def _active_establishment(self, siret: str) -> None:
        establishment = self._session.get(Establishment, siret)
        if establishment is None or not establishment.active:
            raise HabilitationRefused("unknown_scope", f"no active establishment {siret}")


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise HabilitationRefused("name", "a portfolio needs a name of 1 to 200 characters")
    return name
