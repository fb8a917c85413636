"""/gestion/services: subscribe the company or an establishment to a service, or end it."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp.accounts.forms import ButtonForm
from idp.accounts.login import current_account
from idp.admin.access import admin_required
from idp.admin.deps import now, subscription_desk
from idp.admin.scope import CompanyScope
from idp.admin.subscriptions import SubscriptionRefused
from idp.directory.models import Company
from idp.extensions import db
from idp.web import request_origin

bp = Blueprint("admin_services", __name__, url_prefix="/gestion/services")


@bp.get("")
@admin_required
def overview():
    """« Gérer les services »: each service, subscribed or not, and since when."""
    scope = CompanyScope.of(current_account())
    company = db.session.get(Company, scope.siren)
    label = _("Toute l'entreprise (%(name)s, SIREN %(siren)s)",
              name=company.name if company else "", siren=scope.siren)
    return render_template("admin/services/overview.html",
                           lines=subscription_desk().overview(scope, label),
                           now=now(), form=ButtonForm())


@bp.post("/<any(abonner, resilier):action>")
@admin_required
def change(action: str):
    """« S'abonner » or « Résilier » for the company or one establishment."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    administrator = current_account()
    scope = CompanyScope.of(administrator)
    code = request.form.get("service", "")[:16]
    target = request.form.get("cible", "")[:14]
    desk = subscription_desk()
    try:
        if action == "abonner":
            desk.subscribe(scope, administrator, code, target, request_origin())
            flash(_("Abonnement enregistré. Vous aurez accès à la déclaration une fois les "
                    "délais d'accès échus."))
        elif desk.unsubscribe(scope, administrator, code, target, request_origin()):
            flash(_("Abonnement résilié."))
        else:
            flash(_("Il n'y avait pas d'abonnement à résilier."))
    except SubscriptionRefused:
        abort(404)
    return redirect(url_for("admin_services.overview"))
