"""``response_mode=web_message`` (OAuth 2.0 Web Message Response Mode, draft-sakimura-oauth-
wmrm): the authorization response is a page that hands ``{code, state, iss}`` (or the error)
to the window that asked for it, with ``postMessage`` to one exact origin, never ``"*"``.

The mode is only for a partner's own widget pages: the ``redirect_uri`` of the request must
be an origin (``https://partenaire.example``, no path) registered both as a redirect URI and
as one of the partner's widget origins. The window the page posts to is its opener (the
popup fallback) or else its parent (the framed widget); the browser drops the message if
that window is not at the registered origin.
"""

from __future__ import annotations

import secrets

from flask import render_template

from idp.web import CSP_ORIGIN

MODE = "web_message"


def web_message_origin(client, redirect_uri: str | None) -> str | None:
    """The origin a web_message response to ``client`` may be posted to: ``redirect_uri``
    itself when it is one of the partner's widget origins (and one of its redirect URIs,
    which the grant checked before); None otherwise."""
    if client is None or not redirect_uri:
        return None
    if redirect_uri not in getattr(client, "widget_origins", ()):
        return None
    return redirect_uri if CSP_ORIGIN.fullmatch(redirect_uri) else None


def web_message_response(origin: str, params: list[tuple[str, str]]):
    """The page that posts ``params`` (code, state, iss, or the error) to ``origin``, as
    ``(status, body, headers)``.

    Its policy lets it run its one script (by nonce), be framed by ``origin`` alone (the
    widget's frame) and do nothing else: no form, no connection, no other frame.
    """
    nonce = secrets.token_urlsafe(16)
    response = dict(params)
    success = "code" in response
    body = render_template("oidc/web_message.html", origin=origin, nonce=nonce,
                           response=response, success=success)
    policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; "
              f"frame-ancestors {origin}; form-action 'none'; base-uri 'none'")
    return 200, body, [("Content-Type", "text/html; charset=utf-8"),
                       ("Content-Security-Policy", policy)]
