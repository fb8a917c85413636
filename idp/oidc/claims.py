"""Claims about the signed-in person: standard ones, the company identity, habilitations."""

from __future__ import annotations

import json
from collections.abc import Iterable

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.core import UserInfo
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import Account, Role, Status
from idp.habilitations.models import (
    Habilitation,
    PortfolioClient,
    PortfolioService,
    Right,
)
from idp.models_common import utcnow

ROLE_CLAIM = {Role.ADMINISTRATOR: "administrateur", Role.DECLARANT: "declarant"}
DISTRIBUTED_SOURCE = "habilitations"


class ClaimsBuilder:
    """Computes the claims a partner may see, filtered by scope and by the services it hosts."""

    def __init__(self, session: Session, habilitations_endpoint: str, inline_max_bytes: int):
        self._session = session
        self._endpoint = habilitations_endpoint
        self._inline_max_bytes = inline_max_bytes

    def user_info(self, account: Account, scope: str, services: Iterable[str]) -> UserInfo:
        """The claims for ``scope``; habilitations move to an endpoint past the threshold."""
        scopes = set(scope_to_list(scope) or [])
        info = UserInfo(sub=str(account.id))
        if "profile" in scopes:
            info.update(given_name=account.first_name, family_name=account.last_name)
        if "email" in scopes and account.email:
            info.update(email=account.email, email_verified=bool(account.email_verified))
        if "phone" in scopes and (account.mobile or account.phone):
            info["phone_number"] = account.mobile or account.phone
        if "siret" in scopes:
            establishment = account.establishment
            info.update(
                siret=account.siret,
                siren=establishment.siren,
                organization_name=(establishment.company.name if establishment.company
                                   and establishment.company.name
                                   else establishment.display_name),
                role=ROLE_CLAIM[account.role],
            )
        if "habilitations" in scopes:
            entries = self.habilitations(account, services)
            if len(json.dumps(entries, separators=(",", ":"))) <= self._inline_max_bytes:
                info["habilitations"] = entries
            else:
                # OIDC Core §5.6.2: distributed claims. The partner fetches the list with the
                # access token it holds, so the ID token stays a few hundred bytes.
                info["_claim_names"] = {"habilitations": DISTRIBUTED_SOURCE}
                info["_claim_sources"] = {DISTRIBUTED_SOURCE: {"endpoint": self._endpoint}}
        return info

    def habilitations(self, account: Account, services: Iterable[str]) -> list[dict]:
        """Effective habilitations of ``account`` on ``services``, one entry per scope.

        A portfolio habilitation lists each client establishment of the portfolio, and only
        for services the portfolio holds (a client can only get what its portfolio has).
        """
        services = sorted(set(services))
        if not services or account.status is not Status.ACTIVE:
            return []  # a candidate administrator has no rights until activated
        now = utcnow()
        rows = self._session.execute(
            select(Habilitation.service_code, Habilitation.siret, Habilitation.siren,
                   Habilitation.portfolio_id, Habilitation.rights)
            .where(Habilitation.account_id == account.id,
                   Habilitation.service_code.in_(services),
                   Habilitation.effective_from <= now)
            .order_by(Habilitation.service_code, Habilitation.id)
        ).all()
        entries: list[dict] = []
        for service, siret, siren, portfolio_id, rights in rows:
            names = Right(rights).names()
            if siret:
                entries.append({"service": service, "siret": siret, "rights": names})
            elif siren:
                entries.append({"service": service, "siren": siren, "rights": names})
            else:
                clients = self._session.scalars(
                    select(PortfolioClient.siret)
                    .join(PortfolioService,
                          (PortfolioService.portfolio_id == PortfolioClient.portfolio_id)
                          & (PortfolioService.service_code == service))
                    .where(PortfolioClient.portfolio_id == portfolio_id)
                    .order_by(PortfolioClient.siret))
                entries.extend({"service": service, "siret": client, "rights": names}
                               for client in clients)
        return entries
