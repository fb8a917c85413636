"""Cross-cutting HTTP behaviour: security headers, language choice, safe redirects, origin."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, request
from flask_babel import get_locale
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestEntityTooLarge

from idp.audit.service import Origin
from idp.extensions import LANGUAGE_COOKIE

DEFAULT_POLICY = ("default-src 'self'; frame-ancestors 'none'; form-action 'self'; "
                  "base-uri 'none'")
# What a Content-Security-Policy source (or a postMessage target) may say of a partner's
# origin: scheme, host, port — nothing that could end the directive or widen it.
CSP_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
# ASCII digits only (not "²" or "١", which str.isdigit accepts); six are far more pages than
# any list shown to a person has.
PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")


def csp_origins(origins) -> list[str]:
    """The ``origins`` that can be written into a policy as they are (the registry checks
    partners' addresses at registration; this is the net under it)."""
    return [origin for origin in origins if origin and CSP_ORIGIN.fullmatch(origin)]


def default_policy_with_form_action(origins) -> str:
    """The site-wide policy, whose ``form-action`` also names ``origins``: browsers check
    every redirect that follows a form submission against the submitting page's
    ``form-action`` (CSP Level 3), so a form whose answer ends at a partner names it."""
    extra = " ".join(csp_origins(origins))
    return DEFAULT_POLICY.replace("form-action 'self'", f"form-action 'self' {extra}".rstrip())


def frame_ancestors(policy: str) -> str | None:
    """The sources of a Content-Security-Policy's ``frame-ancestors`` directive, or None
    when it has none."""
    for directive in policy.split(";"):
        name, _, sources = directive.strip().partition(" ")
        if name.lower() == "frame-ancestors":
            return sources.strip()
    return None


def is_local_path(target: str | None) -> bool:
    """Whether ``target`` is a path on this site, never another host (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(c) < 32 for c in target):
        return False  # browsers read « /\evil.example » as « //evil.example »
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def add_security_headers(headers: Headers, path: str) -> None:
    """Give a response to ``path`` the site's security headers, where it set none itself."""
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    # No page may be framed unless a view says otherwise: the widget's framed pages send
    # their own policy, whose frame-ancestors names the partner's registered origins; those
    # alone go without X-Frame-Options (which cannot name an origin, and whose DENY would
    # forbid what the policy allows in browsers that read both).
    policy = headers.setdefault("Content-Security-Policy", DEFAULT_POLICY)
    if frame_ancestors(policy) in (None, "'none'"):
        headers.setdefault("X-Frame-Options", "DENY")
    if path != "/static" and not path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")


def request_origin() -> Origin:
    """The current request's origin, for the journal and the per-IP throttle."""
    return Origin(ip=request.remote_addr, user_agent=request.user_agent.string or None)


def init_app(app: Flask) -> None:
    """Install the headers and the language cookie on every response."""

    @app.after_request
    def security_headers(response: Response) -> Response:
        add_security_headers(response.headers, request.path)
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


class BadJsonBody(Exception):
    """A request body that is not the JSON an API takes; ``status`` 400, 413 or 415."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


def json_body(max_bytes: int):
    """The request's JSON body (strict: no NaN, no Infinity), read up to ``max_bytes``;
    else raise BadJsonBody."""
    if request.mimetype != "application/json":
        raise BadJsonBody(415, "the body must be application/json")
    request.max_content_length = max_bytes
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise BadJsonBody(413, f"the body is limited to {max_bytes} bytes") from None
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadJsonBody(400, "the body is not valid JSON") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def page_number(raw: str) -> int | None:
    """The page number typed in a URL, or None when it is not one."""
    return int(raw) if PAGE_NUMBER.fullmatch(raw) else None
