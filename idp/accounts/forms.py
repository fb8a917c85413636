"""Forms of the accounts blueprint."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import Length

from idp.accounts.service import Credentials
from idp.forms import Required, check_siret

NAME_TOO_LONG = _l("100 caractères au plus")


class LoginForm(FlaskForm):
    """« Vous connecter »: SIRET, Nom, Prénom, Mot de passe."""

    siret = StringField(_l("SIRET"), validators=[Required(), check_siret])
    last_name = StringField(_l("Nom"), validators=[Required(), Length(max=100,
                                                                      message=NAME_TOO_LONG)])
    first_name = StringField(_l("Prénom"), validators=[Required(), Length(max=100,
                                                                          message=NAME_TOO_LONG)])
    # 128 characters at most: argon2 takes any length, but there is no reason to hash a novel.
    password = PasswordField(_l("Mot de passe"), validators=[
        Required(), Length(max=128, message=_l("128 caractères au plus"))])
    next = HiddenField()

    def credentials(self) -> Credentials:
        """The validated credentials."""
        return Credentials(
            siret=self.siret.data,
            last_name=self.last_name.data.strip(),
            first_name=self.first_name.data.strip(),
            password=self.password.data,
        )


class LogoutForm(FlaskForm):
    """The « Vous déconnecter » button: a POST with its CSRF token, never a bare GET."""
