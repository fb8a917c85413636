"""Every error is a French page with the right status, never a stack trace."""

from __future__ import annotations

import pytest
from flask import Blueprint


def test_unknown_page(client):
    response = client.get("/nulle-part")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Page introuvable" in html and "Traceback" not in html


def test_wrong_method(client):
    response = client.put("/connexion")
    assert response.status_code == 405
    assert "Méthode non autorisée" in response.get_data(as_text=True)


def test_oversized_body(settings):
    settings["MAX_CONTENT_LENGTH"] = 1024
    from idp import create_app

    client = create_app(settings).test_client()
    response = client.post("/connexion", data={"siret": "x" * 5000})
    assert response.status_code == 413
    assert "dépassent la taille autorisée" in response.get_data(as_text=True)


@pytest.fixture
def failing_app(settings):
    from idp import create_app

    settings["TESTING"] = False  # the real error handling, as in production
    app = create_app(settings)
    boom = Blueprint("boom", __name__)

    @boom.get("/boom")
    def explode():
        raise RuntimeError("secret internals")

    app.register_blueprint(boom)
    return app


def test_internal_error_hides_the_trace(failing_app):
    response = failing_app.test_client().get("/boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Une erreur technique est survenue" in html
    assert "secret internals" not in html and "Traceback" not in html


def test_security_headers(client):
    response = client.get("/connexion")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
