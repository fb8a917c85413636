"""E-mail: composed in the request and queued (``idp.delivery``), then handed by the worker
to the SMTP relay when one is configured, else written as ``.eml`` files in an outbox folder."""

from __future__ import annotations

import logging
import smtplib
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import Flask, current_app, render_template

from idp.delivery.deps import delivery_queue, register_handler
from idp.delivery.queue import RetryLater, Undeliverable

log = logging.getLogger(__name__)

MAIL = "mail"


class Mailer:
    """Queues French (text + HTML) messages; the bodies, which may hold links, are never
    logged."""

    def __init__(self, sender: str, queue):
        self._sender = sender
        self._queue = queue

    def send(self, to: str, subject: str, text: str, html: str, **queueing) -> None:
        """Queue one message to ``to``; the worker sends it (``queueing``: the queue's
        ``commit`` and ``delay_seconds``)."""
        # Date and Message-ID are set now: a message retried an hour later is still the
        # one written now, and the receiver sees a resend as the same message.
        self._queue.enqueue(MAIL, {
            "from": self._sender, "to": to, "subject": subject, "text": text, "html": html,
            "date": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
            "message_id": make_msgid(domain="net-entreprises.example")}, **queueing)


class MailRelay:
    """Hands queued messages to the SMTP relay, or to the outbox folder without one."""

    def __init__(self, smtp_host: str | None, smtp_port: int = 25,
                 smtp_user: str | None = None, smtp_password: str | None = None,
                 starttls: bool = False, outbox: str | None = None):
        self._host = smtp_host
        self._port = smtp_port
        self._user = smtp_user
        self._password = smtp_password
        self._starttls = starttls
        self._outbox = Path(outbox) if outbox else None

    def deliver(self, payload: dict) -> None:
        """Send one queued message; ``RetryLater`` when the relay may take it later."""
        message = EmailMessage()
        message["From"] = payload["from"]
        message["To"] = payload["to"]
        message["Subject"] = payload["subject"]
        message["Date"] = payload["date"]
        message["Message-ID"] = payload["message_id"]
        message.set_content(payload["text"])
        message.add_alternative(payload["html"], subtype="html")
        if self._host:
            self._to_relay(message)
            log.info("courriel « %s » envoyé par SMTP", payload["subject"])
            return
        self._outbox.mkdir(parents=True, exist_ok=True)
        path = self._outbox / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(bytes(message))
        log.info("courriel « %s » écrit dans %s", payload["subject"], path)

    def _to_relay(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=10) as smtp:
                if self._starttls:
                    smtp.starttls()
                if self._user:
                    smtp.login(self._user, self._password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise Undeliverable("le relais refuse le destinataire") from error
        except (smtplib.SMTPException, OSError) as error:
            # Only the error's type: SMTP answers may quote the message or the credentials.
            raise RetryLater(f"relais SMTP indisponible ({type(error).__name__})") from error


def mail_relay() -> MailRelay:
    """The current app's relay."""
    config = current_app.config
    return MailRelay(config["SMTP_HOST"], int(config["SMTP_PORT"]), config["SMTP_USER"],
                     config["SMTP_PASSWORD"], config["SMTP_STARTTLS"], config["OUTBOX_DIR"])


def mailer() -> Mailer:
    """The current app's mailer."""
    return Mailer(current_app.config["MAIL_FROM"], delivery_queue())


def send_template(to: str, subject: str, template: str, queueing: dict | None = None,
                  **context) -> None:
    """Render ``templates/mail/<template>.txt`` and ``.html`` and queue them."""
    text = render_template(f"mail/{template}.txt", **context)
    html = render_template(f"mail/{template}.html", **context)
    mailer().send(to, subject, text, html, **(queueing or {}))


def init_app(app: Flask) -> None:
    """Let the delivery worker send ``app``'s queued e-mail."""
    register_handler(app, MAIL, lambda payload: mail_relay().deliver(payload))
