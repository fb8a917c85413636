"""Layered fixtures: ``app`` → ``client`` → ``directory`` → ``account`` → ``signed_in``.

The suite runs on the embedded default (a SQLite database and a SQLite store file per test) unless
IDP_DATABASE_URL / IDP_REDIS_URL name PostgreSQL and Redis, as ``.ci/run`` does on its second
pass: then the schema is migrated once and every table is emptied before each test.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher as Argon2Hasher
from sqlalchemy import make_url, text
from werkzeug.serving import make_server

from idp import create_app
from idp.accounts.models import Account, Role, Status
from idp.accounts.names import name_key
from idp.delivery.deps import delivery_queue
from idp.delivery.queue import DeliveryReport
from idp.extensions import db, store
from idp.models_common import utcnow
from idp.store import RedisStore

DATABASE_URL = os.environ.get("IDP_DATABASE_URL")
REDIS_URL = os.environ.get("IDP_REDIS_URL")
SAMPLE = Path(__file__).resolve().parent.parent / "idp" / "directory" / "sample"

# The cheapest argon2id the IdP accepts (OWASP's floor): tests hash and verify a lot.
TEST_ARGON2 = {"ARGON2_TIME_COST": 2, "ARGON2_MEMORY_KIB": 19 * 1024, "ARGON2_PARALLELISM": 1}

PASSWORD = "Camions2026"
SIRET_SIEGE = "52814432200013"
SIRET_VILLEURBANNE = "52814432200021"


def pytest_report_header(config):
    database = "PostgreSQL" if DATABASE_URL else "SQLite (embedded)"
    return f"idp storage: {database} + {'Redis' if REDIS_URL else 'SQLite store'}"


def pytest_configure(config):
    """Refuse to run on a PostgreSQL database whose name does not say it is for tests: the
    suite drops every table of it."""
    if DATABASE_URL and "test" not in (make_url(DATABASE_URL).database or ""):
        pytest.exit(f"IDP_DATABASE_URL names {make_url(DATABASE_URL).database!r}: the suite "
                    "wipes its database, so it runs only on one whose name contains 'test'",
                    returncode=4)


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory):
    """Run the Alembic migrations once; return what a test's app needs to get a fresh copy."""
    if DATABASE_URL:
        app = create_app({"DATABASE_URL": DATABASE_URL, "TESTING": True, **TEST_ARGON2})
        with app.app_context():
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            from flask_migrate import upgrade

            upgrade()
            tables = [t.name for t in db.metadata.sorted_tables]
            db.engine.dispose()
        return {"url": DATABASE_URL, "tables": tables}
    template = tmp_path_factory.mktemp("template") / "idp.sqlite3"
    app = create_app({"DATABASE_URL": f"sqlite:///{template}", "TESTING": True, **TEST_ARGON2})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return {"template": template}


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """What the test SMTP server received."""

    def __init__(self):
        self.received: list[EmailMessage] = []
        self.app = None  # the test's app, whose queued mail is sent before each reading

    @property
    def messages(self) -> list[EmailMessage]:
        """Every message received, once the test app's delivery worker has sent what is due."""
        if self.app is not None:
            run_deliveries(self.app)
        return self.received

    def to(self, address: str) -> list[EmailMessage]:
        """Messages sent to ``address``."""
        return [m for m in self.messages if m["To"] == address]

    @staticmethod
    def text(message: EmailMessage) -> str:
        """The plain-text part of ``message``."""
        return message.get_body(preferencelist=("plain",)).get_content()

    def link(self, message: EmailMessage) -> str:
        """The first link of ``message``."""
        return re.search(r"https?://\S+", self.text(message)).group(0)


class SmtpReceiver:
    """aiosmtpd's handler: files what arrives in a ``Mailbox`` (kept apart from it, since
    aiosmtpd inspects its handler's attributes, and reading ``messages`` sends mail)."""

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.mailbox.received.append(message_from_bytes(envelope.content,
                                                        policy=default_policy))
        return "250 Message accepted"


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server (aiosmtpd) on a loopback port, for the whole run."""
    controller = Controller(SmtpReceiver(Mailbox()), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def mailbox(smtp_server, app) -> Mailbox:
    """The messages sent during this test."""
    box = smtp_server.handler.mailbox
    box.received.clear()
    box.app = app
    yield box
    box.app = None


def run_deliveries(app) -> DeliveryReport:
    """One run of the delivery worker over what is due (``idp deliveries work --once``)."""
    with app.app_context():
        return delivery_queue().drain()


class Clock:
    """The app's clock, which a test moves forward (or back) instead of sleeping."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the app's time by ``seconds``."""
        self.offset += seconds


@pytest.fixture
def settings(migrated_database, tmp_path, smtp_server):
    """The test app's settings; tests may change them before asking for ``app``."""
    config = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": smtp_server.port,
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "ISSUER": "http://localhost",
        "STORE_PREFIX": f"idp-test:{uuid.uuid4().hex}:",
        # Letters and unsent mail stay in the test's own folder, never in instance/.
        "LETTERS_DIR": str(tmp_path / "letters"),
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "STORE_PATH": str(tmp_path / "store.sqlite3"),
        "CLOCK": Clock(),
        # Simultaneous sign-ins in race tests all wait for a slot; shedding a flood is
        # tests/accounts/test_hashing_slots.py's subject.
        "HASH_QUEUE_PER_SLOT": 64,
        **TEST_ARGON2,
    }
    if DATABASE_URL:
        config["DATABASE_URL"] = DATABASE_URL
    else:
        database = tmp_path / "idp.sqlite3"
        shutil.copy(migrated_database["template"], database)
        config["DATABASE_URL"] = f"sqlite:///{database}"
    if REDIS_URL:
        config["REDIS_URL"] = REDIS_URL
    return config


