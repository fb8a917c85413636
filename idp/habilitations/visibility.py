"""Who sees what is addressed to one service for one establishment (a notification): the
people with a right on that service for that SIRET, by the check's four paths and implied
rights, and, for an AT/MP rate, the accounting firm that filed the establishment's latest DSN.

The same rules as ``rights_on``, turned two ways so that neither side reads row by row:
* forward, for a person's list: the (service, SIRET) and (service, SIREN) pairs they hold,
  as subqueries the caller joins its rows to (each pair one index probe on its side);
* backward, for the e-mails: the accounts holding a right on (service, SIRET), through the
  reverse indexes (``ix_habilitations_siret``, ``_siren``, ``_portfolio``, ``_client``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, String, exists, false, literal, select, true, union, union_all
from sqlalchemy.orm import aliased

from idp.habilitations.models import DeclarantLink, Habilitation, PortfolioClient

H = Habilitation


class VisibilityRules:
    """The forward and backward forms of « has a right on S for X » (mixed into
    ``HabilitationService``, whose catalogue and branches they reuse)."""

    def _grants(self, shown_only=None):
        # (held, shown): a right on ``held`` shows what is addressed to ``shown`` (itself,
        # or a service it implies). A few literal rows: a UNION ALL, which SQLite and
        # PostgreSQL both take as a derived table.
        pairs = sorted({(held, shown) for shown in self._catalogue()
                        if shown_only is None or shown in shown_only
                        for held in (shown, *self._implying(shown))})
        rows = [select(literal(held, String).label("held"), literal(shown, String).label("shown"))
                for held, shown in pairs]
        if len(rows) > 1:
            return union_all(*rows).subquery("grants")
        if not rows:  # an empty catalogue: no right shows anything
            rows = [select(literal("", String).label("held"), literal("", String).label("shown"))
                    .where(false())]
        return rows[0].subquery("grants")

    def visible_pairs(self, account_id: uuid.UUID, at: datetime | None = None,
                      shown_only=None):
        """Two subqueries: (shown, siret) the account holds a right on through a SIRET or a
        portfolio, and (shown, siren) through a SIREN; ``shown`` limited to the codes of
        ``shown_only`` when given (a caller's rows address only a few services)."""
        at = at or self._clock()
        grants = self._grants(shown_only)
        codes = list(self._catalogue())
        # Habilitations first in each FROM: the portfolio joins hang on it.
        by_siret, by_siren, by_portfolio, by_client = (
            branch.select_from(H) for branch in self._by_scope(
                (grants.c.shown,), account_id, codes, at))
        held = grants.c.held == H.service_code
        sirets = union_all(
            by_siret.add_columns(H.siret.label("siret")).where(held),
            self._through_portfolio(by_portfolio.where(held), codes, at, true(),
                                    PortfolioClient.siret)
            .add_columns(PortfolioClient.siret.label("siret")),
            self._through_portfolio(by_client.where(held), codes, at,
                                    PortfolioClient.siret == H.client_siret,
                                    PortfolioClient.siret)
            .add_columns(PortfolioClient.siret.label("siret")),
        ).subquery("visible_sirets")
        sirens = by_siren.add_columns(H.siren.label("siren")).where(held).subquery(
            "visible_sirens")
        return sirets, sirens

    def firm_clients(self, siren: str) -> Select:
        """The SIRETs whose latest DSN was filed by an establishment of company ``siren``
        (the accounting firm the AT/MP rates are also for)."""
        later = aliased(DeclarantLink)
        return select(DeclarantLink.declared_siret).where(
            DeclarantLink.declarant_siret.between(f"{siren}00000", f"{siren}99999"),
            ~exists().where(later.declared_siret == DeclarantLink.declared_siret,
                            later.last_dsn_at > DeclarantLink.last_dsn_at))

    def firm_of(self, siret: str) -> set[str]:
        """The SIREN of the firm that filed the latest DSN for ``siret`` (two on a tie)."""
        latest = select(DeclarantLink.declarant_siret).where(
            DeclarantLink.declared_siret == siret).order_by(
            DeclarantLink.last_dsn_at.desc())
        rows = self._session.execute(
            latest.add_columns(DeclarantLink.last_dsn_at).limit(5)).all()
        if not rows:
            return set()
        newest = rows[0][1]
        return {declarant[:9] for declarant, when in rows if when == newest}

    def holders(self, service_code: str, siret: str, at: datetime | None = None) -> set[
            uuid.UUID]:
        """The accounts with a right on ``service_code`` for ``siret`` (own or implied)."""
        at = at or self._clock()
        codes = [service_code, *self._implying(service_code)]
        common = (H.service_code.in_(sorted(set(codes))), H.effective_from <= at)
        whole = (select(H.account_id).where(*common, H.portfolio_id.in_(
            select(PortfolioClient.portfolio_id).where(PortfolioClient.siret == siret)),
            H.client_siret.is_(None)))
        per_client = select(H.account_id).where(*common, H.client_siret == siret)
        statement = union(
            select(H.account_id).where(*common, H.siret == siret),
            select(H.account_id).where(*common, H.siren == siret[:9]),
            self._through_portfolio(whole, codes, at, PortfolioClient.siret == siret, siret),
            self._through_portfolio(per_client, codes, at, PortfolioClient.siret == siret,
                                    siret))
        return set(self._session.scalars(statement))
