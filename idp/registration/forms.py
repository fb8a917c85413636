"""Forms of the « inscription » journey."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, RadioField, SelectChoice, SelectMultipleField, StringField, widgets
from wtforms.validators import Email, EqualTo, Length, Optional, ValidationError

from idp.accounts.forms import NAME_TOO_LONG, ChooseSecretMixin, NewPasswordMixin
from idp.forms import HtmlForm, Required, check_siret


def check_phone(form, field) -> None:
    """French numbers: 10 digits, spaces and dots tolerated."""
    digits = re.sub(r"[\s.]", "", field.data or "")
    if not (digits.isascii() and digits.isdigit()) or len(digits) != 10:
        raise ValidationError(_l("Le numéro doit comporter 10 chiffres."))
    field.data = digits


class DetailsForm(HtmlForm):
    """1. Vos coordonnées."""

    siret = StringField(_l("SIRET"), validators=[Required(), check_siret])
    last_name = StringField(_l("Nom"), validators=[Required(), Length(max=100,
                                                                      message=NAME_TOO_LONG)])
    first_name = StringField(_l("Prénom"), validators=[Required(), Length(max=100,
                                                                          message=NAME_TOO_LONG)])
    phone = StringField(_l("Téléphone"), validators=[Required(), check_phone])
    mobile = StringField(_l("Téléphone portable"), validators=[Optional(), check_phone])
    email = EmailField(_l("Courriel"), validators=[
        Required(), Email(message=_l("Adresse électronique invalide")), Length(max=254)])
    confirm_email = EmailField(_l("Confirmation du courriel"), validators=[
        Required(), EqualTo("email", message=_l("Les deux adresses diffèrent."))])


class SecretsForm(NewPasswordMixin, ChooseSecretMixin, HtmlForm):
    """4. Mot de passe et question secrète."""


class ServicesForm(HtmlForm):
    """6. Profil et services."""

    profile = RadioField(_l("Vous êtes"), validators=[Required()], choices=[
        SelectChoice("entreprise", _l("Votre entreprise")),
        SelectChoice("cabinet", _l("Votre entreprise et vos clients")),
        SelectChoice("independant", _l("Indépendant")),
    ])
    services = SelectMultipleField(
        _l("Services"), widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
        validators=[Required()])
