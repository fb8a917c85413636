"""Who publishes notifications: the partner of the request's client-credentials token, whose
links must be pages ``/connexion?cible=`` reaches for it (handed to ``idp.notifications``)."""

from __future__ import annotations

from idp.interop.deps import navigator
from idp.interop.service import TargetRefused
from idp.notifications.publishing import Publisher
from idp.oidc import server as oidc
from idp.oidc.clients import origin
from idp.oidc.deps import client_registry


def current_publisher() -> Publisher:
    """The partner whose own token the request carries; else 401 ``invalid_token``."""
    token = oidc.access_token()  # 401 for a missing, forged, expired or revoked token
    client = client_registry().find(token["client_id"])
    if client is None or token["sub"] != token["client_id"]:
        oidc.refuse_token()  # a person's token: publishing is the partner's own act

    owners: dict[str | None, bool] = {}  # by origin: a campaign's 10,000 links share one

    def owns(url: str) -> bool:
        key = origin(url)
        if key not in owners:
            try:
                owners[key] = navigator().owner_of(url).client_id == client.client_id
            except TargetRefused:
                owners[key] = False
        return owners[key] and key is not None

    return Publisher(client.client_id, frozenset(client.services), owns)
