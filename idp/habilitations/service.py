"""Habilitation checks: « which rights does this account have on this service for this SIRET? »"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from idp.habilitations.models import Habilitation, PortfolioClient, Right
from idp.models_common import utcnow


class HabilitationChecker:
    """Answers rights questions in one indexed query (DESIGN.md §6)."""

    def __init__(self, session: Session):
        self._session = session

    def rights_on(self, account_id: uuid.UUID, service_code: str, siret: str,
                  at: datetime | None = None) -> Right:
        """The effective rights of ``account_id`` on ``service_code`` for ``siret``.

        A habilitation reaches the SIRET directly, through its SIREN (all establishments,
        now and future) or through a portfolio holding it; only those already effective count.
        """
        portfolios = select(PortfolioClient.portfolio_id).where(PortfolioClient.siret == siret)
        masks = self._session.scalars(
            select(Habilitation.rights).where(
                Habilitation.account_id == account_id,
                Habilitation.service_code == service_code,
                Habilitation.effective_from <= (at or utcnow()),
                or_(
                    Habilitation.siret == siret,
                    Habilitation.siren == siret[:9],
                    Habilitation.portfolio_id.in_(portfolios),
                ),
            )
        )
        rights = Right(0)
        for mask in masks:
            rights |= Right(mask)
        return rights
