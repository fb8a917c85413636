"""« Vos notifications » (``/compte/notifications``): the list, one notice, « Archiver »,
« Supprimer », the official document, the e-mail choice; and the badge of « Votre compte »."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from wtforms import SelectChoice

from idp.accounts.forms import ButtonForm
from idp.accounts.login import current_account, login_required
from idp.accounts.models import Account
from idp.accounts.views import ACCOUNT_PANELS
from idp.habilitations.deps import habilitation_service
from idp.notifications.deps import inbox, mailing
from idp.notifications.forms import FilterForm, MailChoiceForm
from idp.notifications.inbox import Filters
from idp.web import page_number

bp = Blueprint("notifications", __name__)
MAX_ID = 2**63 - 1  # a BIGINT: a larger number in the address is no notice at all
WEEKLY = "hebdomadaire"


def init_app(app: Flask) -> None:
    """The pages and the badge of « Votre compte »."""
    app.register_blueprint(bp)
    app.extensions.setdefault(ACCOUNT_PANELS, []).append(badge_panel)


def badge_panel(account: Account) -> Markup:
    """« Vos notifications » in « Votre compte », with the red badge of unread ones."""
    count = inbox().unread_count(account)
    return Markup(render_template("notifications/_panel.html", unread=count))  # noqa: S704


def _entry_or_404(notification_id: int, lookup=None):
    lookup = lookup or inbox().find
    entry = lookup(current_account(), notification_id) if notification_id <= MAX_ID else None
    if entry is None:
        # Not seen, deleted, or no such notice: one answer, which tells nothing.
        abort(404)
    return entry


@bp.get("/compte/notifications")
@login_required
def index():
    """The list, unread first, filtered and paginated."""
    account = current_account()
    form = FilterForm(formdata=request.args)
    form.service.choices = [SelectChoice("", _("Tous les services"))] + [
        SelectChoice(s.code, s.label) for s in habilitation_service().catalogue()]
    if request.args and not form.validate():
        filters = Filters(page=1)
    else:
        filters = Filters(siret=form.siret.data or None, service=form.service.data or None,
                          status=form.statut.data or None,
                          page=page_number(request.args.get("page", "1")) or 1)
    choice = MailChoiceForm(frequency=WEEKLY if mailing().chose_digest(account) else "chaque")
    return render_template("notifications/index.html", page=inbox().page(account, filters),
                           form=form, filters=filters, choice=choice, buttons=ButtonForm(),
                           query={k: v for k, v in request.args.items() if k != "page"})


@bp.get("/compte/notifications/<int:notification_id>")
@login_required
def show(notification_id: int):
    """One notice; it is read from now on."""
    entry = _entry_or_404(notification_id, inbox().open)
    account = current_account()
    target = "/connexion?" + urlencode({"cible": entry.notification.link})
    return render_template("notifications/show.html", entry=entry, target=target,
                           may_download=inbox().may_download(account, entry),
                           buttons=ButtonForm())


@bp.get("/compte/notifications/<int:notification_id>/document")
@login_required
def document(notification_id: int):
    """The official document, on the partner's site, signed in: for the company only."""
    entry = _entry_or_404(notification_id)
    if not inbox().may_download(current_account(), entry):
        return render_template("notifications/document_refused.html", entry=entry), 403
    return redirect("/connexion?" + urlencode({"cible": entry.notification.document}))


@bp.post("/compte/notifications/<int:notification_id>/archiver")
@login_required
def archive(notification_id: int):
    """« Archiver »: out of the list, kept under « Archivées »."""
    if ButtonForm().validate_on_submit() and notification_id <= MAX_ID and \
            inbox().archive(current_account(), notification_id):
        flash(_("La notification est archivée : retrouvez-la avec le statut « Archivées »."))
    return redirect(url_for("notifications.index"))


@bp.post("/compte/notifications/<int:notification_id>/supprimer")
@login_required
def delete(notification_id: int):
    """« Supprimer », for this person only."""
    if ButtonForm().validate_on_submit() and notification_id <= MAX_ID and \
            inbox().delete(current_account(), notification_id):
        flash(_("La notification est supprimée de votre liste."))
    return redirect(url_for("notifications.index"))


@bp.post("/compte/notifications/courriels")
@login_required
def mail_choice():
    """One e-mail per notice, or the weekly digest."""
    form = MailChoiceForm()
    if form.validate_on_submit():
        weekly = form.frequency.data == WEEKLY
        mailing().choose_digest(current_account(), weekly)
        flash(_("Vous recevrez un récapitulatif hebdomadaire de vos notifications.")
              if weekly else
              _("Vous recevrez un courriel à chaque nouvelle notification."))
    else:
        flash(_("Choisissez à quelle fréquence recevoir les courriels."))
    return redirect(url_for("notifications.index"))
