"""``flask --app wsgi idp notifications send``: the notices' e-mails, from cron."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from idp.delivery.deps import delivery_queue
from idp.notifications.deps import mailing

notifications_cli = AppGroup("notifications", help="Courriels des notifications.")


@notifications_cli.command("send")
def send() -> None:
    """Prépare les courriels des nouvelles notifications et les récapitulatifs dus, puis
    envoie ce qui est en attente (sans risque de double envoi si relancé)."""
    report = mailing().send()
    sent = delivery_queue().drain()
    click.echo(f"{report.notices} notification(s) traitée(s), {report.mails} courriel(s) et "
               f"{report.digests} récapitulatif(s) préparé(s) ; {sent.sent} envoyé(s), "
               f"{sent.retried} à réessayer.")
