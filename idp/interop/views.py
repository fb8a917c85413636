"""``/connexion?cible=``, ``/interop/naviguer``, ``/interop/cible`` and the « Vos services »
panel of ``/compte`` (the ownership rule and the redirect: ``idp.interop.service``).

``/connexion`` is accounts' page, and accounts never imports interop: a ``cible`` on it is
taken here, before the view runs (``before_app_request``). A refused target is a page and a
4xx, never a redirect; every decision is journaled (``interop.target``, ``interop.navigate``).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Flask, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from idp.accounts.login import current_account
from idp.accounts.models import Account
from idp.accounts.views import ACCOUNT_PANELS, SIGN_IN_DESTINATIONS
from idp.audit.deps import audit_journal
from idp.extensions import db
from idp.habilitations.deps import habilitation_service
from idp.interop.deps import navigator
from idp.interop.publishers import current_publisher
from idp.interop.service import TargetRefused
from idp.notifications.deps import provide_publisher
from idp.oidc.clients import RegisteredClient, origin, plausible_client_id
from idp.oidc.deps import claims_builder
from idp.web import request_origin

bp = Blueprint("interop", __name__)


def init_app(app: Flask) -> None:
    """Register the blueprint, the « Vos services » panel of « Votre compte », and who
    publishes notifications."""
    app.register_blueprint(bp)
    provide_publisher(app, current_publisher)
    app.extensions.setdefault(ACCOUNT_PANELS, []).append(services_panel)
    app.extensions.setdefault(SIGN_IN_DESTINATIONS, []).append(sign_in_destination)


# --- sign in, then go to the wanted resource ----------------------------------------------

@bp.before_app_request
def sign_in_then_go():
    """``GET /connexion?cible=<url>``: refuse a target no partner owns at once; else send a
    signed-in person to its partner, and anyone else to « Vous connecter » first."""
    if request.endpoint != "accounts.login" or request.method != "GET" \
            or "cible" not in request.args:
        return None
    return _go_to(request.args.get("cible", ""))


@bp.get("/interop/cible")
def target():
    """Where « Vous connecter » sends the person after signing in for ``/connexion?cible=``
    (checked again: it is a plain address anyone can type)."""
    return _go_to(request.args.get("cible", ""))


def _go_to(target: str):
    try:
        partner = navigator().owner_of(target)
    except TargetRefused as refusal:
        return _refused("interop.target", refusal)
    account = current_account()
    if account is None:
        args = {"next": url_for("interop.target", cible=target)}
        if request.args.get("siret"):  # « Vous connecter » prefills it
            args["siret"] = request.args["siret"]
        return redirect(url_for("accounts.login", **args))
    return _send(account, partner, target, "interop.target")


# --- the sign-in form may lead to the partner ----------------------------------------------

def sign_in_destination(next_url: str) -> str | None:
    """The partner origin a sign-in continuing to ``/interop/cible`` or ``/interop/naviguer``
    ends at (its ``initiate_login_uri``), worked out with the same checks as the pages."""
    parts = urlsplit(next_url)
    args = dict(parse_qsl(parts.query))
    try:
        if parts.path == url_for("interop.target"):
            partner = navigator().owner_of(args.get("cible", ""))
        elif parts.path == url_for("interop.navigate"):
            partner = navigator().partner(args.get("vers"), args.get("cible") or None)
        else:
            return None
    except TargetRefused:
        return None
    return origin(partner.initiate_login_uri)


# --- from one portal to another ------------------------------------------------------------

@bp.get("/interop/naviguer")
def navigate():
    """``/interop/naviguer?vers=<client_id>[&cible=<url>]``: top-level navigation to the
    partner's ``initiate_login_uri``; an anonymous visitor signs in first, then comes back."""
    partner_id = request.args.get("vers")
    target = request.args.get("cible") or None
    try:
        partner = navigator().partner(partner_id, target)
    except TargetRefused as refusal:
        return _refused("interop.navigate", refusal, partner_id)
    account = current_account()
    if account is None:
        back = url_for("interop.navigate", vers=partner.client_id, cible=target)
        return redirect(url_for("accounts.login", next=back))
    return _send(account, partner, target, "interop.navigate")


def _send(account: Account, partner: RegisteredClient, target: str | None, action: str):
    url = navigator().login_initiation(partner, account.siret, target)
    audit_journal().record(action, "success", account_id=account.id, origin=request_origin(),
                           details={"client_id": partner.client_id, "target": target})
    db.session.commit()
    return redirect(url)


REFUSALS = {
    # reason: (status, title, message)
    "malformed": (400, lambda: _("Adresse non valide"), lambda: _(
        "L'adresse demandée n'est pas valide. Seules les adresses web (https://…) des sites "
        "partenaires de Net-entreprises sont acceptées.")),
    "unowned": (400, lambda: _("Site non reconnu"), lambda: _(
        "L'adresse demandée n'appartient à aucun site partenaire de Net-entreprises : nous "
        "ne pouvons pas vous y conduire. Vérifiez le lien reçu, ou rendez-vous directement "
        "sur le site concerné.")),
    "no_initiate_login_uri": (400, lambda: _("Accès direct impossible"), lambda: _(
        "Ce site partenaire n'accepte pas encore que Net-entreprises vous y connecte "
        "directement. Rendez-vous sur son site et choisissez « Se connecter avec "
        "Net-entreprises ».")),
    "ambiguous": (400, lambda: _("Site non reconnu"), lambda: _(
        "Plusieurs sites partenaires correspondent à l'adresse demandée : nous ne pouvons "
        "pas choisir à votre place. Rendez-vous directement sur le site concerné.")),
    "missing_partner": (400, lambda: _("Site partenaire non précisé"), lambda: _(
        "Le lien ne précise pas le site partenaire où vous rendre.")),
    "unknown_partner": (404, lambda: _("Site partenaire inconnu"), lambda: _(
        "Le site partenaire demandé n'est pas connu de Net-entreprises.")),
    "not_owned_by_partner": (400, lambda: _("Adresse non reconnue"), lambda: _(
        "L'adresse demandée n'appartient pas au site partenaire indiqué : nous ne pouvons "
        "pas vous y conduire.")),
}


def _refused(action: str, refusal: TargetRefused, partner_id: str | None = None):
    status, title, message = REFUSALS[refusal.reason]
    account = current_account()
    details = {"reason": refusal.reason}
    if plausible_client_id(partner_id):
        details["client_id"] = partner_id
    audit_journal().record(action, "failure", account_id=account.id if account else None,
                           origin=request_origin(), details=details)
    db.session.commit()
    return render_template("interop/refused.html", title=title(), message=message(),
                           reason=refusal.reason, signed_in=account is not None), status


# --- « Vos services » ----------------------------------------------------------------------

def services_panel(account: Account) -> Markup:
    """The services ``account`` is habilitated on (catalogue labels), each with a link
    through ``/interop/naviguer`` to every partner hosting it that can start a login."""
    catalogue = {service.code: service.label for service in habilitation_service().catalogue()}
    entries = claims_builder().habilitations(account, catalogue)
    codes = {entry["service"] for entry in entries}
    links = navigator().links_for(codes)
    services = sorted(
        ({"code": code, "label": catalogue.get(code, code),
          "links": [{"name": link.partner.name,
                     "href": url_for("interop.navigate", vers=link.partner.client_id,
                                     cible=link.start_url)}
                    for link in sorted(links[code], key=lambda link: link.partner.name)]}
         for code in codes), key=lambda service: service["label"])
    return Markup(render_template("interop/_services.html", services=services))  # noqa: S704
