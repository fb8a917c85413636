"""The body of ``POST /authentifier/1.0/``: ``<identifiants>`` with its five elements, read
with defusedxml (no DTD at all: neither external entities nor entity expansion can run)."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from flask_babel import gettext as _

SIRET_LENGTH = 14
# The element, and the longest value it may hold (a name as the account stores it, a
# password as the sign-in form accepts it, a service code as the catalogue keys it).
FIELDS = {"siret": SIRET_LENGTH, "nom": 100, "prenom": 100, "motdepasse": 128, "service": 16}


class MalformedIdentifiants(Exception):
    """The body is not the expected XML; the message says why, in the reader's language."""


@dataclass(frozen=True)
class Identifiants:
    """What payroll software sends: the login triple, a password, the service it will call."""

    siret: str
    last_name: str
    first_name: str
    password: str
    service: str


def read_identifiants(body: bytes) -> Identifiants:
    """The identifiants in ``body``, or raise MalformedIdentifiants."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException:
        raise MalformedIdentifiants(_("Les déclarations DOCTYPE et les entités ne sont pas "
                                      "acceptées.")) from None
    except ParseError as error:
        line, column = error.position
        raise MalformedIdentifiants(_("XML mal formé (ligne %(line)s, colonne %(column)s).",
                                      line=line, column=column)) from None
    except (LookupError, ValueError):  # an encoding expat does not know, or a multi-byte one
        raise MalformedIdentifiants(_("Encodage non pris en charge : envoyez de l'UTF-8."))\
            from None
    if root.tag != "identifiants":
        raise MalformedIdentifiants(_("L'élément racine doit être <identifiants>."))
    values: dict[str, str] = {}
    for element in root:
        name = element.tag if isinstance(element.tag, str) else "?"
        if name not in FIELDS:
            raise MalformedIdentifiants(_("Élément <%(name)s> inattendu.", name=name))
        if name in values:
            raise MalformedIdentifiants(_("Élément <%(name)s> en double.", name=name))
        if len(element):
            raise MalformedIdentifiants(_("L'élément <%(name)s> ne doit contenir que du texte.",
                                          name=name))
        values[name] = _checked(name, element.text or "")
    for name in FIELDS:
        if name not in values:
            raise MalformedIdentifiants(_("Élément <%(name)s> manquant.", name=name))
    return Identifiants(values["siret"], values["nom"], values["prenom"], values["motdepasse"],
                        values["service"])


def _checked(name: str, text: str) -> str:
    # Spaces around a value are layout, except in a password, where they may be part of it.
    value = text if name == "motdepasse" else text.strip()
    if not value:
        raise MalformedIdentifiants(_("Élément <%(name)s> vide.", name=name))
    if len(value) > FIELDS[name]:
        raise MalformedIdentifiants(_("Élément <%(name)s> trop long (%(max)s caractères au "
                                      "plus).", name=name, max=FIELDS[name]))
    if name == "siret" and not (value.isascii() and value.isdigit()
                                and len(value) == SIRET_LENGTH):
        raise MalformedIdentifiants(_("Le SIRET doit compter 14 chiffres."))
    return value
