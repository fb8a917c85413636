"""« Bienvenue » (/compte/bienvenue/<token>): a new declarant activates its account."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _

from idp.accounts.deps import welcome_links
from idp.accounts.forms import ChooseSecretMixin, NewPasswordMixin
from idp.accounts.password_policy import SPECIAL_CHARACTERS
from idp.accounts.security import PasswordRefused
from idp.forms import HtmlForm
from idp.web import request_origin

bp = Blueprint("welcome", __name__)


class WelcomeForm(NewPasswordMixin, ChooseSecretMixin, HtmlForm):
    """The first password and the secret question of an account created by an administrator."""


def _invalid_link():
    return render_template("message.html", title=_("Lien invalide"), message=_(
        "Ce lien n'est pas ou plus valide : il sert une seule fois, pendant 7 jours, et seul "
        "le dernier lien envoyé fonctionne. Demandez à votre administrateur de vous en "
        "envoyer un nouveau.")), 400


# 43 characters are issued; anything much longer is not a token.
@bp.route("/compte/bienvenue/<string(maxlength=100):token>", methods=["GET", "POST"])
def activate(token: str):
    """Choose a password and a secret question; the account is then active."""
    service = welcome_links()
    account = service.account_for_link(token)
    if account is None:
        return _invalid_link()
    form = WelcomeForm()
    if form.validate_on_submit():
        try:
            activated = service.activate(token, form.new_password.data,
                                         form.secret_question.data, form.secret_answer.data,
                                         request_origin())
        except PasswordRefused as exc:
            form.new_password.errors.append(" · ".join(str(p) for p in exc.problems))
        else:
            if activated is None:  # used meanwhile (another tab, the link sent twice)
                return _invalid_link()
            return render_template("message.html", title=_("Compte activé"), message=_(
                "Votre compte est activé. Vous pouvez vous connecter avec votre SIRET, votre "
                "nom, votre prénom et le mot de passe choisi."))
    return render_template("accounts/welcome/activate.html", form=form, account=account,
                           specials=SPECIAL_CHARACTERS), 400 if form.errors else 200
