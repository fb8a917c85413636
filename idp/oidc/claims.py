"""Claims about the signed-in person: standard ones, the company identity, habilitations."""

from __future__ import annotations

import json
from collections.abc import Iterable

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.core import UserInfo

from idp.accounts.models import Account, Role, Status
from idp.habilitations.service import HabilitationService

ROLE_CLAIM = {Role.ADMINISTRATOR: "administrateur", Role.DECLARANT: "declarant"}
DISTRIBUTED_SOURCE = "habilitations"


class ClaimsBuilder:
    """Computes the claims a partner may see, filtered by scope and by the services it hosts."""

    def __init__(self, rules: HabilitationService, habilitations_endpoint: str,
                 inline_max_bytes: int):
        self._rules = rules
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

        The rules (portfolios, implied services, declarant links) are the habilitations
        package's: the check and the habilitations API see the same list.
        """
        services = set(services)
        if not services or account.status is not Status.ACTIVE:
            return []  # a candidate administrator has no rights until activated
        return self._rules.listing(account.id, services)
