"""Which partner a person is sent to, and how (no Flask request here).

**Ownership rule.** A partner owns a URL when the URL is an absolute http(s) address with the
same origin (scheme, host, port; default ports ignored) as the partner's
``initiate_login_uri`` or one of its ``redirect_uris`` (``idp.oidc.token_exchange.owns``).
For ``/connexion?cible=<url>``, only partners with an ``initiate_login_uri`` can receive the
person; when several own the origin, the one whose ``initiate_login_uri`` is on it wins, and
if that still leaves several, the target is refused as ambiguous (never a guess).

**Redirect.** The person goes to ``initiate_login_uri`` with (OIDC Core §4) ``iss`` (the
IdP's issuer), ``login_hint`` (the person's SIRET) and ``target_link_uri`` (the page asked
for; left out when ``/interop/naviguer`` names no ``cible``): the partner checks ``iss``,
starts its own authorization request (``prompt=none`` works: the session exists), then
opens ``target_link_uri`` if it is one of its own pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from authlib.common.urls import add_params_to_uri

from idp.oidc.clients import (
    ClientRegistry,
    RegisteredClient,
    origin,
    partner_origins,
    plausible_client_id,
)


class TargetRefused(Exception):
    """No partner can be reached for this request; ``reason`` says why (for the page and
    the journal): ``malformed``, ``unowned``, ``no_initiate_login_uri``, ``ambiguous``,
    ``missing_partner``, ``unknown_partner``, ``not_owned_by_partner``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ServiceLink:
    """A partner where a service is used, and the page to open there."""

    partner: RegisteredClient
    start_url: str


class Navigator:
    """Finds the partner a target belongs to and builds the third-party-initiated login."""

    def __init__(self, registry: ClientRegistry, issuer: str):
        self._registry = registry
        self._issuer = issuer

    def owner_of(self, target: str) -> RegisteredClient:
        """The partner that owns ``target`` and can start a login; else TargetRefused."""
        target_origin = origin(target)
        if target_origin is None:
            raise TargetRefused("malformed")
        owners = [p for p in self._registry.all() if target_origin in partner_origins(p)]
        reachable = [p for p in owners if p.initiate_login_uri]
        if not reachable:
            raise TargetRefused("no_initiate_login_uri" if owners else "unowned")
        if len(reachable) > 1:
            reachable = [p for p in reachable if origin(p.initiate_login_uri) == target_origin]
            if len(reachable) != 1:
                raise TargetRefused("ambiguous")
        return reachable[0]

    def partner(self, client_id: str | None, target: str | None) -> RegisteredClient:
        """The partner ``client_id``, able to start a login and owning ``target`` (if any)."""
        if not client_id:
            raise TargetRefused("missing_partner")
        partner = self._registry.find(client_id) if plausible_client_id(client_id) else None
        if partner is None:
            raise TargetRefused("unknown_partner")
        if not partner.initiate_login_uri:
            raise TargetRefused("no_initiate_login_uri")
        if target is not None:
            target_origin = origin(target)
            if target_origin is None:
                raise TargetRefused("malformed")
            if target_origin not in partner_origins(partner):
                raise TargetRefused("not_owned_by_partner")
        return partner

    def login_initiation(self, partner: RegisteredClient, login_hint: str,
                         target: str | None) -> str:
        """The partner's ``initiate_login_uri`` with ``iss``, ``login_hint`` and
        ``target_link_uri`` (its own query, if any, kept)."""
        params = [("iss", self._issuer), ("login_hint", login_hint)]
        if target is not None:
            params.append(("target_link_uri", target))
        return add_params_to_uri(partner.initiate_login_uri, params)

    def links_for(self, services: Iterable[str]) -> dict[str, list[ServiceLink]]:
        """For each service code, the partners hosting it that can start a login (by
        name), each with its start page: the root of its ``initiate_login_uri``'s site."""
        services = set(services)
        links: dict[str, list[ServiceLink]] = {code: [] for code in services}
        for partner in self._registry.all():
            if not partner.initiate_login_uri:
                continue
            start = origin(partner.initiate_login_uri)
            if start is None:
                continue
            for code in services & partner.services:
                links[code].append(ServiceLink(partner, start + "/"))
        return links
