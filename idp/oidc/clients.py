"""Partner registry: creation, listing, deletion, and the cached lookup of the hot path."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, list_to_scope, scope_to_list
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.habilitations.models import Service
from idp.hashing import sha256_hex as secret_digest
from idp.oidc.models import OAuthClient

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
SCOPES = ("openid", "profile", "email", "phone", "siret", "habilitations")
CLIENT_ID_MAX_LENGTH = 64  # the column's size


def plausible_client_id(value: str | None) -> bool:
    """Whether ``value`` could name a partner: 1 to 64 printable characters. Anything else is
    never looked up (PostgreSQL refuses NUL in text) nor journaled."""
    return bool(value) and len(value) <= CLIENT_ID_MAX_LENGTH and value.isprintable()


@dataclass(frozen=True)
class RegisteredClient(ClientMixin):
    """An immutable copy of a partner, safe to cache and share between requests."""

    client_id: str
    name: str
    secret_digest: str | None
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    backchannel_logout_uri: str | None
    initiate_login_uri: str | None
    grant_types: tuple[str, ...]
    scope: str
    token_endpoint_auth_method: str
    id_token_signed_response_alg: str
    services: frozenset[str]
    widget_origins: tuple[str, ...] = ()
    exchange_audiences: tuple[str, ...] = ()
    jwks: dict | None = field(default=None, hash=False, compare=False)
    theme: dict = field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def from_row(cls, row: OAuthClient) -> RegisteredClient:
        """Copy an ORM row."""
        return cls(
            client_id=row.client_id, name=row.name, secret_digest=row.client_secret_digest,
            redirect_uris=tuple(row.redirect_uris),
            backchannel_logout_uri=row.backchannel_logout_uri,
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris),
            initiate_login_uri=row.initiate_login_uri, grant_types=tuple(row.grant_types),
            scope=row.scope, token_endpoint_auth_method=row.token_endpoint_auth_method,
            id_token_signed_response_alg=row.id_token_signed_response_alg,
            services=frozenset(s.code for s in row.services), jwks=row.jwks,
            widget_origins=tuple(row.widget_origins or ()),
            exchange_audiences=tuple(row.exchange_audiences or ()), theme=row.theme or {},
        )

    @property
    def client_metadata(self) -> dict:
        """The registered metadata Authlib's end-session endpoint reads."""
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris)}

    @property
    def is_public(self) -> bool:
        """A browser or mobile app that cannot keep a secret: PKCE is its proof."""
        return self.token_endpoint_auth_method == "none"

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None  # OIDC Core §3.1.2.1: every authorization request names its redirect_uri

    def allows_scope(self, scope: str) -> bool:
        """Whether every scope of ``scope`` is in the partner's registered set."""
        return set(scope_to_list(scope)) <= set(scope_to_list(self.scope))

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        allowed = set(scope_to_list(self.scope))
        return list_to_scope([s for s in scope_to_list(scope) if s in allowed])

    def check_redirect_uri(self, redirect_uri):
        # Exact string comparison, no prefix or pattern (RFC 9700 §4.1.1).
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        if not self.secret_digest or not client_secret:
            return False
        return hmac.compare_digest(self.secret_digest, secret_digest(client_secret))

    def check_endpoint_auth_method(self, method, endpoint):
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


class UnknownService(ValueError):
    """A service code that is not in the catalogue."""


class UnknownScope(ValueError):
    """A scope that is not one of ``SCOPES``."""


class InsecureAddress(ValueError):
    """An address a partner gives must be https (http only on the loopback, for tests and
    local demos); an origin is scheme, host and port, nothing more."""


TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}


def check_https(url: str, *, origin_only: bool = False) -> str:
    """``url`` if it is https (or http on the loopback); raise InsecureAddress otherwise."""
    parts = urlsplit(url)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise InsecureAddress(url)
    if not parts.hostname or parts.username or parts.fragment:
        raise InsecureAddress(url)
    if origin_only and (parts.path not in ("", "/") or parts.query):
        raise InsecureAddress(url)
    return f"{parts.scheme}://{parts.netloc}" if origin_only else url


