"""What an administrator may act on: the establishments and people of its own company.

Every /gestion view reaches objects through a ``CompanyScope``: an identifier that belongs to
another company is simply not found (a 404), never acted on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import Account, Status
from idp.directory.models import Establishment


@dataclass(frozen=True)
class CompanyScope:
    """The company (SIREN) of an active administrator."""

    siren: str

    @classmethod
    def of(cls, administrator: Account) -> CompanyScope:
        """The scope of ``administrator``: its establishment's SIREN."""
        return cls(administrator.siret[:9])

    def establishments(self, session: Session) -> list[Establishment]:
        """The company's establishments, by SIRET."""
        return list(session.scalars(select(Establishment).where(
            Establishment.siren == self.siren).order_by(Establishment.siret)))

    def establishment(self, session: Session, siret: str) -> Establishment | None:
        """One establishment of the company, or None (unknown, or another company's)."""
        found = session.get(Establishment, siret) if len(siret) == 14 else None
        return found if found is not None and found.siren == self.siren else None

    def people(self, session: Session) -> list[Account]:
        """The company's accounts that are not removed, by name."""
        return list(session.scalars(select(Account).where(
            Account.siret.startswith(self.siren, autoescape=True),
            Account.status != Status.REMOVED,
        ).order_by(Account.last_name_key, Account.first_name_key, Account.siret)))

    def person(self, session: Session, account_id: uuid.UUID) -> Account | None:
        """One non-removed account of the company, or None."""
        found = session.get(Account, account_id)
        if found is None or found.siret[:9] != self.siren or found.status is Status.REMOVED:
            return None
        return found