@pytest.fixture
def clock(settings) -> Clock:
    """The clock of the test's app."""
    return settings["CLOCK"]


@pytest.fixture
def app(settings, migrated_database):
    """A fresh IdP on an empty, migrated database and an empty store."""
    app = create_app(settings)
    with app.app_context():
        if DATABASE_URL:
            tables = ", ".join(migrated_database["tables"])
            db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        app_store = store.get_from(app)
        if isinstance(app_store, RedisStore):
            app_store.clear_prefix()


@pytest.fixture
def client(app):
    """A browser: a Flask test client with cookies."""
    return app.test_client()


@pytest.fixture
def directory(app):
    """The sample directory, imported through the CLI."""
    result = app.test_cli_runner().invoke(args=[
        "idp", "directory", "import", str(SAMPLE / "StockEtablissement_sample.csv"),
        "--unites-legales", str(SAMPLE / "StockUniteLegale_sample.csv"),
    ])
    assert result.exit_code == 0, result.output
    return app


def make_account(app, siret=SIRET_SIEGE, last_name="Lefèvre", first_name="Sophie",
                 password=PASSWORD, role=Role.ADMINISTRATOR, status=Status.ACTIVE,
                 password_hash=None) -> Account:
    """Create an account directly in the database."""
    with app.app_context():
        account = Account(
            siret=siret, last_name=last_name, first_name=first_name,
            last_name_key=name_key(last_name), first_name_key=name_key(first_name),
            email=f"{name_key(first_name)}@example.fr", email_verified=True,
            role=role, status=status, created_at=utcnow(),
            password_hash=password_hash or Argon2Hasher(
                time_cost=2, memory_cost=19 * 1024, parallelism=1).hash(password),
        )
        db.session.add(account)
        db.session.commit()
        db.session.refresh(account)
        db.session.expunge(account)
        return account


@pytest.fixture
def account(directory):
    """An active administrator of Transports Lefèvre's siège."""
    return make_account(directory)


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="(?:[a-z]+-)?csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login_form(page: str, siret=SIRET_SIEGE, last_name="Lefèvre", first_name="Sophie",
               password=PASSWORD) -> dict:
    """« Vous connecter »'s fields as a person fills them, with ``page``'s CSRF token."""
    return {"csrf_token": csrf_token(page), "siret": siret, "last_name": last_name,
            "first_name": first_name, "password": password, "next": ""}


def sign_in(browser, url="/connexion", siret=SIRET_SIEGE, last_name="Lefèvre",
            first_name="Sophie", password=PASSWORD, next_url=None, **environ):
    """Fill « Vous connecter » at ``url`` as a person would: load the page, post the form.

    ``browser`` is a Flask test client or, against a live server, a ``requests.Session``;
    the answer is returned unfollowed.
    """
    if next_url is not None:
        url = f"{url}?{urlencode({'next': next_url})}"
    page = browser.get(url, **environ)
    assert page.status_code == 200, page.text
    form = login_form(page.text, siret, last_name, first_name, password)
    hidden_next = re.search(r'name="next" type="hidden" value="([^"]*)"', page.text)
    form["next"] = next_url if next_url is not None else (
        html.unescape(hidden_next.group(1)) if hidden_next else "")
    target = urlsplit(url)._replace(query="").geturl()
    if isinstance(browser, requests.Session):
        return browser.post(target, data=form, allow_redirects=False)
    return browser.post(target, data=form, **environ)


@pytest.fixture
def signed_in(client, account):
    """A client signed in as ``account``."""
    response = sign_in(client)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def load_demo(app):
    """Load the demo data through its command; return ``app``."""
    result = app.test_cli_runner().invoke(args=["idp", "demo"])
    assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def demo(app):
    """The demo directory, catalogue, accounts, habilitations and partners; returns ``app``."""
    return load_demo(app)


@contextmanager
def serve(app, base: str | None = None):
    """Serve ``app`` over real HTTP on the loopback port of ``base`` (by default the IdP's
    issuer), in a thread; yields ``base``."""
    base = base or app.config["ISSUER"]
    http = make_server("127.0.0.1", int(base.rsplit(":", 1)[1]), app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        http.shutdown()
        thread.join(timeout=5)
