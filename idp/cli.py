"""The ``flask --app wsgi idp …`` commands."""

from __future__ import annotations

import contextlib
import csv
import json
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade

from idp.accounts.deps import password_hasher, recovery
from idp.accounts.recovery import Person
from idp.audit.deps import audit_journal
from idp.audit.service import Origin
from idp.delivery.cli import deliveries_cli
from idp.demo import PARTNERS, DemoLoader, as_json
from idp.directory.importer import DirectoryImporter, ImportReport
from idp.extensions import db
from idp.habilitations.deps import habilitation_service
from idp.notifications.cli import notifications_cli
from idp.notifications.deps import publishing
from idp.oidc.cli import client_cli, keys_cli
from idp.oidc.deps import client_registry
from idp.registration.deps import registration_service

idp_cli = AppGroup("idp", help="Administration du fournisseur d'identité.")
directory_cli = AppGroup("directory", help="Répertoire des entreprises et établissements.")
idp_cli.add_command(directory_cli)
idp_cli.add_command(client_cli)
idp_cli.add_command(keys_cli)
idp_cli.add_command(deliveries_cli)
idp_cli.add_command(notifications_cli)


def _importer() -> DirectoryImporter:
    return DirectoryImporter(db.session, audit_journal())


def _print_report(report: ImportReport, what: str, rejects: Path | None) -> None:
    if report.ok:
        closed = f", {report.closed} fermé(s)" if report.closed else ""
        click.echo(f"{report.file} : {report.rows} {what} lu(s), {report.created} créé(s), "
                   f"{report.updated} mis à jour{closed}, {report.unchanged} inchangé(s).")
        if report.error_count:
            click.echo(f"{report.file} : {report.error_count} ligne(s) écartée(s), "
                       f"détail dans {rejects}.")
        return
    for error in report.errors:
        click.echo(f"{report.file}, {error}", err=True)
    hidden = report.error_count - len(report.errors)
    if hidden:
        click.echo(f"… et {hidden} autre(s) ligne(s) en erreur.", err=True)
    beyond = f" (plus que --max-errors {report.max_errors})" if report.max_errors else ""
    click.echo(f"{report.file} : {report.error_count} ligne(s) en erreur{beyond}, rien n'a été "
               "importé.", err=True)


def _import_file(path: Path, run, what: str, max_errors: int) -> None:
    """One file through ``run``; with ``max_errors`` its bad rows go to ``<file>.rejets.csv``
    beside it (line, reason), kept even when the file is refused."""
    rejects = path.with_name(path.name + ".rejets.csv") if max_errors else None
    with contextlib.ExitStack() as stack:
        writer = None
        if rejects is not None:
            writer = csv.writer(stack.enter_context(rejects.open("w", newline="",
                                                                 encoding="utf-8")))
            writer.writerow(("ligne", "raison"))
        with path.open("rb") as stream:
            report = run(stream, path.name, max_errors=max_errors, set_aside=(
                (lambda error: writer.writerow((error.line, error.reason))) if writer else None))
    _print_report(report, what, rejects)
    if not report.ok:
        raise SystemExit(1)


@directory_cli.command("import")
@click.argument("establishments", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--unites-legales", "companies", type=click.Path(exists=True, dir_okay=False,
                                                               path_type=Path),
              help="Fichier StockUniteLegale (siren, denominationUniteLegale) à importer avant.")
@click.option("--max-errors", type=click.IntRange(min=0), default=0, show_default=True,
              help="Lignes en erreur tolérées par fichier : elles sont écartées (détail dans "
                   "FICHIER.rejets.csv) et le reste est importé. 0 : tout ou rien.")
def import_directory(establishments: Path, companies: Path | None, max_errors: int) -> None:
    """Importe un fichier SIRENE StockEtablissement (CSV), tout ou rien par défaut."""
    importer = _importer()
    if companies:
        _import_file(companies, importer.import_companies, "unité(s) légale(s)", max_errors)
    _import_file(establishments, importer.import_establishments, "établissement(s)",
                 max_errors)


@idp_cli.command("demo")
@click.option("--json", "as_json_output", is_flag=True, help="Identifiants au format JSON.")
def load_demo(as_json_output: bool) -> None:
    """Met la base à jour et charge les données de démonstration (relançable sans risque)."""
    upgrade()
    people = DemoLoader(db.session, password_hasher(), _importer(), client_registry(),
                        habilitation_service(), publishing()).load()
    if as_json_output:
        click.echo(json.dumps(as_json(people), ensure_ascii=False, indent=2))
        return
    click.echo("Données de démonstration chargées. Comptes (SIRET / Nom / Prénom / Mot de passe) :")
    for person in people:
        role = "administrateur" if person.role == "administrator" else "déclarant"
        click.echo(f"  {person.siret}  {person.last_name:<10} {person.first_name:<8} "
                   f"{person.password:<13} {role}, {person.company}")
    click.echo("Sites partenaires (client_id / client_secret / redirect_uri) :")
    for partner in PARTNERS:
        click.echo(f"  {partner.client_id:<18} {partner.client_secret:<30} "
                   f"{partner.redirect_uri}  ({', '.join(partner.services)})")


def init_app(app: Flask) -> None:
    """Register the ``idp`` command group."""
    app.cli.add_command(idp_cli)


account_cli = AppGroup("account", help="Comptes (support utilisateur).")
idp_cli.add_command(account_cli)


@account_cli.command("reset-link")
@click.argument("siret")
@click.argument("last_name")
@click.argument("first_name")
def reset_link(siret, last_name, first_name):
    """Envoie au titulaire le courriel de réinitialisation du mot de passe (support)."""
    person = Person(siret, last_name, first_name)
    support = recovery(limited=False)
    if not support.send_link(person, Origin(ip="cli"), action="password.reset_link_support"):
        raise click.ClickException("aucun compte avec adresse électronique pour "
                                   f"{siret} {last_name} {first_name}")
    click.echo(f"Lien envoyé à {support.choices(person).masked_email}.")


@idp_cli.command("purge")
def purge():
    """Supprime les inscriptions inachevées et les candidatures d'administrateur expirées."""
    hours = int(current_app.config["REGISTRATION_TTL_HOURS"])
    registrations, candidacies = registration_service().purge(timedelta(hours=hours))
    click.echo(f"{registrations} inscription(s) inachevée(s) et {candidacies} candidature(s) "
               "d'administrateur expirée(s) supprimée(s).")
