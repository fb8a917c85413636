"""Machine-authentication fixtures: the demo IdP served over real HTTP, software's call."""

from __future__ import annotations

import pytest
import requests

from tests.oidc.conftest import issuer, settings  # noqa: F401 (fixtures: a live IdP)

KARIM = {"siret": "52814432200021", "nom": "Benali", "prenom": "Karim",
         "motdepasse": "Benali2026"}
SOPHIE = {"siret": "52814432200013", "nom": "Lefèvre", "prenom": "Sophie",
          "motdepasse": "Camions2026"}


def identifiants(fields: dict, service: str = "DSN") -> bytes:
    """The XML body software sends, with ``fields`` (siret, nom, prenom, motdepasse)."""
    elements = "".join(f"<{name}>{value}</{name}>"
                       for name, value in {**fields, "service": service}.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><identifiants>{elements}</identifiants>' \
        .encode()


@pytest.fixture
def software(issuer):  # noqa: F811 (the imported fixture)
    """Payroll software: POSTs a body to ``/authentifier/1.0/`` of the live IdP."""

    def send(body: bytes, content_type: str = "application/xml", **headers):
        return requests.post(f"{issuer}/authentifier/1.0/", data=body,
                             headers={"Content-Type": content_type, **headers}, timeout=30)

    return send
