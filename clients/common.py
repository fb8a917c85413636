"""What both demo partner sites share: the OpenID Connect client (Authlib), sign-in by
redirect, third-party-initiated login, RP-initiated and back-channel logout.

A partner keeps its own session (a signed cookie on its own site); the person's IdP session
id (``sid``) is kept in it, so that a back-channel logout naming that ``sid`` ends it.
"""

from __future__ import annotations

import os
import secrets
import threading
from functools import wraps
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, redirect, request, session, url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
SCOPE = "openid profile siret habilitations"
TEMPLATES = Path(__file__).parent / "templates"


def settings_from_environment(defaults: dict) -> dict:
    """``defaults`` overridden by ``PARTNER_<NAME>`` environment variables."""
    return {name: os.environ.get(f"PARTNER_{name}", value) for name, value in defaults.items()}


def create_partner_app(import_name: str, settings: dict) -> Flask:
    """A partner site signing people in with Net-entreprises; each site adds its pages."""
    app = Flask(import_name)
    app.jinja_loader.searchpath.append(str(TEMPLATES))
    app.config.update(settings)
    app.secret_key = settings.get("SECRET_KEY") or secrets.token_hex(32)
    # Cookies ignore ports: two sites on one host (the demo's 127.0.0.1:5001 and :5002) need
    # a cookie name each, or they would read each other's session.
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_NAME=f"session-{settings['CLIENT_ID']}")
    oauth = OAuth(app)
    oauth.register(
        "netentreprises", client_id=settings["CLIENT_ID"],
        client_secret=settings["CLIENT_SECRET"],
        server_metadata_url=f"{settings['IDP_ISSUER']}/.well-known/openid-configuration",
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256"})
    app.extensions["partner_ended_sessions"] = set()  # sids ended by back-channel logout
    app.extensions["partner_lock"] = threading.Lock()
    app.register_blueprint(sign_in_bp)

    @app.before_request
    def forget_ended_session():
        ended = current_app.extensions["partner_ended_sessions"]
        if session.get("sid") in ended:
            session.clear()

    @app.context_processor
    def partner_context():
        return {"person": session.get("person"), "site": current_app.config}

    return app


def netentreprises():
    """The app's OpenID Connect client."""
    return current_app.extensions["authlib.integrations.flask_client"].netentreprises


def sign_in_required(view):
    """Anonymous visitors sign in with Net-entreprises first, then come back."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not session.get("person"):
            session["target"] = request.path
            return redirect(url_for("partner.sign_in"))
        return view(*args, **kwargs)

    return wrapper


def keep_signed_in(token: dict) -> None:
    """Remember who signed in (the verified ID token's claims) and for which IdP session."""
    claims = dict(token["userinfo"])
    session["person"] = claims
    session["sid"] = claims.get("sid")
    session["id_token"] = token["id_token"]
    session["access_token"] = token["access_token"]


def own_target(url: str | None) -> str:
    """``url`` if it is a page of this site, else the home page (no open redirect)."""
    base = urlsplit(current_app.config["BASE_URL"])
    parts = urlsplit(url or "")
    if (parts.scheme, parts.netloc) == (base.scheme, base.netloc) and parts.path.startswith("/"):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/"


sign_in_bp = Blueprint("partner", __name__)


@sign_in_bp.get("/connexion")
def sign_in():
    """Start an authorization request: code flow with PKCE and a nonce."""
    return netentreprises().authorize_redirect(
        current_app.config["BASE_URL"] + "/callback", nonce=secrets.token_urlsafe(16))


@sign_in_bp.get("/initier")
def initiate_login():
    """Third-party-initiated login (OpenID Connect Core §4): the IdP sends the person here
    with ``iss``, ``login_hint`` and ``target_link_uri``; the session there answers at once."""
    if request.args.get("iss") != current_app.config["IDP_ISSUER"]:
        abort(400)
    session["target"] = own_target(request.args.get("target_link_uri"))
    session["login_hint"] = request.args.get("login_hint", "")[:14]
    return netentreprises().authorize_redirect(
        current_app.config["BASE_URL"] + "/callback", nonce=secrets.token_urlsafe(16),
        prompt="none", login_hint=session["login_hint"])


@sign_in_bp.get("/callback")
def callback():
    """The authorization response: redeem the code, keep the person, go where they wanted."""
    if request.args.get("error") in ("login_required", "interaction_required"):
        # prompt=none found no session at the IdP: ask for a sign-in this time.
        return netentreprises().authorize_redirect(
            current_app.config["BASE_URL"] + "/callback", nonce=secrets.token_urlsafe(16),
            login_hint=session.get("login_hint", ""))
    if request.args.get("error"):
        abort(400)
    keep_signed_in(netentreprises().authorize_access_token())
    return redirect(session.pop("target", None) or "/")


@sign_in_bp.post("/deconnexion")
def sign_out():
    """RP-initiated logout: end the IdP session too, then come back here."""
    id_token = session.get("id_token")
    session.clear()
    metadata = netentreprises().load_server_metadata()
    query = {"post_logout_redirect_uri": current_app.config["BASE_URL"] + "/"}
    if id_token:
        query["id_token_hint"] = id_token
    return redirect(f"{metadata['end_session_endpoint']}?{urlencode(query)}")


@sign_in_bp.post("/backchannel-logout")
def backchannel_logout():
    """Back-Channel Logout 1.0 §2.5: a signed logout token names the IdP session to end."""
    claims = verified_token(request.form.get("logout_token", ""), "logout+jwt",
                            audience=current_app.config["CLIENT_ID"])
    if claims is None or BACKCHANNEL_EVENT not in claims.get("events", {}) or \
            not claims.get("sid") or "nonce" in claims:
        return {"error": "invalid_request"}, 400
    with current_app.extensions["partner_lock"]:
        current_app.extensions["partner_ended_sessions"].add(claims["sid"])
    return "", 200


def verified_token(token: str, typ: str, audience: str) -> dict | None:
    """The claims of a JWT the IdP signed for ``audience``, or None."""
    metadata = netentreprises().load_server_metadata()
    keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=5).json())
    try:
        decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
        jwt.JWTClaimsRegistry(iss={"essential": True, "value": metadata["issuer"]},
                              exp={"essential": True}).validate(decoded.claims)
    except (JoseError, ValueError):
        return None
    audiences = decoded.claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    if decoded.header.get("typ") != typ or audience not in audiences:
        return None
    return decoded.claims
