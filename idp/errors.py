"""Error pages in French (or English), never a stack trace."""

from __future__ import annotations

import logging

from authlib.integrations.flask_oauth2.errors import _HTTPException as ProtocolError
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from idp.extensions import db

log = logging.getLogger(__name__)

# The database or Redis out of reach (a restart, a failover, SQLite busy past its timeout):
# the request can be made again in a moment, so it is told so, not given a 500.
UNAVAILABLE = (OperationalError, RedisConnectionError, RedisTimeoutError)
RETRY_AFTER_SECONDS = 5
# Answered in JSON (RFC 6749 §5.2 style), as their clients are programs.
PROTOCOL_PATHS = ("/oidc/token", "/oidc/introspect", "/oidc/revoke", "/oidc/userinfo",
                  "/api/")


def _page(status: int, title: str, message: str, **context):
    return render_template("message.html", title=title, message=message, **context), status


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _page(
            400,
            _("Formulaire expiré"),
            _("Votre session a expiré ou le formulaire n'est plus valide. "
              "Rechargez la page et recommencez votre saisie."),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if isinstance(error, ProtocolError):
            return error.get_response()  # RFC 6750 JSON and WWW-Authenticate, as Authlib made it
        titles = {
            400: _("Requête incorrecte"),
            403: _("Accès refusé"),
            404: _("Page introuvable"),
            405: _("Méthode non autorisée"),
            413: _("Requête trop volumineuse"),
            429: _("Trop de requêtes"),
        }
        messages = {
            400: _("La requête envoyée n'a pas pu être comprise."),
            403: _("Vous n'avez pas accès à cette page."),
            404: _("La page demandée n'existe pas ou a été déplacée."),
            405: _("Cette adresse ne peut pas être utilisée de cette façon."),
            413: _("Les données envoyées dépassent la taille autorisée."),
            429: _("Trop de requêtes ont été envoyées. Veuillez patienter avant de réessayer."),
        }
        code = error.code or 500
        if code >= 500:
            return server_error(error)
        return _page(code, titles.get(code, _("Erreur")),
                     messages.get(code, _("La requête n'a pas pu aboutir.")))

    @app.errorhandler(DataError)
    def unstorable_input(error: DataError):
        # A value the database cannot hold (a NUL byte in text on PostgreSQL, an integer past
        # its range): the request was bad, not the server. Forms refuse these earlier; this
        # is the net under every other path.
        db.session.rollback()
        log.warning("Valeur refusée par la base de données : %s", type(error.orig).__name__)
        return _page(400, _("Requête incorrecte"),
                     _("La requête envoyée n'a pas pu être comprise."))

    @app.errorhandler(OperationalError)
    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def unavailable(error):
        db.session.rollback()
        log.warning("Stockage injoignable : %s", type(error).__name__)
        if request.path.startswith(PROTOCOL_PATHS):
            response = jsonify(error="temporarily_unavailable",
                               error_description="Storage unreachable, retry shortly.")
            response.status_code = 503
        else:
            response = app.make_response(_page(
                503, _("Service momentanément indisponible"),
                _("Le service est momentanément indisponible. Veuillez réessayer dans "
                  "quelques instants."), session_unreadable=True))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(InternalServerError)
    def server_error(error):
        original = getattr(error, "original_exception", None)
        if isinstance(original, UNAVAILABLE):  # raised before the view (the session's load)
            return unavailable(original)
        # The trace goes to the server log, never to the page.
        log.error("Erreur interne", exc_info=original)
        return _page(
            500,
            _("Service momentanément indisponible"),
            _("Une erreur technique est survenue. Veuillez réessayer dans quelques instants."),
        )
