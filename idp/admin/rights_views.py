"""/gestion/habilitations: search a declarant's rights, tick and untick, « Valider »."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp.accounts.forms import ButtonForm
from idp.accounts.login import current_account
from idp.admin.access import admin_required
from idp.admin.deps import rights_grid
from idp.admin.rights import GridRefused
from idp.admin.scope import CompanyScope
from idp.extensions import db
from idp.web import page_number, request_origin

bp = Blueprint("admin_rights", __name__, url_prefix="/gestion/habilitations")

REFUSALS = {
    "not_subscribed": lambda: _("L'établissement n'est pas abonné à ce service : abonnez-le "
                                "d'abord dans « Gérer les services »."),
    "granularity": lambda: _("Ce service s'attribue pour toute l'entreprise (SIREN)."),
}


def _criteria(values) -> dict:
    """The search criteria (declarant, service, establishment, page), as strings."""
    return {"declarant": values.get("declarant", "")[:36],
            "service": values.get("service", "")[:16], "siret": values.get("siret", "")[:14],
            "page": page_number(values.get("page", "1")) or 1}


def _declarant(scope: CompanyScope, value: str):
    try:
        account_id = uuid.UUID(value)
    except ValueError:
        return None
    return scope.person(db.session, account_id)


@bp.get("")
@admin_required
def search():
    """« Gérer les habilitations »: the criteria, then the grid of the declarant found."""
    scope = CompanyScope.of(current_account())
    criteria = _criteria(request.args)
    declarant = _declarant(scope, criteria["declarant"]) if criteria["declarant"] else None
    if criteria["declarant"] and declarant is None:
        abort(404)
    grid = rights_grid()
    rows = grid.rows(scope, declarant, criteria["service"], criteria["siret"],
                     criteria["page"]) if declarant else []
    return render_template("admin/rights/search.html", criteria=criteria, declarant=declarant,
                           people=scope.people(db.session), services=grid.services(),
                           establishments=scope.establishments(db.session), rows=rows,
                           form=ButtonForm())


@bp.post("")
@admin_required
def validate():
    """« Valider »: the shown cells become what is ticked."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    administrator = current_account()
    scope = CompanyScope.of(administrator)
    criteria = _criteria(request.form)
    declarant = _declarant(scope, criteria["declarant"])
    if declarant is None:
        abort(404)
    try:
        changes = rights_grid().apply(scope, administrator, declarant,
                                      request.form.getlist("cellule")[:2000],
                                      set(request.form.getlist("droit")[:10000]),
                                      request_origin())
    except GridRefused as refused:
        flash(REFUSALS.get(refused.reason, lambda: _("Cette habilitation ne peut pas être "
                                                     "attribuée ici."))())
    else:
        flash(_("%(count)s habilitation(s) modifiée(s). Un courriel en informe le déclarant.",
                count=len(changes)) if changes else _("Aucune modification."))
    return redirect(url_for("admin_rights.search", **criteria))
