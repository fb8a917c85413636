"""/gestion/portefeuilles: the list, one portfolio's page, and every change made there."""

from __future__ import annotations

import codecs
import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp.accounts.forms import ButtonForm
from idp.accounts.login import current_account
from idp.admin.access import admin_required
from idp.admin.deps import portfolio_desk, rights_grid
from idp.admin.portfolios import ADVISED_CLIENTS, PortfolioRefused
from idp.admin.rights import GridRefused
from idp.admin.scope import CompanyScope
from idp.extensions import db
from idp.habilitations.deps import habilitation_service
from idp.web import request_origin

bp = Blueprint("admin_portfolios", __name__, url_prefix="/gestion/portefeuilles")
PORTFOLIO = "/<int(max=2147483647):portfolio_id>"
NAME_MAX = 200


def refusal(refused: PortfolioRefused) -> str:
    """The French message for a refused change (with the file line when there is one)."""
    messages = {
        "declarant_link": _("La déclaration AT/MP demande un lien déclarant–déclaré de moins "
                            "de trois mois : votre cabinet doit avoir déposé une DSN pour ce "
                            "client (SIRET %(siret)s).", siret=refused.siret),
        "unknown_scope": _("Le SIRET %(siret)s n'est pas un établissement actif de "
                           "l'annuaire.", siret=refused.siret),
        "not_in_container": _("Ajoutez d'abord la déclaration au portefeuille (« Gérer les "
                              "déclarations du portefeuille »)."),
        "bad_line": _("La ligne doit avoir la forme SIRET;1 ou SIRET;0."),
        "bad_siret": _("Le SIRET %(siret)s doit comporter 14 chiffres.", siret=refused.siret),
        "duplicate": _("Le SIRET %(siret)s figure deux fois dans le fichier.",
                       siret=refused.siret),
        "empty": _("Le fichier est vide."),
        "too_many_lines": _("Le fichier dépasse 10 000 lignes."),
        "encoding": _("Le fichier doit être encodé en UTF-8."),
    }
    message = messages.get(refused.reason, _("Cette modification n'est pas possible."))
    if refused.line:
        return _("Ligne %(line)s : %(message)s Rien n'a été modifié.", line=refused.line,
                 message=message)
    return message


def _scope() -> CompanyScope:
    return CompanyScope.of(current_account())


def _portfolio(portfolio_id: int):
    portfolio = portfolio_desk().portfolio(_scope(), portfolio_id)
    if portfolio is None:
        abort(404)
    return portfolio


def _posted() -> None:
    if not ButtonForm().validate_on_submit():
        abort(400)


def _name() -> str | None:
    name = request.form.get("nom", "").strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        flash(_("Donnez au portefeuille un nom de 1 à 200 caractères."))
        return None
    return name


def _back(portfolio_id: int, **args):
    return redirect(url_for("admin_portfolios.show", portfolio_id=portfolio_id, **args))


@bp.get("")
@admin_required
def index():
    """« Gérer les portefeuilles »: the company's portfolios and « Créer un portefeuille »."""
    scope = _scope()
    portfolios = portfolio_desk().portfolios(scope)
    counts = {p.id: habilitation_service().client_count(p) for p in portfolios}
    return render_template("admin/portfolios/index.html", portfolios=portfolios, counts=counts,
                           establishments=scope.establishments(db.session), form=ButtonForm())


@bp.post("")
@admin_required
def create():
    """Create a portfolio."""
    _posted()
    name = _name()
    if name is None:
        return redirect(url_for("admin_portfolios.index"))
    try:
        portfolio = portfolio_desk().create(_scope(), current_account(),
                                            request.form.get("proprietaire", "")[:14], name,
                                            request_origin())
    except PortfolioRefused:
        abort(404)
    flash(_("Portefeuille créé."))
    return _back(portfolio.id)


@bp.get(PORTFOLIO)
@admin_required
def show(portfolio_id: int):
    """One portfolio: its declarations, its clients (a page at a time), its declarants."""
    portfolio = _portfolio(portfolio_id)
    scope = _scope()
    rules = habilitation_service()
    after = request.args.get("apres", "")[:14]
    after = after if after.isascii() and after.isdigit() else ""
    clients = rules.clients_page(portfolio, after_siret=after, limit=50)
    count = rules.client_count(portfolio)
    declarant = None
    wanted = request.args.get("declarant", "")[:36]
    if wanted:
        try:
            declarant = scope.person(db.session, uuid.UUID(wanted))
        except ValueError:
            declarant = None
        if declarant is None:
            abort(404)
    row = rights_grid().portfolio_row(portfolio, declarant) if declarant else None
    return render_template(
        "admin/portfolios/show.html", portfolio=portfolio, clients=clients, count=count,
        advised=ADVISED_CLIENTS, catalogue=rules.catalogue(),
        container={s.service_code for s in portfolio.services},
        people=scope.people(db.session), declarant=declarant, row=row, form=ButtonForm())


