"""The widget's look, per partner: a few values from an allow-list, never raw CSS.

A partner's registered theme (``OAuthClient.theme``) holds its values and which of them its
pages may change with the loader's ``theme`` option::

    {"primaryColor": "#1f4e79", "logoUrl": "https://partenaire.example/logo.svg",
     "title": "Compte AT/MP", "pageMaySet": ["title"]}

* ``primaryColor``: ``#rrggbb`` with enough contrast for white text on it (WCAG AA, 4.5:1),
  since it colours the buttons and the heading;
* ``logoUrl``: an https address (http on the loopback only) of at most 500 characters;
* ``title``: the heading, 60 printable characters at most (« Vous connecter » otherwise);
* ``pageMaySet``: the keys above that the page's option may override.

A value that breaks a rule is refused at registration (``check_registered``) and ignored in
a page's option, which never changes a key the partner did not list.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.oidc.models import OAuthClient
from idp.web import CSP_ORIGIN

KEYS = ("primaryColor", "logoUrl", "title")
ALLOW_KEY = "pageMaySet"
COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
TITLE_MAX = 60
LOGO_MAX = 500
OPTION_MAX = 1000  # the page's option, as JSON in the frame's address
LOOPBACK = ("localhost", "127.0.0.1", "::1")


class InvalidTheme(ValueError):
    """A registered theme breaks a rule (the message says which, in French)."""


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def readable_colour(value: object) -> str | None:
    """``value`` as ``#rrggbb`` (lower case) if white text on it is readable, else None."""
    if not isinstance(value, str) or not COLOUR.fullmatch(value):
        return None
    contrast = 1.05 / (_luminance(value) + 0.05)
    return value.lower() if contrast >= 4.5 else None


def logo_url(value: object) -> str | None:
    """``value`` if it is an https (or loopback http) address a CSP source can name."""
    if not isinstance(value, str) or len(value) > LOGO_MAX or not value.isprintable():
        return None
    if any(c in value for c in " \"'<>\\`"):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)
    if not secure or parts.username or parts.password:
        return None
    return value if CSP_ORIGIN.fullmatch(f"{parts.scheme}://{parts.netloc}") else None


def title(value: object) -> str | None:
    """``value`` stripped if it is 1 to 60 printable characters."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if 0 < len(value) <= TITLE_MAX and value.isprintable() else None


CHECKS = {"primaryColor": readable_colour, "logoUrl": logo_url, "title": title}
PROBLEMS = {
    "primaryColor": "primaryColor doit être une couleur #rrggbb assez foncée pour un texte "
                    "blanc (contraste 4,5:1)",
    "logoUrl": f"logoUrl doit être une adresse https (http en boucle locale) de "
               f"{LOGO_MAX} caractères au plus",
    "title": f"title doit compter de 1 à {TITLE_MAX} caractères imprimables",
}


def check_registered(data: object) -> dict:
    """A partner's theme as it may be stored; raise InvalidTheme otherwise."""
    if not isinstance(data, dict):
        raise InvalidTheme("le thème doit être un objet JSON")
    unknown = sorted(set(data) - {*KEYS, ALLOW_KEY})
    if unknown:
        raise InvalidTheme(f"clés inconnues : {', '.join(unknown)} (permises : "
                           f"{', '.join((*KEYS, ALLOW_KEY))})")
    theme = {}
    for key in KEYS:
        if key in data:
            value = CHECKS[key](data[key])
            if value is None:
                raise InvalidTheme(PROBLEMS[key])
            theme[key] = value
    allowed = data.get(ALLOW_KEY, [])
    if not isinstance(allowed, list) or not all(key in KEYS for key in allowed):
        raise InvalidTheme(f"{ALLOW_KEY} doit être une liste parmi : {', '.join(KEYS)}")
    if allowed:
        theme[ALLOW_KEY] = [key for key in KEYS if key in allowed]
    return theme


@dataclass(frozen=True)
class Theme:
    """What the framed pages show of a partner's theme (every value already checked)."""

    primary_color: str | None = None
    logo_url: str | None = None
    title: str | None = None

    @property
    def logo_origin(self) -> str | None:
        """The logo's origin, for the page's ``img-src``."""
        if not self.logo_url:
            return None
        parts = urlsplit(self.logo_url)
        return f"{parts.scheme}://{parts.netloc}"


def resolve(registered: dict | None, option: str | None) -> Theme:
    """The partner's theme, with the keys it allows taken from the page's option (JSON)."""
    values = {}
    registered = registered if isinstance(registered, dict) else {}
    for key in KEYS:
        value = CHECKS[key](registered.get(key)) if key in registered else None
        if value is not None:
            values[key] = value
    allowed = registered.get(ALLOW_KEY)
    requested = _option(option) if isinstance(allowed, list) and allowed else {}
    for key in KEYS:
        if key in allowed_keys(allowed) and key in requested:
            value = CHECKS[key](requested[key])
            if value is not None:
                values[key] = value
    return Theme(primary_color=values.get("primaryColor"), logo_url=values.get("logoUrl"),
                 title=values.get("title"))


def allowed_keys(allowed: object) -> set[str]:
    """The keys of ``allowed`` a page may set."""
    return {key for key in allowed if key in KEYS} if isinstance(allowed, list) else set()


def _option(raw: str | None) -> dict:
    """The page's option: a small JSON object, or nothing."""
    if not raw or len(raw) > OPTION_MAX:
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def store_theme(session: Session, cache: dict, client_id: str, data: object) -> dict | None:
    """Check ``data`` and keep it as ``client_id``'s theme; return what was stored, or None
    when there is no such partner. Raises InvalidTheme."""
    theme = check_registered(data)
    row = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if row is None:
        return None
    row.theme = theme
    session.commit()
    cache.pop(client_id, None)  # this process sees it at once, the others within 30 s
    return theme
