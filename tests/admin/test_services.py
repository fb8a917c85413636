"""« Gérer les services »: subscribe and unsubscribe, the access delay shown, another
company's establishments refused."""

from __future__ import annotations

from sqlalchemy import select

from idp.extensions import db
from idp.habilitations.models import Subscription
from tests.admin.conftest import text_of
from tests.conftest import csrf_token

GRENOBLE = "52814432200039"


def post(browser, action, service, target):
    """Post « S'abonner » or « Résilier »."""
    token = csrf_token(browser.get("/gestion/services").get_data(as_text=True))
    return browser.post(f"/gestion/services/{action}", data={
        "csrf_token": token, "service": service, "cible": target})


def subscription(app, service, siret):
    """The establishment's subscription to ``service``, or None."""
    with app.app_context():
        return db.session.scalar(select(Subscription).where(
            Subscription.service_code == service, Subscription.siret == siret))


def test_overview_lists_services_and_establishments(administrator):
    page = text_of(administrator.get("/gestion/services"))
    assert "Gérer les services" in page and "Déclaration sociale nominative" in page
    assert "Abonné depuis le" in page and "S'abonner" in page
    assert f"{GRENOBLE} –" in page


def test_subscribe_shows_the_delay_then_unsubscribe(demo, administrator):
    response = post(administrator, "abonner", "DUCS", GRENOBLE)
    assert response.status_code == 302
    page = text_of(administrator.get("/gestion/services"))
    assert "Vous aurez accès à la déclaration une fois les délais d'accès échus" in page
    found = subscription(demo, "DUCS", GRENOBLE)
    assert found is not None
    assert (found.effective_from - found.subscribed_at).total_seconds() == 24 * 3600
    post(administrator, "abonner", "DUCS", GRENOBLE)  # twice: still one
    post(administrator, "resilier", "DUCS", GRENOBLE)
    assert subscription(demo, "DUCS", GRENOBLE) is None
    response = post(administrator, "resilier", "DUCS", GRENOBLE)
    assert "Il n'y avait pas d'abonnement" in text_of(administrator.get(
        response.headers["Location"]))


def test_refusals(demo, administrator, other_administrator):
    assert post(other_administrator, "abonner", "DUCS", GRENOBLE).status_code == 404
    assert post(administrator, "abonner", "DUCS", "43917721300014").status_code == 404
    assert post(administrator, "abonner", "NOPE", GRENOBLE).status_code == 404
    assert post(administrator, "abonner", "MCF", GRENOBLE).status_code == 404  # per SIREN
    assert administrator.post("/gestion/services/abonner", data={
        "service": "DUCS", "cible": GRENOBLE}).status_code == 400
    assert subscription(demo, "DUCS", GRENOBLE) is None
