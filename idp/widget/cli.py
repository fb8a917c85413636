"""``flask --app wsgi widget theme CLIENT_ID FILE``: a partner's widget theme."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from idp.extensions import db
from idp.widget.theme import InvalidTheme, store_theme


@click.command("theme")
@click.argument("client_id")
@click.argument("theme_file", type=click.File(encoding="utf-8"))
@with_appcontext
def theme_command(client_id, theme_file):
    """Enregistre le thème du widget d'un site partenaire (fichier JSON, « - » pour l'entrée
    standard) : primaryColor (#rrggbb), logoUrl (https), title (60 caractères au plus) et
    pageMaySet, les clés que ses pages peuvent changer ; {} l'efface."""
    try:
        data = json.load(theme_file)
    except ValueError as exc:
        raise click.UsageError(f"JSON illisible : {exc}") from exc
    try:
        stored = store_theme(db.session, current_app.extensions["idp_client_cache"],
                             client_id, data)
    except InvalidTheme as exc:
        raise click.UsageError(f"thème refusé : {exc}") from exc
    if stored is None:
        raise click.ClickException(f"aucun site partenaire {client_id}")
    click.echo(json.dumps(stored, ensure_ascii=False, indent=2))
