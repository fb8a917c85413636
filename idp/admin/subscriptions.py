"""« Gérer les services »: the company's subscriptions to the catalogue's services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.admin.scope import CompanyScope
from idp.audit.service import AuditJournal, Origin
from idp.habilitations.models import Granularity, Service, Subscription
from idp.habilitations.service import HabilitationRefused, HabilitationService


class SubscriptionRefused(Exception):
    """The target is not the company's, or the service cannot be subscribed that way."""


@dataclass(frozen=True)
class Target:
    """Who subscribes: the whole company (a SIREN) or one establishment (a SIRET)."""

    value: str
    label: str
    subscription: Subscription | None

    @property
    def is_company(self) -> bool:
        """Whether the target is the whole company."""
        return len(self.value) == 9


@dataclass(frozen=True)
class ServiceLine:
    """A service of the catalogue and where the company stands with it."""

    service: Service
    targets: list[Target]


class SubscriptionDesk:
    """Lists, subscribes and unsubscribes for an administrator's company."""

    def __init__(self, session: Session, habilitations: HabilitationService,
                 journal: AuditJournal, clock: Callable[[], datetime]):
        self._session = session
        self._habilitations = habilitations
        self._journal = journal
        self._clock = clock

    def overview(self, scope: CompanyScope, company_label: str) -> list[ServiceLine]:
        """Each service with the company's row and, for a per-establishment service, a row
        per establishment."""
        found = {(s.service_code, s.siret or s.siren): s
                 for s in self._habilitations.subscriptions_for(scope.siren)}
        establishments = scope.establishments(self._session)
        lines = []
        for service in self._habilitations.catalogue():
            targets = [Target(scope.siren, company_label, found.get((service.code, scope.siren)))]
            if service.granularity is not Granularity.SIREN:
                targets += [Target(e.siret, f"{e.siret} – {e.display_name}",
                                   found.get((service.code, e.siret)))
                            for e in establishments]
            lines.append(ServiceLine(service, targets))
        return lines

    def _target(self, scope: CompanyScope, value: str) -> dict[str, str]:
        if value == scope.siren:
            return {"siren": value}
        establishment = scope.establishment(self._session, value)
        if establishment is None or not establishment.active:
            raise SubscriptionRefused(value)
        return {"siret": value}

    def subscribe(self, scope: CompanyScope, administrator: Account, code: str, value: str,
                  origin: Origin) -> Subscription:
        """Subscribe the company or one of its establishments (access after the delay)."""
        target = self._target(scope, value)
        try:
            subscription = self._habilitations.subscribe(code, subscribed_by=administrator.id,
                                                         **target)
        except HabilitationRefused as refused:
            raise SubscriptionRefused(refused.reason) from None
        self._journal.record("admin.service_subscribed", "success", account_id=administrator.id,
                             origin=origin, details={"service": code, **target})
        self._session.commit()
        return subscription

    def unsubscribe(self, scope: CompanyScope, administrator: Account, code: str, value: str,
                    origin: Origin) -> bool:
        """End a subscription; whether there was one."""
        target = self._target(scope, value)
        ended = self._habilitations.unsubscribe(code, **target)
        if ended:
            self._journal.record("admin.service_unsubscribed", "success",
                                 account_id=administrator.id, origin=origin,
                                 details={"service": code, **target})
            self._session.commit()
        return ended
