"""The jetons of ``/authentifier/1.0/``: signed by the shared token issuer (RFC 9068), for
the service's hosts rather than for an OAuth client. Handed to the machine package, which
sits below this one."""

from __future__ import annotations

import json

from flask import Flask

from idp.accounts.login import ACR_PASSWORD
from idp.accounts.models import Account
from idp.extensions import app_clock
from idp.machine.deps import provide_minter
from idp.machine.service import Jeton
from idp.oidc.deps import config, token_issuer

# RFC 9068 §2.2 asks for a client_id: software is not a registered client, so the vector
# names itself, and partner APIs tell jetons from their own tokens by it.
MACHINE_CLIENT_ID = "urn:netentreprises:authentifier"


def mint_jeton(account: Account, service: str, habilitations: list[dict]) -> Jeton:
    """A jeton for ``account`` on ``service``: ``aud`` is the service code, the claims say
    who, for which company, and the habilitations on that service."""
    issuer = token_issuer(config("MACHINE_JETON_LIFETIME_SECONDS"))
    establishment = account.establishment
    extra = {"sub": str(account.id), "auth_time": int(app_clock()()), "amr": ["pwd"],
             "acr": ACR_PASSWORD, "siret": account.siret, "siren": establishment.siren}
    if len(json.dumps(habilitations, separators=(",", ":"))) <= config(
            "OIDC_INLINE_HABILITATIONS_MAX_BYTES"):
        extra["habilitations"] = habilitations
    else:
        # A firm's portfolio can reach thousands of clients: the jeton stays a header's
        # size, and the service asks the verifier SIRET by SIRET with its own token.
        extra["habilitations_verifier"] = config("ISSUER") + "/api/v1/habilitations/verifier"
    issued = issuer.access_token(MACHINE_CLIENT_ID, "habilitations", audience=service,
                                 extra=extra)
    return Jeton(issued.token, issued.claims["exp"])


def init_app(app: Flask) -> None:
    """Give the machine package its jeton signer."""
    provide_minter(app, mint_jeton)
