"""Field checks shared by every form: the French required message, SIRET format."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.fr import siret as stdnum_siret
from wtforms.validators import StopValidation

REQUIRED_MESSAGE = _l("Ce champ est obligatoire")


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
