"""The framed forms: « Vous connecter » and the code, with the transaction's token.

They carry no CSRF token from the session: inside a partner's page the IdP's cookie is not
usable (see ``idp.widget.transactions``). What a forged post cannot have is the form's
single-use transaction token, which the view takes from the store before reading anything.
"""

from __future__ import annotations

from wtforms import HiddenField

from idp.accounts.forms import CodeForm, LoginForm


class FramedLoginForm(LoginForm):
    """SIRET, Nom, Prénom, Mot de passe, and the transaction's token."""

    class Meta:
        csrf = False

    transaction = HiddenField()


class FramedCodeForm(CodeForm):
    """The second step's code, and the transaction's token."""

    class Meta:
        csrf = False

    transaction = HiddenField()
