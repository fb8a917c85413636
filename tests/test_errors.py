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


def unreachable(settings, name: str) -> dict:
    """``settings`` with the database or Redis at a loopback port nobody listens on."""
    from tests.conftest import free_port

    settings = dict(settings, TESTING=False)
    if name == "database":
        settings["DATABASE_URL"] = f"postgresql+psycopg://idp@127.0.0.1:{free_port()}/idp"
    else:
        settings["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    return settings


@pytest.mark.parametrize("down", ["database", "redis"])
def test_storage_out_of_reach_is_a_503_to_retry(settings, signed_in, down):
    from idp import create_app

    broken = create_app(unreachable(settings, down)).test_client()
    broken.set_cookie("idp_session", signed_in.get_cookie("idp_session").value)
    page = broken.get("/compte")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "Service momentanément indisponible" in page.get_data(as_text=True)


def test_a_partner_token_needs_the_database_not_redis(settings, demo):
    from idp import create_app

    partner = ("demo-portail-dsn", "demo-secret-portail-dsn-2026")
    without_redis = create_app(unreachable(settings, "redis")).test_client()
    assert without_redis.post("/oidc/token", data={"grant_type": "client_credentials"},
                              auth=partner).status_code == 200
    without_database = create_app(unreachable(settings, "database")).test_client()
    answer = without_database.post("/oidc/token", data={"grant_type": "client_credentials"},
                                   auth=partner)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.get_json()["error"] == "temporarily_unavailable"
