"""« Mots de passe d'application » (/compte/securite/mots-de-passe-application): the secrets
payroll software presents at ``/authentifier/1.0/`` instead of the person's password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from idp.accounts.application_passwords import MAX_PER_ACCOUNT, TooManyApplicationPasswords
from idp.accounts.deps import account_security
from idp.accounts.forms import ApplicationPasswordForm, ButtonForm
from idp.accounts.login import current_account, login_required
from idp.accounts.security_views import CONFIRMATION_FAILURES, confirmation_failed
from idp.web import request_origin

bp = Blueprint("application_passwords", __name__, url_prefix="/compte/securite")


def _page(form: ApplicationPasswordForm | None = None, status: int = 200):
    account = current_account()
    return render_template(
        "security/application_passwords.html", form=form or ApplicationPasswordForm(),
        revoke_form=ButtonForm(), passwords=account_security().application_passwords(account),
        limit=MAX_PER_ACCOUNT, two_factor=account.has_second_factor), status


@bp.get("/mots-de-passe-application")
@login_required
def index():
    """The list and the creation form."""
    return _page()


@bp.post("/mots-de-passe-application")
@login_required
def create():
    """Create one; its secret is shown on this answer only."""
    form = ApplicationPasswordForm()
    status = 400
    if form.validate_on_submit():
        try:
            secret = account_security().create_application_password(
                current_account(), form.password.data, form.name.data, request_origin())
        except CONFIRMATION_FAILURES as error:
            status = confirmation_failed(error, form.password)
        except TooManyApplicationPasswords:
            form.name.errors.append(_("Vous avez déjà %(n)s mots de passe d'application : "
                                      "révoquez-en un avant d'en créer un autre.",
                                      n=MAX_PER_ACCOUNT))
        else:
            return render_template("security/application_password_created.html",
                                   name=form.name.data.strip(), secret=secret)
    return _page(form, status)


@bp.post("/mots-de-passe-application/<int:password_id>/revoquer")
@login_required
def revoke(password_id: int):
    """« Révoquer »: software using it can no longer authenticate."""
    if not ButtonForm().validate_on_submit():
        return _page(status=400)
    name = account_security().revoke_application_password(current_account(), password_id,
                                                          request_origin())
    if name is None:
        flash(_("Ce mot de passe d'application n'existe pas ou a déjà été révoqué."))
        return redirect(url_for("application_passwords.index"))
    flash(_("Le mot de passe d'application « %(name)s » est révoqué.", name=name))
    return redirect(url_for("application_passwords.index"))