@bp.post(PORTFOLIO + "/renommer")
@admin_required
def rename(portfolio_id: int):
    """Rename the portfolio."""
    _posted()
    portfolio = _portfolio(portfolio_id)
    name = _name()
    if name is not None:
        portfolio_desk().rename(portfolio, current_account(), name, request_origin())
        flash(_("Portefeuille renommé."))
    return _back(portfolio_id)


@bp.post(PORTFOLIO + "/supprimer")
@admin_required
def delete(portfolio_id: int):
    """Delete the portfolio."""
    _posted()
    portfolio_desk().delete(_portfolio(portfolio_id), current_account(), request_origin())
    flash(_("Portefeuille supprimé."))
    return redirect(url_for("admin_portfolios.index"))


@bp.post(PORTFOLIO + "/declarations")
@admin_required
def declarations(portfolio_id: int):
    """« Gérer les déclarations du portefeuille »: the container."""
    _posted()
    portfolio = _portfolio(portfolio_id)
    try:
        portfolio_desk().set_declarations(portfolio, current_account(),
                                          request.form.getlist("declaration")[:100],
                                          request_origin())
        flash(_("Déclarations du portefeuille enregistrées."))
    except PortfolioRefused as refused:
        flash(refusal(refused))
    return _back(portfolio_id)


@bp.post(PORTFOLIO + "/clients")
@admin_required
def add_client(portfolio_id: int):
    """« Composer le portefeuille »: add one client from the directory."""
    _posted()
    portfolio = _portfolio(portfolio_id)
    siret = "".join(request.form.get("siret", "").split())[:14]
    try:
        portfolio_desk().add_client(portfolio, current_account(), siret,
                                    request.form.getlist("declaration")[:100], request_origin())
        flash(_("Client %(siret)s ajouté. Vous aurez accès à la déclaration une fois les "
                "délais d'accès échus.", siret=siret))
    except PortfolioRefused as refused:
        flash(refusal(refused))
    return _back(portfolio_id)


@bp.post(PORTFOLIO + "/clients/<string(length=14):siret>")
@admin_required
def client_declarations(portfolio_id: int, siret: str):
    """« Gérer les déclarations » of one client."""
    _posted()
    portfolio = _portfolio(portfolio_id)
    try:
        portfolio_desk().set_client_declarations(portfolio, current_account(), siret,
                                                 request.form.getlist("declaration")[:100],
                                                 request_origin())
        flash(_("Déclarations du client %(siret)s enregistrées.", siret=siret))
    except PortfolioRefused as refused:
        flash(refusal(refused))
    return _back(portfolio_id)


@bp.post(PORTFOLIO + "/clients/<string(length=14):siret>/retirer")
@admin_required
def remove_client(portfolio_id: int, siret: str):
    """Take a client out of the portfolio."""
    _posted()
    portfolio = _portfolio(portfolio_id)
    if not portfolio_desk().remove_client(portfolio, current_account(), siret,
                                          request_origin()):
        abort(404)
    flash(_("Client %(siret)s retiré du portefeuille.", siret=siret))
    return _back(portfolio_id)


@bp.post(PORTFOLIO + "/composition")
@admin_required
def compose(portfolio_id: int):
    """A ``SIRET;1/0`` file: add (1) or take out (0) many clients at once."""
    _posted()
    portfolio = _portfolio(portfolio_id)
    upload = request.files.get("fichier")
    if upload is None or not upload.filename:
        flash(_("Choisissez un fichier."))
        return _back(portfolio_id)
    stream = codecs.getreader("utf-8-sig")(upload.stream, errors="strict")
    try:
        report = portfolio_desk().compose(portfolio, current_account(), stream,
                                          request_origin())
    except PortfolioRefused as refused:
        flash(refusal(refused))
    except UnicodeDecodeError:
        db.session.rollback()
        flash(refusal(PortfolioRefused("encoding")))
    else:
        flash(_("Fichier appliqué : %(added)s client(s) ajouté(s), %(removed)s retiré(s), "
                "%(unchanged)s inchangé(s).", added=report.added, removed=report.removed,
                unchanged=report.unchanged))
    return _back(portfolio_id)


@bp.post(PORTFOLIO + "/habilitations")
@admin_required
def habilitations(portfolio_id: int):
    """A declarant's rights on every client of the portfolio (« Valider »)."""
    _posted()
    portfolio = _portfolio(portfolio_id)
    scope = _scope()
    try:
        declarant = scope.person(db.session, uuid.UUID(request.form.get("declarant", "")[:36]))
    except ValueError:
        declarant = None
    if declarant is None:
        abort(404)
    try:
        changes = rights_grid().apply(scope, current_account(), declarant,
                                      request.form.getlist("cellule")[:100],
                                      set(request.form.getlist("droit")[:1000]),
                                      request_origin(), portfolio=portfolio)
    except GridRefused:
        flash(_("Cette habilitation ne peut pas être attribuée ici."))
    else:
        flash(_("%(count)s habilitation(s) modifiée(s). Un courriel en informe le déclarant.",
                count=len(changes)) if changes else _("Aucune modification."))
    return _back(portfolio_id, declarant=str(declarant.id))
