"""/gestion/portefeuilles/<id>/…: the bulk habilitation file of one declarant on one
portfolio — « Générer le fichier des habilitations », the template, the upload."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask_babel import format_datetime
from flask_babel import gettext as _

from idp.accounts.forms import ButtonForm
from idp.accounts.login import current_account
from idp.admin.access import admin_required
from idp.admin.deps import portfolio_desk
from idp.admin.scope import CompanyScope
from idp.extensions import db
from idp.habilitations.bulk import BulkTooSoon
from idp.habilitations.deps import bulk_habilitations
from idp.web import request_origin

bp = Blueprint("admin_bulk", __name__, url_prefix="/gestion/portefeuilles")
PORTFOLIO = "/<int(max=2147483647):portfolio_id>"


def reason(error) -> str:
    """The French wording of a refused line of the file."""
    messages = {
        "encoding": _("le fichier doit être encodé en UTF-8"),
        "header": _("la première ligne doit être SIRET;<déclarations>"),
        "duplicate_column": _("la colonne %(detail)s figure deux fois", detail=error.detail),
        "unknown_column": _("la déclaration %(detail)s n'est pas dans le portefeuille",
                            detail=error.detail),
        "column_count": _("le nombre de colonnes ne correspond pas à l'en-tête"),
        "siret_syntax": _("le SIRET %(detail)s n'est pas valide", detail=error.detail),
        "duplicate_siret": _("SIRET déjà présent plus haut dans le fichier"),
        "cell_value": _("chaque case vaut 1 ou 0 (colonne %(detail)s)", detail=error.detail),
        "empty_file": _("le fichier ne contient aucune ligne"),
        "not_a_client": _("le SIRET %(detail)s n'est pas un client du portefeuille",
                          detail=error.detail),
        "not_held": _("le client n'a pas cette déclaration (%(detail)s)", detail=error.detail),
    }
    return messages.get(error.reason, _("ligne refusée"))


def _targets(portfolio_id: int, declarant_id: str):
    scope = CompanyScope.of(current_account())
    portfolio = portfolio_desk().portfolio(scope, portfolio_id)
    try:
        declarant = scope.person(db.session, uuid.UUID(declarant_id[:36]))
    except ValueError:
        declarant = None
    if portfolio is None or declarant is None:
        abort(404)
    return portfolio, declarant


def _csv(lines, filename: str) -> Response:
    # The lines end with CRLF already (RFC 4180 §2), as spreadsheets expect.
    return Response(stream_with_context(iter(lines)),
                    mimetype="text/csv", headers={
                        "Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get(PORTFOLIO + "/habilitations.csv")
@admin_required
def export(portfolio_id: int):
    """« Générer le fichier des habilitations »: the declarant's current rights."""
    portfolio, declarant = _targets(portfolio_id, request.args.get("declarant", ""))
    return _csv(bulk_habilitations().export(declarant.id, portfolio),
                f"habilitations-{portfolio.id}.csv")


@bp.get(PORTFOLIO + "/modele.csv")
@admin_required
def template(portfolio_id: int):
    """The template: the header of the portfolio's declarations."""
    portfolio = portfolio_desk().portfolio(CompanyScope.of(current_account()), portfolio_id)
    if portfolio is None:
        abort(404)
    return _csv([bulk_habilitations().template(portfolio)], f"modele-{portfolio.id}.csv")


@bp.post(PORTFOLIO + "/fichier")
@admin_required
def upload(portfolio_id: int):
    """Apply a declarant's file: checked whole, then applied at once, with a report."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    portfolio, declarant = _targets(portfolio_id, request.form.get("declarant", ""))
    upload = request.files.get("fichier")
    if upload is None or not upload.filename:
        return render_template("admin/portfolios/report.html", portfolio=portfolio,
                               declarant=declarant, report=None, reason=reason,
                               refusal=_("Choisissez un fichier.")), 400
    try:
        # The upload's stream, line by line: a 50,000-line file is never held whole.
        report = portfolio_desk().apply_file(portfolio, current_account(), declarant,
                                             iter(upload.stream), request_origin())
    except BulkTooSoon as too_soon:
        db.session.rollback()
        return render_template(
            "admin/portfolios/report.html", portfolio=portfolio, declarant=declarant,
            report=None, reason=reason, refusal=_(
                "Un seul fichier par portefeuille toutes les 48 heures : le prochain pourra "
                "être envoyé à partir du %(when)s.",
                when=format_datetime(too_soon.allowed_at, "short"))), 429
    return render_template("admin/portfolios/report.html", portfolio=portfolio,
                           declarant=declarant, report=report, reason=reason,
                           refusal=None), 422 if report.errors else 200

