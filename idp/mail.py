"""E-mail delivery: SMTP when configured, else ``.eml`` files in an outbox folder."""

from __future__ import annotations

import logging
import smtplib
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import current_app, render_template

log = logging.getLogger(__name__)


class Mailer:
    """Sends French (text + HTML) messages; the bodies, which may hold links, are never logged."""

    def __init__(self, sender: str, smtp_host: str | None, smtp_port: int = 25,
                 smtp_user: str | None = None, smtp_password: str | None = None,
                 starttls: bool = False, outbox: str | None = None):
        self._sender = sender
        self._host = smtp_host
        self._port = smtp_port
        self._user = smtp_user
        self._password = smtp_password
        self._starttls = starttls
        self._outbox = Path(outbox) if outbox else None

    def send(self, to: str, subject: str, text: str, html: str) -> None:
        """Send one message to ``to``."""
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        message["Message-ID"] = make_msgid(domain="net-entreprises.example")
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        if self._host:
            with smtplib.SMTP(self._host, self._port, timeout=10) as smtp:
                if self._starttls:
                    smtp.starttls()
                if self._user:
                    smtp.login(self._user, self._password or "")
                smtp.send_message(message)
            log.info("courriel « %s » envoyé par SMTP", subject)
            return
        self._outbox.mkdir(parents=True, exist_ok=True)
        path = self._outbox / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(bytes(message))
        log.info("courriel « %s » écrit dans %s", subject, path)


def mailer() -> Mailer:
    """The current app's mailer."""
    config = current_app.config
    return Mailer(config["MAIL_FROM"], config["SMTP_HOST"], int(config["SMTP_PORT"]),
                  config["SMTP_USER"], config["SMTP_PASSWORD"], config["SMTP_STARTTLS"],
                  config["OUTBOX_DIR"])


def send_template(to: str, subject: str, template: str, **context) -> None:
    """Render ``templates/mail/<template>.txt`` and ``.html`` and send them."""
    text = render_template(f"mail/{template}.txt", **context)
    html = render_template(f"mail/{template}.html", **context)
    mailer().send(to, subject, text, html)
