"""Builds the notifications package's services for the current app (no composition root)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app

from idp.extensions import app_now, db, store
from idp.habilitations.deps import habilitation_service
from idp.notifications.inbox import Inbox
from idp.notifications.mailing import NotificationMailing
from idp.notifications.publishing import Publisher, Publishing

_PUBLISHER = "idp_notification_publisher"


def provide_publisher(app: Flask, authenticate: Callable[[], Publisher]) -> None:
    """The partners' package hands this lower one how to tell who publishes (the request's
    client-credentials token, and which pages ``/connexion?cible=`` reaches for it)."""
    app.extensions[_PUBLISHER] = authenticate


def current_publisher() -> Publisher:
    """The partner the request's token speaks for; else the RFC 6750 error response."""
    return current_app.extensions[_PUBLISHER]()


def publishing() -> Publishing:
    """Partners' notices, written."""
    return Publishing(db.session, app_now)


def inbox() -> Inbox:
    """A person's notices, by the habilitation rules."""
    return Inbox(db.session, habilitation_service(), app_now, store.get())


def mailing() -> NotificationMailing:
    """The notices' e-mails and digests."""
    return NotificationMailing(db.session, habilitation_service(), inbox(), app_now,
                               current_app.config["ISSUER"])
