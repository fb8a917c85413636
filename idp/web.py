"""Cross-cutting HTTP behaviour: security headers, language choice, safe redirects, origin."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, request
from flask_babel import get_locale

from idp.audit.service import Origin
from idp.extensions import LANGUAGE_COOKIE


def is_local_path(target: str | None) -> bool:
    """Whether ``target`` is a path on this site, never another host (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(c) < 32 for c in target):
        return False  # browsers read « /\evil.example » as « //evil.example »
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def request_origin() -> Origin:
    """The current request's origin, for the journal and the per-IP throttle."""
    return Origin(ip=request.remote_addr, user_agent=request.user_agent.string or None)


def init_app(app: Flask) -> None:
    """Install the headers and the language cookie on every response."""

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # No page may be framed unless a view says otherwise (the widget will, per partner).
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path != "/static" and not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.after_request
    def remember_language(response: Response) -> Response:
        chosen = request.args.get("lang")
        if chosen in app.config["LANGUAGES"]:
            response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600,
                                samesite="Lax", secure=app.config["SESSION_COOKIE_SECURE"])
        return response

    @app.context_processor
    def language_context() -> dict:
        return {"current_language": str(get_locale() or "fr"), "language_url": language_url}


def language_url(language: str) -> str:
    """This page's address in ``language``, keeping its query (``next``…)."""
    args = request.args.to_dict()
    args["lang"] = language
    return request.path + "?" + urlencode(args)