class ClientRegistry:
    """Creates, lists and deletes partners; finds them through a per-process cache."""

    def __init__(self, session: Session, cache: dict, cache_seconds: int = 30):
        self._session = session
        self._cache = cache  # shared per app: client_id → (expires, RegisteredClient | None)
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()

    def find(self, client_id: str | None) -> RegisteredClient | None:
        """The partner ``client_id``, from the cache when fresh."""
        if not plausible_client_id(client_id):
            return None
        entry = self._cache.get(client_id)
        if entry and entry[0] > time.monotonic():
            return entry[1]
        row = self._session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
        client = RegisteredClient.from_row(row) if row else None
        if len(self._cache) > 10_000:  # unknown ids sent by anyone must not grow it forever
            self._cache.clear()
        self._cache[client_id] = (time.monotonic() + self._cache_seconds, client)
        return client

    def create(self, name: str, redirect_uris: list[str], *, post_logout_redirect_uris=(),
               backchannel_logout_uri=None, initiate_login_uri=None, services=(),
               public=False, auth_method="client_secret_basic",
               id_token_alg="RS256", jwks=None, client_id=None, secret=None,
               scopes=SCOPES, widget_origins=(), exchange_audiences=(),
               theme=None) -> tuple[RegisteredClient, str | None]:
        """Register a partner; return it and its secret (shown once, stored hashed).

        ``scopes`` are those it may ask for (all by default); ``widget_origins`` the pages
        that may frame the sign-in widget; ``exchange_audiences`` the partners it may ask
        tokens for (token exchange). ``client_id`` and ``secret`` are drawn at random unless
        given (demo data only). Raises UnknownService, UnknownScope, InsecureAddress.
        """
        widget_origins = [check_https(o, origin_only=True) for o in widget_origins]
        if initiate_login_uri:
            check_https(initiate_login_uri)
        if public:
            auth_method = "none"
        if auth_method not in AUTH_METHODS:
            raise ValueError(f"méthode d'authentification inconnue : {auth_method}")
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise UnknownScope(", ".join(unknown))
        catalogue = {s.code: s for s in self._session.scalars(
            select(Service).where(Service.code.in_(list(services))))}
        missing = sorted(set(services) - set(catalogue))
        if missing:
            raise UnknownService(", ".join(missing))
        if auth_method in ("none", "private_key_jwt"):
            secret = None
        elif secret is None:
            secret = secrets.token_urlsafe(32)
        grant_types = ["authorization_code", "refresh_token"]
        if not public:
            grant_types.append("client_credentials")
            if exchange_audiences:
                grant_types.append(TOKEN_EXCHANGE)
        row = OAuthClient(
            # Hex: a random id never starts with « - », which commands would take for an option.
            client_id=client_id or secrets.token_hex(16), name=name,
            client_secret_digest=secret_digest(secret) if secret else None,
            redirect_uris=list(redirect_uris),
            post_logout_redirect_uris=list(post_logout_redirect_uris),
            backchannel_logout_uri=backchannel_logout_uri,
            initiate_login_uri=initiate_login_uri,
            widget_origins=widget_origins, exchange_audiences=list(exchange_audiences),
            grant_types=grant_types, response_types=["code"],
            scope=" ".join(s for s in SCOPES if s in scopes),
            token_endpoint_auth_method=auth_method,
            id_token_signed_response_alg=id_token_alg, jwks=jwks, theme=theme or {},
            services=list(catalogue.values()),
        )
        self._session.add(row)
        self._session.commit()
        return RegisteredClient.from_row(row), secret

    def all(self) -> list[RegisteredClient]:
        """Every partner, by name."""
        rows = self._session.scalars(select(OAuthClient).order_by(OAuthClient.name))
        return [RegisteredClient.from_row(row) for row in rows]

    def delete(self, client_id: str) -> bool:
        """Remove a partner; return whether it existed."""
        row = self._session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
        if row is None:
            return False
        self._session.delete(row)
        self._session.commit()
        self._cache.pop(client_id, None)
        return True


# --- which partner owns a web address ----------------------------------------------------

def origin(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL (lower case, default port left
    out), or None for anything else: another scheme (``javascript:``, ``data:``…), no host,
    user information (``https://a@b``), spaces, control characters, backslashes (browsers
    read ``\\`` as ``/``), non-ASCII (hosts come in punycode), more than 2,048 characters."""
    if not url or len(url) > MAX_URL_LENGTH or not url.isascii():
        return None
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\" for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown_port = f":{port}" if port is not None and port != DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{shown_port}"


def partner_origins(partner: RegisteredClient) -> set[str]:
    """The origins a partner owns: those of its ``initiate_login_uri`` and ``redirect_uris``
    (http and https only; an app's own scheme owns nothing)."""
    found = {origin(u) for u in (partner.initiate_login_uri, *partner.redirect_uris) if u}
    found.discard(None)
    return found


def owns(partner: RegisteredClient, url: str) -> bool:
    """Whether ``url`` is a page of ``partner``: same origin as its ``initiate_login_uri`` or
    one of its ``redirect_uris``."""
    target = origin(url)
    return target is not None and target in partner_origins(partner)
