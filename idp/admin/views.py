"""/gestion: the administrator's menu and the two « en attente » lists."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _

from idp.accounts.deps import recovery
from idp.accounts.forms import ButtonForm
from idp.accounts.login import current_account
from idp.admin.access import admin_required
from idp.registration.deps import registration_service
from idp.web import request_origin

bp = Blueprint("admin", __name__, url_prefix="/gestion")
# Ids are 32-bit integers in both databases: a larger one in the path is a 404, not a 500.


@dataclass(frozen=True)
class PendingItem:
    """One line of an « en attente » list and its two decisions."""

    label: str
    accept_url: str
    accept_label: str
    refuse_url: str
    refuse_label: str


@bp.get("")
@admin_required
def index():
    """The administrator's menu."""
    return render_template("admin/index.html")


def _pending_page(title: str, heading: str, items: list[PendingItem]):
    return render_template("admin/pending.html", title=title, heading=heading, items=items,
                           form=ButtonForm())


@bp.get("/demandes")
@admin_required
def reset_requests():
    """« Demandes en attente »: password resets asked by people of the establishment."""
    items = [PendingItem(
        _("%(first)s %(last)s, demandée le %(when)s", first=r.account.first_name,
          last=r.account.last_name, when=format_datetime(r.requested_at, "short")),
        url_for("admin.decide_reset", request_id=r.id, decision="lien"), _("Envoyer un lien"),
        url_for("admin.decide_reset", request_id=r.id, decision="refus"), _("Refuser"))
        for r in recovery().pending_requests(current_account())]
    return _pending_page(_("Demandes en attente"), _("Réinitialisations de mot de passe"),
                         items)


@bp.post("/demandes/<int(max=2147483647):request_id>/<any(lien, refus):decision>")
@admin_required
def decide_reset(request_id: int, decision: str):
    """Send the person a reset link, or refuse."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    if not recovery().handle_request(current_account(), request_id, decision == "lien",
                                     request_origin()):
        abort(404)
    flash(_("Un lien de réinitialisation a été envoyé.") if decision == "lien"
          else _("La demande a été refusée ; la personne en est informée par courriel."))
    return redirect(url_for("admin.reset_requests"))


@bp.get("/administrateurs")
@admin_required
def candidacies():
    """« Administrateurs en attente »: Accord or Refus."""
    items = [PendingItem(
        _("%(first)s %(last)s (SIRET %(siret)s)", first=c.account.first_name,
          last=c.account.last_name, siret=c.account.siret),
        url_for("admin.decide_candidacy", candidacy_id=c.id, decision="accord"), _("Accord"),
        url_for("admin.decide_candidacy", candidacy_id=c.id, decision="refus"), _("Refus"))
        for c in registration_service().pending_candidacies(current_account())]
    return _pending_page(_("Administrateurs en attente"), _("Administrateurs en attente"),
                         items)


@bp.post("/administrateurs/<int(max=2147483647):candidacy_id>/<any(accord, refus):decision>")
@admin_required
def decide_candidacy(candidacy_id: int, decision: str):
    """Accept or refuse a candidate administrator."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    if not registration_service().decide(current_account(), candidacy_id, decision == "accord",
                                         request_origin()):
        abort(404)
    flash(_("Demande acceptée.") if decision == "accord" else _("Demande refusée."))
    return redirect(url_for("admin.candidacies"))
