"""The base of every form, and field checks shared by them: the French required message,
SIRET format."""

from __future__ import annotations

import re

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto  # Flask-WTF's "read the request" marker
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.fr import siret as stdnum_siret
from wtforms.validators import StopValidation

REQUIRED_MESSAGE = _l("Ce champ est obligatoire")
# C0 controls but tab and line breaks, and DEL: no name, code or password holds them, and
# PostgreSQL cannot even store a NUL in text.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class HtmlForm(FlaskForm):
    """A form a browser posts: only its form fields are read (Flask-WTF would also take a
    JSON body or a file upload as field values), and control characters are refused."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            if formdata is _Auto:
                return request.form if request.method in ("POST", "PUT", "PATCH",
                                                          "DELETE") else None
            return formdata

    def validate(self, extra_validators=None) -> bool:
        """Run the fields' checks, then refuse control characters in any text."""
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and CONTROL_CHARACTERS.search(field.data):
                field.errors = [*field.errors, _l("Ce champ contient des caractères non "
                                                  "autorisés.")]
                valid = False
        return valid


class Required:
    """Like WTForms' InputRequired, with Net-entreprises' wording (« Ce champ est obligatoire »)."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        if not field.data or not str(field.data).strip():
            field.errors[:] = []
            raise StopValidation(REQUIRED_MESSAGE)


def compact_siret(value: str | None) -> str:
    """The SIRET without the spaces, dots and dashes people type in it."""
    return stdnum_siret.compact(value or "")


def check_siret(form, field) -> None:
    """A SIRET is 14 digits with a valid key (python-stdnum, La Poste's rule included)."""
    value = compact_siret(field.data)
    if not value.isdigit() or len(value) != 14:
        raise StopValidation(_l("Le numéro SIRET doit comporter 14 chiffres."))
    try:
        stdnum_siret.validate(value)
    except (InvalidChecksum, ValidationError) as exc:
        raise StopValidation(_l("Ce numéro SIRET n'est pas valide : vérifiez sa saisie.")) from exc
    field.data = value
