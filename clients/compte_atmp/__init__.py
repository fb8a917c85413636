"""« Compte AT/MP » (demo): the Net-entreprises sign-in widget on its home page,
third-party-initiated login, a link to the other portal, and a back-end call to the Portail
DSN's API with a token obtained by token exchange (RFC 8693)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

import requests
from flask import abort, render_template, request, session

from clients.common import (
    create_partner_app,
    keep_signed_in,
    netentreprises,
    settings_from_environment,
    sign_in_required,
)

DEFAULTS = {
    "IDP_ISSUER": "http://localhost:5000",
    "BASE_URL": "http://127.0.0.1:5002",
    "CLIENT_ID": "demo-compte-atmp",
    "CLIENT_SECRET": "demo-secret-compte-atmp-2026",
    "OTHER_PORTAL_ID": "demo-portail-dsn",
    "OTHER_PORTAL_URL": "http://127.0.0.1:5001/",
    "OTHER_PORTAL_API": "http://127.0.0.1:5001/api/declarations",
    "SECRET_KEY": "",
    "SITE_NAME": "Compte AT/MP (démo)",
    "SITE_COLOUR": "#6a1b4d",
}
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def create_app(settings: dict | None = None):
    """The Compte AT/MP site; ``settings`` override the ``PARTNER_*`` variables."""
    app = create_partner_app(__name__, {**settings_from_environment(DEFAULTS),
                                        **(settings or {})})

    @app.get("/")
    def home():
        """Signed in: who and a link to the other portal; else the sign-in widget."""
        widget = None if session.get("person") else _widget_request()
        query = urlencode({"vers": app.config["OTHER_PORTAL_ID"],
                           "cible": app.config["OTHER_PORTAL_URL"]})
        return render_template("compte_atmp/home.html", widget=widget,
                               other_portal=f"{app.config['IDP_ISSUER']}/interop/naviguer?{query}")

    @app.post("/widget/retour")
    def widget_return():
        """The widget's authorization response, sent by this site's page: the back end
        redeems the code with its PKCE verifier (the page never sees a token)."""
        pending = session.pop("widget", None)
        response = request.get_json(silent=True)
        if (pending is None or not isinstance(response, dict)
                or request.headers.get("Origin") != app.config["BASE_URL"]
                or response.get("state") != pending["state"]
                or response.get("iss") != app.config["IDP_ISSUER"]
                or not isinstance(response.get("code"), str)):
            abort(400)
        client = netentreprises()
        token = client.fetch_access_token(redirect_uri=app.config["BASE_URL"],
                                          code=response["code"],
                                          code_verifier=pending["verifier"])
        token["userinfo"] = client.parse_id_token(token, nonce=pending["nonce"])
        keep_signed_in(token)
        return {"ok": True}

    @app.get("/dsn")
    @sign_in_required
    def dsn():
        """Ask the Portail DSN's API, as this person, with an exchanged token."""
        exchanged = requests.post(
            netentreprises().load_server_metadata()["token_endpoint"], timeout=10,
            auth=(app.config["CLIENT_ID"], app.config["CLIENT_SECRET"]),
            data={"grant_type": TOKEN_EXCHANGE, "subject_token": session["access_token"],
                  "subject_token_type": ACCESS_TOKEN_TYPE,
                  "audience": app.config["OTHER_PORTAL_ID"], "scope": "openid"})
        answer = None
        if exchanged.ok:
            answer = requests.get(app.config["OTHER_PORTAL_API"], timeout=10, headers={
                "Authorization": f"Bearer {exchanged.json()['access_token']}"}).json()
        return render_template("compte_atmp/dsn.html", exchanged=exchanged, answer=answer)

    return app


def _widget_request() -> dict:
    """State, nonce and PKCE challenge made here, kept in this site's session."""
    verifier = secrets.token_urlsafe(48)
    pending = {"state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16),
               "verifier": verifier}
    session["widget"] = pending
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return {"state": pending["state"], "nonce": pending["nonce"], "code_challenge": challenge}
