"""How the OIDC layer plugs into what accounts offers, without accounts importing it: it
listens to sign-outs (back-channel logout, made by the delivery worker) and says where a
sign-in continues (so the sign-in page may send the browser on to the partner's redirect
URI)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from flask import Flask, url_for

from idp.accounts.login import session_ended
from idp.accounts.views import SIGN_IN_DESTINATIONS
from idp.delivery.deps import register_handler
from idp.oidc.clients import origin
from idp.oidc.deps import client_registry, logout_service
from idp.oidc.logout import BACKCHANNEL_LOGOUT


def end_partner_sessions(app: Flask, account_id, sid: str | None,
                         initiated_by: str | None) -> None:
    """A person signed out: revoke the session's tokens and back-channel every partner."""
    logout_service().end_session(account_id, sid)


def authorization_destination(next_url: str) -> str | None:
    """The origin a sign-in continuing to an authorization request ends at: the request's
    redirect URI, when it is one the partner registered (the grant checks it again)."""
    parts = urlsplit(next_url)
    if parts.path != url_for("oidc.authorize"):
        return None
    args = dict(parse_qsl(parts.query))
    client = client_registry().find(args.get("client_id"))
    redirect_uri = args.get("redirect_uri")
    if client is None or not client.check_redirect_uri(redirect_uri):
        return None
    return origin(redirect_uri)


def init_app(app: Flask) -> None:
    """Listen to ``app``'s sign-outs (module-level receiver: blinker keeps a weak reference)
    and tell the sign-in pages where an authorization request continues."""
    session_ended.connect(end_partner_sessions, sender=app)
    register_handler(app, BACKCHANNEL_LOGOUT, lambda payload: logout_service().notify(payload))
    app.extensions.setdefault(SIGN_IN_DESTINATIONS, []).append(authorization_destination)
