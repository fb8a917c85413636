"""Flask extensions, created here and wired in ``create_app`` with ``init_app``."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Engine, event
from sqlalchemy.orm import DeclarativeBase

from idp.store import Store, create_store, use_write_ahead_log


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _write_ahead_log_for_sqlite(dbapi_connection, _record) -> None:
    """The SQLite database in write-ahead-log mode, as the store is (``idp.store``)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        use_write_ahead_log(dbapi_connection)
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()

LANGUAGE_COOKIE = "idp_lang"


def app_clock() -> Callable[[], float]:
    """The current app's clock (seconds since the epoch): ``time.time`` unless the app was
    built with a ``CLOCK`` (tests move time forward instead of sleeping)."""
    return current_app.config.get("CLOCK") or time.time


def app_now() -> datetime:
    """The app's clock as an aware UTC datetime."""
    return datetime.fromtimestamp(app_clock()(), UTC)


def select_locale() -> str:
    """French unless the visitor chose English (``?lang=en``, then remembered in a cookie).

    The browser's Accept-Language is not followed: the service is French first, and many
    French users run browsers (and tools) set to English.
    """
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return languages[0]  # commands (support e-mails…) speak French
    chosen = request.args.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in languages else languages[0]


class StoreExtension:
    """Gives the app its ephemeral store (see ``idp.store``)."""

    def init_app(self, app: Flask) -> None:
        """Create the store the settings ask for and attach it to ``app``."""
        app.extensions["idp_store"] = create_store(
            app.config["REDIS_URL"], app.config["STORE_PREFIX"], app.config["STORE_PATH"]
        )

    @staticmethod
    def get_from(app: Flask) -> Store:
        """The store of ``app``."""
        return app.extensions["idp_store"]

    def get(self) -> Store:
        """The current app's store."""
        return self.get_from(current_app)


store = StoreExtension()
