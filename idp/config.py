"""Settings: embedded defaults, overridden by ``IDP_*`` environment variables, then by tests."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

# Floors from OWASP's password storage cheat sheet for argon2id (m=19 MiB, t=2, p=1):
# docs/architecture.md §7 promises never to go below them, whatever the configuration says.
ARGON2_MIN_MEMORY_KIB = 19 * 1024
ARGON2_MIN_TIME_COST = 2


class ConfigurationError(RuntimeError):
    """A setting has a value the IdP refuses to run with."""


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigurationError(f"{name} doit être un nombre entier (reçu : {value!r})") from exc


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on", "oui"}


# Every setting the IdP reads, with its embedded default. The environment variable is the
# setting's name prefixed with ``IDP_`` (IDP_DATABASE_URL, IDP_REDIS_URL, …).
DEFAULTS: dict[str, object] = {
    "DATABASE_URL": None,  # None: a SQLite file in the instance folder
    "REDIS_URL": None,  # None: the SQLite store file below
    "STORE_PATH": None,  # None: store.sqlite3 in the instance folder (one machine's processes)
    "STORE_PREFIX": "idp:",
    "SECRET_KEY": None,  # None: generated once and kept in the instance folder
    "ISSUER": "http://localhost:5000",
    "SESSION_IDLE_MINUTES": 60,
    "ARGON2_TIME_COST": 3,  # argon2-cffi's RFC 9106 "low memory" profile
    "ARGON2_MEMORY_KIB": 64 * 1024,
    "ARGON2_PARALLELISM": 4,
    "HASH_CONCURRENCY": 0,  # hashes at once per process; 0: cores ÷ parallelism (at least 1)
    "HASH_WAIT_SECONDS": 5,  # a sign-in waits this long for a slot, then gets 503 Retry-After
    # Sign-ins waiting per slot; past them, 503 Retry-After at once. Four absorb the bursts
    # of a steady morning (bench/load.py steady) and leave half of 8 server threads free.
    "HASH_QUEUE_PER_SLOT": 4,
    "LOGIN_FREE_ATTEMPTS": 3,  # failures per account before waits start
    "LOGIN_IP_FREE_ATTEMPTS": 20,  # failures per IP address before waits start
    "LOGIN_BASE_DELAY_SECONDS": 30,  # first wait; it doubles with each further failure
    "LOGIN_MAX_DELAY_SECONDS": 15 * 60,
    "LOGIN_FAILURE_WINDOW_SECONDS": 60 * 60,  # failures are forgotten after this quiet time
    "TRUSTED_PROXIES": 0,  # how many reverse proxies set X-Forwarded-For in front of us
    # Certificate sign-in: the PEM file of the authorities whose client certificates are
    # accepted (None: « Utiliser un certificat » is not offered), and the header in which a
    # trusted reverse proxy (TRUSTED_PROXIES > 0) passes the certificate it received.
    "CERTIFICATE_CA_BUNDLE": None,
    "CERTIFICATE_HEADER": "X-SSL-Client-Cert",
    "OIDC_CODE_LIFETIME_SECONDS": 60,
    "OIDC_ACCESS_TOKEN_LIFETIME_SECONDS": 600,
    "OIDC_ID_TOKEN_LIFETIME_SECONDS": 600,
    "OIDC_REFRESH_TOKEN_LIFETIME_DAYS": 30,
    "OIDC_ACCESS_TOKEN_ALG": "ES256",  # ES256 signs ~20 times faster than RS256
    # Past this size the habilitations claim moves to /api/v1/habilitations (distributed).
    "OIDC_INLINE_HABILITATIONS_MAX_BYTES": 4096,
    # A jeton of /authentifier/1.0/ lives an hour: a DSN upload and the follow-up calls
    # (état, retours) of one software run fit in it; the software authenticates again after.
    "MACHINE_JETON_LIFETIME_SECONDS": 3600,
    "PASSWORD_POLICY": "net-entreprises",  # or "long" (12–128 characters, no composition)
    "TOTP_ISSUER": "net-entreprises.fr",
    "SECOND_FACTOR_FREE_ATTEMPTS": 5,  # wrong codes before waits start at the second step
    "RESET_LINK_SECONDS": 3600,  # a password reset link works one hour
    "REGISTRATION_TTL_HOURS": 48,  # an unfinished registration is purged after this
    "EMAIL_VALIDATION_HOURS": 72,  # life of the e-mail validation link
    "CANDIDACY_DAYS": 15,  # a candidate administrator not activated by then is removed
    "REGISTRATION_SIRET_ALLOW": "",  # comma-separated; when set, only these may register
    "REGISTRATION_SIRET_DENY": "",
    "REGISTRATION_EMAIL_DOMAINS_DENY": "",  # added to the built-in disposable domains
    "LETTERS_DIR": None,  # None: the letters folder inside the instance folder
    "SMTP_HOST": None,  # None: e-mails are written as .eml files in the outbox folder
    "SMTP_PORT": 25,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
    "MAIL_FROM": "Net-entreprises <ne-pas-repondre@net-entreprises.example>",
    "OUTBOX_DIR": None,  # None: the outbox folder inside the instance folder
    # Queued e-mails and back-channel logouts: first retry after 5 s, doubling up to 15 min,
    # given up after 20 attempts (about four hours of failures).
    "DELIVERY_RETRY_FIRST_SECONDS": 5,
    "DELIVERY_RETRY_MAX_SECONDS": 900,
    "DELIVERY_MAX_ATTEMPTS": 20,
}

BOOL_SETTINGS = {name for name, value in DEFAULTS.items() if isinstance(value, bool)}
INT_SETTINGS = {name for name, value in DEFAULTS.items()
                if isinstance(value, int) and name not in BOOL_SETTINGS}


def load_settings(instance_path: str, overrides: dict | None = None) -> dict:
    """Return the Flask config: defaults, then ``IDP_*`` variables, then ``overrides``."""
    settings = dict(DEFAULTS)
    for name in DEFAULTS:
        raw = os.environ.get(f"IDP_{name}")
        if raw in (None, ""):
            continue
        if name in BOOL_SETTINGS:
            settings[name] = _bool(raw)
        elif name in INT_SETTINGS:
            settings[name] = _int(raw, f"IDP_{name}")
        else:
            settings[name] = raw
    settings.update(overrides or {})

    instance = Path(instance_path)
    if not settings["DATABASE_URL"]:
        instance.mkdir(parents=True, exist_ok=True)
        settings["DATABASE_URL"] = f"sqlite:///{instance / 'idp.sqlite3'}"
    if not settings["STORE_PATH"]:
        instance.mkdir(parents=True, exist_ok=True)
        settings["STORE_PATH"] = str(instance / "store.sqlite3")
    if not settings["OUTBOX_DIR"]:
        settings["OUTBOX_DIR"] = str(instance / "outbox")
    if not settings["LETTERS_DIR"]:
        settings["LETTERS_DIR"] = str(instance / "letters")
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = _instance_secret(instance)
    _check_argon2_floor(settings)
    if settings["PASSWORD_POLICY"] not in ("net-entreprises", "long"):
        raise ConfigurationError("IDP_PASSWORD_POLICY vaut net-entreprises ou long")

    secure = str(settings["ISSUER"]).startswith("https://")
    derived = dict(
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        SESSION_COOKIE_NAME="idp_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PREFERRED_URL_SCHEME="https" if secure else "http",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the server-side session
        BABEL_DEFAULT_LOCALE="fr",
        BABEL_DEFAULT_TIMEZONE="Europe/Paris",
        LANGUAGES=("fr", "en"),
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    # Tests may still set any Flask setting themselves.
    settings.update({k: v for k, v in derived.items() if k not in (overrides or {})})
    return settings


def _instance_secret(instance: Path) -> str:
    """Keep one random secret key per instance so restarts keep sessions and CSRF tokens."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    try:
        # O_EXCL: when several workers start at once, one creates the key and the others
        # read it, instead of each writing its own and refusing the others' cookies.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
    for _ in range(50):  # another worker may have created the file but not written it yet
        secret = path.read_text().strip()
        if secret:
            return secret
        time.sleep(0.02)
    raise ConfigurationError(f"{path} est vide : supprimez-le pour en créer un nouveau")


def _check_argon2_floor(settings: dict) -> None:
    if int(settings["ARGON2_MEMORY_KIB"]) < ARGON2_MIN_MEMORY_KIB:
        raise ConfigurationError(
            f"IDP_ARGON2_MEMORY_KIB doit valoir au moins {ARGON2_MIN_MEMORY_KIB} (19 Mio)"
        )
    if int(settings["ARGON2_TIME_COST"]) < ARGON2_MIN_TIME_COST:
        raise ConfigurationError(
            f"IDP_ARGON2_TIME_COST doit valoir au moins {ARGON2_MIN_TIME_COST}"
        )
