"""/gestion/declarants: « Gérer les déclarants » (list, add, modify, suspend, reactivate,
radiate)."""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import NotFound
from wtforms import EmailField, SelectChoice, SelectField, StringField
from wtforms.validators import Email, Length

from idp.accounts.forms import NAME_TOO_LONG, ButtonForm
from idp.accounts.login import current_account
from idp.accounts.models import Account, Status
from idp.admin.access import admin_required
from idp.admin.declarants import (
    DeclarantDetails,
    DeclarantNotFound,
    DeclarantRefused,
    PageNotFound,
)
from idp.admin.deps import declarant_service
from idp.forms import CONTROL_CHARACTERS, HtmlForm, Required
from idp.web import page_number, request_origin

bp = Blueprint("admin_declarants", __name__, url_prefix="/gestion/declarants")

STATUS_LABELS = {Status.ACTIVE: _l("Actif"), Status.LOCKED: _l("Suspendu"),
                 Status.PENDING_EMAIL: _l("En attente d'activation")}
SEARCH_MAX = 100


class DeclarantForm(HtmlForm):
    """« Ajouter un déclarant » and « Modifier »: establishment, Nom, Prénom, courriel."""

    siret = SelectField(_l("Établissement"), validators=[Required()])
    last_name = StringField(_l("Nom"), validators=[Required(), Length(max=100,
                                                                      message=NAME_TOO_LONG)])
    first_name = StringField(_l("Prénom"), validators=[Required(), Length(max=100,
                                                                          message=NAME_TOO_LONG)])
    email = EmailField(_l("Adresse électronique"), validators=[
        Required(), Email(message=_l("Adresse électronique invalide")),
        Length(max=254, message=_l("254 caractères au plus"))])

    def __init__(self, establishments, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.siret.choices = [SelectChoice(e.siret, f"{e.siret} – {e.display_name}")
                              for e in establishments]

    def details(self) -> DeclarantDetails:
        """What was typed, spaces trimmed."""
        return DeclarantDetails(self.siret.data, " ".join(self.last_name.data.split()),
                                " ".join(self.first_name.data.split()), self.email.data.strip())


class RadiateForm(HtmlForm):
    """« Radier »: who receives the leaver's habilitations, if anyone."""

    receiver = SelectField(_l("Transférer ses habilitations à"))

    def __init__(self, receivers: list[Account], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.receiver.choices = [
            SelectChoice("", _("Personne : ses habilitations ne sont pas transférées")),
            *(SelectChoice(str(r.id), f"{r.last_name} {r.first_name} (SIRET {r.siret})")
              for r in receivers)]


@bp.errorhandler(DeclarantNotFound)
@bp.errorhandler(PageNotFound)
def not_found(_error):
    """Another company's declarant, an administrator, a removed or unknown one: a 404."""
    return current_app.handle_user_exception(NotFound())


def _refused(form, error: DeclarantRefused) -> None:
    """Show the refusal under its field, or above the form when no field caused it."""
    field = getattr(form, error.field, None)
    (field.errors if field is not None else form.form_errors).append(str(error.message))


@bp.get("")
@admin_required
def index():
    """The list, searchable by nom, prénom and SIRET, 20 a page."""
    query = CONTROL_CHARACTERS.sub("", request.args.get("q", ""))[:SEARCH_MAX].strip()
    page = page_number(request.args.get("page", "1"))
    if page is None:
        abort(404)
    result = declarant_service().search(current_account(), query, page)
    return render_template("admin/declarants/list.html", result=result, query=query,
                           statuses=STATUS_LABELS, form=ButtonForm())


@bp.route("/ajouter", methods=["GET", "POST"])
@admin_required
def add():
    """« Ajouter un déclarant »: the account is created and its welcome link e-mailed."""
    service = declarant_service()
    form = DeclarantForm(service.establishments(current_account()))
    if form.validate_on_submit():
        try:
            account = service.add(current_account(), form.details(), request_origin())
        except DeclarantRefused as error:
            _refused(form, error)
        else:
            flash(_("Le compte de %(first)s %(last)s est créé ; un courriel l'invite à choisir "
                    "son mot de passe.", first=account.first_name, last=account.last_name))
            return redirect(url_for("admin_declarants.index"))
    return render_template("admin/declarants/form.html", form=form, declarant=None,
                           title=_("Ajouter un déclarant")), 400 if form.errors else 200


@bp.route("/<uuid:account_id>/modifier", methods=["GET", "POST"])
@admin_required
def edit(account_id: uuid.UUID):
    """« Modifier »: establishment, Nom, Prénom, courriel."""
    service = declarant_service()
    declarant = service.get(current_account(), account_id)
    form = DeclarantForm(service.establishments(current_account()), obj=declarant)
    if form.validate_on_submit():
        try:
            changed = service.update(current_account(), account_id, form.details(),
                                     request_origin())
        except DeclarantRefused as error:
            _refused(form, error)
        else:
            flash(_("Les modifications sont enregistrées ; le déclarant en est informé par "
                    "courriel.") if changed else _("Aucune modification."))
            return redirect(url_for("admin_declarants.index"))
    return render_template("admin/declarants/form.html", form=form, declarant=declarant,
                           title=_("Modifier un déclarant")), 400 if form.errors else 200


@bp.post("/<uuid:account_id>/<any(suspendre, reactiver):decision>")
@admin_required
def change_status(account_id: uuid.UUID, decision: str):
    """« Suspendre » (its sessions end) or « Réactiver »."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    service = declarant_service()
    change = service.suspend if decision == "suspendre" else service.reactivate
    try:
        account = change(current_account(), account_id, request_origin())
    except DeclarantRefused as error:
        flash(str(error.message))
    else:
        flash(_("Le compte de %(first)s %(last)s est suspendu.", first=account.first_name,
                last=account.last_name) if decision == "suspendre" else
              _("Le compte de %(first)s %(last)s est réactivé.", first=account.first_name,
                last=account.last_name))
    return redirect(url_for("admin_declarants.index"))


@bp.post("/<uuid:account_id>/renvoyer-lien")
@admin_required
def resend_link(account_id: uuid.UUID):
    """« Renvoyer le lien d'activation » to a declarant who has not activated yet."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        account = declarant_service().resend_welcome(current_account(), account_id,
                                                     request_origin())
    except DeclarantRefused as error:
        flash(str(error.message))
    else:
        flash(_("Un nouveau lien d'activation a été envoyé à %(email)s ; le précédent ne "
                "fonctionne plus.", email=account.email))
    return redirect(url_for("admin_declarants.index"))


@bp.route("/<uuid:account_id>/radier", methods=["GET", "POST"])
@admin_required
def radiate(account_id: uuid.UUID):
    """« Radier »: choose who receives the habilitations, and radiate, in one step."""
    service = declarant_service()
    declarant = service.get(current_account(), account_id)
    form = RadiateForm(service.receivers(current_account(), declarant))
    if form.validate_on_submit():
        receiver = uuid.UUID(form.receiver.data) if form.receiver.data else None
        try:
            moved = service.radiate(current_account(), account_id, receiver, request_origin())
        except DeclarantRefused as error:
            _refused(form, error)
        else:
            flash(_("Le compte de %(first)s %(last)s est radié. Habilitations transférées : "
                    "%(num)d.", first=declarant.first_name, last=declarant.last_name, num=moved))
            return redirect(url_for("admin_declarants.index"))
    return render_template("admin/declarants/radiate.html", form=form,
                           declarant=declarant), 400 if form.errors else 200
