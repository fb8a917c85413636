"""« Portail DSN » (demo): sign-in by redirect, third-party-initiated login, the
habilitations its tokens carry, a link to the other portal, logout, and a small API that
another partner calls with an exchanged token."""

from __future__ import annotations

from urllib.parse import urlencode

import requests
from flask import render_template, request, session

from clients.common import (
    create_partner_app,
    settings_from_environment,
    sign_in_required,
    verified_token,
)

DEFAULTS = {
    "IDP_ISSUER": "http://localhost:5000",
    "BASE_URL": "http://127.0.0.1:5001",
    "CLIENT_ID": "demo-portail-dsn",
    "CLIENT_SECRET": "demo-secret-portail-dsn-2026",
    "OTHER_PORTAL_ID": "demo-compte-atmp",
    "OTHER_PORTAL_URL": "http://127.0.0.1:5002/",
    "SECRET_KEY": "",
    "SITE_NAME": "Portail DSN (démo)",
    "SITE_COLOUR": "#00558c",
}


def create_app(settings: dict | None = None):
    """The Portail DSN site; ``settings`` override the ``PARTNER_*`` variables."""
    app = create_partner_app(__name__, {**settings_from_environment(DEFAULTS),
                                        **(settings or {})})

    @app.get("/")
    def home():
        """Who is signed in and the habilitations the token carries."""
        return render_template("portail_dsn/home.html", habilitations=_habilitations(),
                               other_portal=_interop_link(app.config))

    @app.get("/declarations")
    @sign_in_required
    def declarations():
        """A page a notification or another portal may link to."""
        return render_template("portail_dsn/declarations.html", habilitations=_habilitations())

    @app.get("/api/declarations")
    def declarations_api():
        """For partner back ends: a bearer token issued for this portal (RFC 9068), e.g. by
        token exchange; answers who it speaks for and on whose behalf."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        claims = verified_token(token, "at+jwt", audience=app.config["CLIENT_ID"]) \
            if scheme.lower() == "bearer" else None
        if claims is None:
            return {"error": "invalid_token"}, 401, {"WWW-Authenticate": "Bearer"}
        return {"portail": "Portail DSN", "sub": claims["sub"], "act": claims.get("act"),
                "scope": claims.get("scope"), "declarations": ["DSN mensuelle"]}

    return app


def _habilitations() -> list[dict]:
    person = session.get("person") or {}
    if "habilitations" in person:
        return person["habilitations"]
    sources = person.get("_claim_sources", {})
    source = sources.get(person.get("_claim_names", {}).get("habilitations"))
    if not source:
        return []
    # OIDC Core §5.6.2: a distributed claim, fetched with the access token.
    response = requests.get(source["endpoint"], timeout=5, headers={
        "Authorization": f"Bearer {session.get('access_token')}"})
    return response.json().get("habilitations", []) if response.ok else []


def _interop_link(config) -> str:
    query = urlencode({"vers": config["OTHER_PORTAL_ID"], "cible": config["OTHER_PORTAL_URL"]})
    return f"{config['IDP_ISSUER']}/interop/naviguer?{query}"
