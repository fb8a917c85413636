"""``flask --app wsgi idp deliveries …``: the worker that sends what requests queued."""

from __future__ import annotations

import logging
import signal
import threading

import click
from flask.cli import AppGroup

from idp.delivery.deps import delivery_queue

deliveries_cli = AppGroup("deliveries", help="E-mails et déconnexions partenaires en attente.")


@deliveries_cli.command("work")
@click.option("--once", is_flag=True, help="Envoyer ce qui est dû, puis s'arrêter (cron).")
def work(once: bool) -> None:
    """Envoie les e-mails et déconnexions en attente, avec nouvelles tentatives espacées."""
    # A worker is its own process: say on stderr what it sends, retries and gives up.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    queue = delivery_queue()
    if once:
        report = queue.drain()
        click.echo(f"{report.sent} envoyé(s), {report.retried} à réessayer, "
                   f"{report.failed} abandonné(s).")
        return
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())  # finish the delivery under way, then stop
    click.echo("Envoi des e-mails et déconnexions en attente (Ctrl+C pour arrêter).")
    queue.run(stop)


@deliveries_cli.command("status")
def status() -> None:
    """Affiche le nombre d'envois en attente et abandonnés."""
    counts = delivery_queue().counts()
    click.echo(f"{counts['waiting']} en attente, {counts['failed']} abandonné(s).")
