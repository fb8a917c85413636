"""``POST /api/v1/notifications`` over real HTTP: one notice, a batch, the idempotency key
(also when sent twice at once), and each refusal with its reason."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from idp.extensions import db
from idp.notifications.models import Notification
from tests.notifications.conftest import (
    CLIENT,
    GRENOBLE,
    SITE,
    VILLEURBANNE,
    notice,
    partner_token,
    publish,
    rate,
)
from tests.oidc.conftest import register
from tests.races import at_once


def count(demo) -> int:
    with demo.app_context():
        return db.session.scalar(select(func.count()).select_from(Notification))


def test_one_notice_then_the_same_key_again(demo, issuer, token):
    body = rate()
    first = publish(issuer, token, body)
    assert first.status_code == 201 and isinstance(first.json()["id"], int)
    again = publish(issuer, token, {**body, "title": "Autre titre"})
    assert again.status_code == 200 and again.json() == first.json()
    with demo.app_context():
        stored = db.session.get(Notification, first.json()["id"])
        assert (stored.siret, stored.siren, stored.service_code, stored.category) == (
            GRENOBLE, GRENOBLE[:9], "ATMP", "taux_atmp")
        assert stored.title == "Votre taux AT/MP 2027" and stored.mailed_at is None


def test_a_batch_in_order_and_idempotent(demo, issuer, token):
    items = [rate(GRENOBLE), rate(CLIENT), notice(VILLEURBANNE, "PPREV")]
    first = publish(issuer, token, items)
    assert first.status_code == 201
    ids = [n["id"] for n in first.json()["notifications"]]
    assert len(set(ids)) == 3 and all(n["created"] for n in first.json()["notifications"])
    again = publish(issuer, token, [items[1], rate(CLIENT)])
    assert again.status_code == 201
    assert again.json()["notifications"][0] == {"id": ids[1], "created": False}
    assert again.json()["notifications"][1]["created"] is True
    assert count(demo) == 4


def test_the_same_key_at_the_same_instant_is_one_notice(demo, issuer, token):
    body = rate()
    results = at_once([lambda: publish(issuer, token, body)] * 4)
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in results}) == 1
    assert count(demo) == 1


@pytest.mark.parametrize(("change", "status", "field"), [
    ({"siret": "52814432200038"}, 400, "siret"),  # a wrong check digit
    ({"siret": "73282932000074"}, 422, "siret"),  # valid, not in the directory
    ({"siret": "５２８１４４３２２０００３９"}, 400, "siret"),
    ({"service": "DSN"}, 403, "service"),  # not hosted by this partner
    ({"title": ""}, 400, "title"),
    ({"title": "x" * 201}, 400, "title"),
    ({"title": "a\x00b"}, 400, "title"),
    ({"body": 12}, 400, "body"),
    ({"link": "https://ailleurs.example/page"}, 400, "link"),
    ({"link": "javascript:alert(1)"}, 400, "link"),
    ({"document": "https://ailleurs.example/doc.pdf"}, 400, "document"),
    ({"category": "Taux AT"}, 400, "category"),
    ({"campaign": "oui"}, 400, "campaign"),
    ({"couleur": "rouge"}, 400, "couleur"),
])
def test_each_bad_field_is_named(demo, issuer, token, change, status, field):
    response = publish(issuer, token, {**rate(), **change})
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == ("insufficient_scope" if status == 403 else "invalid_request")
    assert body["field"] == field and body["error_description"]
    assert count(demo) == 0


def test_a_missing_field(issuer, token):
    body = rate()
    del body["link"]
    response = publish(issuer, token, body)
    assert response.status_code == 400 and response.json()["field"] == "link"
    assert response.json()["error_description"] == "link is required"


def test_one_bad_notice_refuses_the_batch_and_names_it(demo, issuer, token):
    response = publish(issuer, token, [rate(), rate(CLIENT, title=""), rate(VILLEURBANNE)])
    assert response.status_code == 400
    assert response.json()["index"] == 1 and response.json()["field"] == "title"
    duplicated = rate()
    response = publish(issuer, token, [duplicated, dict(duplicated)])
    assert response.status_code == 400 and response.json()["index"] == 1
    assert publish(issuer, token, []).status_code == 400
    assert count(demo) == 0


def test_a_batch_holds_at_most_ten_thousand(demo, issuer, token):
    response = publish(issuer, token, [rate() for _ in range(10_001)])
    assert response.status_code == 400
    assert "10000" in response.json()["error_description"]


def test_bodies_that_are_not_notices(issuer, token):
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{issuer}/api/v1/notifications"
    assert requests.post(url, data="{", headers={**headers, "Content-Type":
                                                 "application/json"}).status_code == 400
    assert requests.post(url, data="NaN", headers={**headers, "Content-Type":
                                                   "application/json"}).status_code == 400
    assert requests.post(url, data="a=b", headers={
        **headers, "Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
    assert publish(issuer, token, "texte").status_code == 400
    assert publish(issuer, token, [1, 2]).json()["index"] == 0


def test_only_a_partner_token_publishes(demo, issuer, token):
    assert requests.post(f"{issuer}/api/v1/notifications", json=rate()).status_code == 401
    forged = publish(issuer, token[:-4] + "AAAA", rate())
    assert forged.status_code == 401
    assert "invalid_token" in forged.headers["WWW-Authenticate"]
    other = register(demo, "--name", "Portail DSN", "--redirect-uri", f"{SITE}/cb",
                     "--service", "DSN")
    refused = publish(issuer, partner_token(issuer, other), rate())
    assert refused.status_code == 403 and refused.json()["field"] == "service"
