"""Who publishes notifications: the partner of the request's client-credentials token, whose
links must be pages ``/connexion?cible=`` reaches for it (handed to ``idp.notifications``)."""

from __future__ import annotations

from idp.interop.deps import navigator
from idp.interop.service import TargetRefused
from idp.notifications.publishing import Publisher
from idp.oidc import server as oidc
from idp.oidc.deps import client_registry


def current_publisher() -> Publisher:
    """The partner whose own token the request carries; else 401 ``invalid_token``."""
    token = oidc.access_token()  # 401 for a missing, forged, expired or revoked token
    client = client_registry().find(token["client_id"])
    if client is None or token["sub"] != token["client_id"]:
        oidc.refuse_token()  # a person's token: publishing is the partner's own act

    def owns(url: str) -> bool:
        try:
            return navigator().owner_of(url).client_id == client.client_id
        except TargetRefused:
            return False

    return Publisher(client.client_id, frozenset(client.services), owns)
