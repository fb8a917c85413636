"""``POST /authentifier/1.0/``: the authentication call of payroll and accounting software,
public and fixed (existing software must work unchanged). Plain-text answers; the jeton is
the body of a 200."""

from __future__ import annotations

from email.utils import formatdate

from flask import Blueprint, Response, request
from flask_babel import gettext as _

from idp.accounts.passwords import HashingBusy
from idp.accounts.service import AccountLocked, EmailNotVerified, InvalidCredentials
from idp.accounts.throttling import TooManyFailedLogins
from idp.extensions import csrf
from idp.machine.deps import machine_authentication
from idp.machine.identifiants import MalformedIdentifiants, read_identifiants
from idp.machine.service import NoRightOnService, UnknownService
from idp.web import request_origin

bp = Blueprint("machine", __name__)
csrf.exempt(bp)  # software without a browser: no cookie, nothing to forge

# The five elements at their longest fit in 1 KiB; room for whitespace and a declaration.
MAX_BODY_BYTES = 4096
XML_TYPES = ("application/xml", "text/xml")
REALM = 'Basic realm="net-entreprises.fr"'


def _answer(status: int, text: str, **headers) -> Response:
    response = Response(text, status, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers)
    return response


@bp.post("/authentifier/1.0/")
def authenticate():
    """Identifiants in XML → the jeton, or the status that says why not."""
    if request.mimetype not in XML_TYPES:
        return _answer(415, _("Type de contenu attendu : application/xml."))
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _answer(413, _("Corps trop volumineux (%(n)s octets au plus).", n=MAX_BODY_BYTES))
    body = request.stream.read(MAX_BODY_BYTES + 1)  # no length announced: read no more
    if len(body) > MAX_BODY_BYTES:
        return _answer(413, _("Corps trop volumineux (%(n)s octets au plus).", n=MAX_BODY_BYTES))
    try:
        identifiants = read_identifiants(body)
        jeton = machine_authentication().authenticate(identifiants, request_origin())
    except MalformedIdentifiants as error:
        return _answer(422, str(error))
    except UnknownService:
        return _answer(422, _("Service inconnu : %(code)s.", code=identifiants.service))
    except (InvalidCredentials, NoRightOnService) as error:
        # One answer for a wrong password, an unknown account and a service without right:
        # the caller learns nothing about who has an account (RFC 7235 §3.1 challenge).
        headers = {"WWW-Authenticate": REALM}
        if getattr(error, "resets_in", 0):
            headers["Retry-After"] = str(error.resets_in)
        return _answer(401, _("Identifiants refusés, ou aucune habilitation sur ce service. "
                              "Si la double authentification est activée sur le compte, "
                              "utilisez un mot de passe d'application."), **headers)
    except TooManyFailedLogins as error:
        return _answer(429, _("Trop de tentatives : réessayez dans %(n)s secondes.",
                              n=error.resets_in), **{"Retry-After": str(error.resets_in)})
    except HashingBusy as error:  # nothing was checked, so no failure was counted
        return _answer(503, _("Service très sollicité : réessayez dans %(n)s secondes.",
                              n=error.retry_after), **{"Retry-After": str(error.retry_after)})
    except (AccountLocked, EmailNotVerified):
        return _answer(403, _("Ce compte est bloqué ou suspendu, ou son adresse électronique "
                              "n'est pas encore confirmée : il ne peut pas s'authentifier."))
    return _answer(200, jeton.token, Expires=formatdate(jeton.expires_at, usegmt=True),
                   Pragma="no-cache")
