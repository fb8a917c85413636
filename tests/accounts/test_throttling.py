"""Sign-in throttling per account and per IP address, with a clear French wait message."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp import create_app
from idp.accounts.throttling import BackoffPolicy
from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.accounts.test_login import GENERIC_ERROR, alert
from tests.conftest import make_account
from tests.conftest import sign_in as fill_login


def test_third_failure_imposes_a_wait_announced_in_french(client, account, app):
    assert alert(fill_login(client, password="Faux1111a")) == GENERIC_ERROR
    assert alert(fill_login(client, password="Faux2222a")) == GENERIC_ERROR
    third = fill_login(client, password="Faux3333a")
    assert third.status_code == 401
    assert GENERIC_ERROR in alert(third)
    assert "Veuillez patienter 30 secondes avant de réessayer." in alert(third)

    # Even the right password waits: that is the point of the wait.
    blocked = fill_login(client)
    assert blocked.status_code == 429
    message = alert(blocked)
    assert message.startswith("Trop de tentatives de connexion infructueuses.")
    assert "Veuillez patienter 30 secondes avant de réessayer." in message
    assert client.get("/compte").status_code == 302
    with app.app_context():
        reasons = db.session.scalars(select(AuditEvent.details).where(
            AuditEvent.action == "login").order_by(AuditEvent.id)).all()
    assert [r["reason"] for r in reasons] == ["invalid_credentials"] * 3 + ["throttled"]


def test_unknown_account_is_throttled_exactly_like_a_known_one(client, directory):
    for _ in range(3):
        fill_login(client, last_name="Personne", password="Faux0000a")
    response = fill_login(client, last_name="Personne", password="Faux0000a")
    assert response.status_code == 429
    assert "Veuillez patienter 30 secondes" in alert(response)


def test_other_accounts_are_not_blocked_by_one_account_s_wait(client, directory):
    make_account(directory, last_name="Roux", first_name="Élodie")
    for _ in range(3):
        fill_login(client, password="Faux0000a")
    assert fill_login(client, last_name="Roux", first_name="Élodie").status_code == 302


@pytest.fixture
def quick_settings(settings):
    settings.update(LOGIN_BASE_DELAY_SECONDS=1)
    return settings


def test_the_wait_doubles_with_each_further_failure(quick_settings, app, account, clock):
    client = app.test_client()
    for _ in range(2):
        fill_login(client, password="Faux0000a")
    assert "patienter 1 seconde avant" in alert(fill_login(client, password="Faux0000a"))
    clock.advance(1.2)
    assert "patienter 2 secondes avant" in alert(fill_login(client, password="Faux0000a"))
    clock.advance(2.2)
    assert "patienter 4 secondes avant" in alert(fill_login(client, password="Faux0000a"))


def test_the_wait_never_exceeds_the_maximum():
    policy = BackoffPolicy(free_attempts=3, base_delay=30, max_delay=900, window=3600)
    assert [policy.delay_after(n) for n in range(1, 10)] == [0, 0, 30, 60, 120, 240, 480,
                                                              900, 900]


def test_sign_in_works_again_once_the_wait_is_over(quick_settings, app, account, clock):
    client = app.test_client()
    for _ in range(3):
        fill_login(client, password="Faux0000a")
    blocked = fill_login(client)
    assert blocked.status_code == 429
    assert "Veuillez patienter 1 seconde avant" in alert(blocked)
    clock.advance(1.2)
    assert fill_login(client).status_code == 302
    # A success forgets the account's failures: the next mistake is free again.
    assert alert(fill_login(app.test_client(), password="Faux0000a")) == GENERIC_ERROR


@pytest.fixture
def ip_settings(settings):
    settings.update(LOGIN_IP_FREE_ATTEMPTS=4)
    return settings


def test_one_address_trying_many_accounts_is_throttled(ip_settings, app, account):
    client = app.test_client()
    attacker = {"environ_base": {"REMOTE_ADDR": "198.51.100.9"}}
    for name in ("Alpha", "Bravo", "Charlie", "Delta"):
        fill_login(client, last_name=name, password="Faux0000a", **attacker)
    blocked = fill_login(client, **attacker)  # the right credentials, from that address
    assert blocked.status_code == 429
    assert "Trop de tentatives de connexion infructueuses" in alert(blocked)
    other = app.test_client()
    assert fill_login(other, environ_base={"REMOTE_ADDR": "192.0.2.44"}).status_code == 302


def test_the_wait_holds_across_processes_sharing_the_store(settings, app, account):
    client = app.test_client()
    for _ in range(3):
        fill_login(client, password="Faux0000a")
    other_process = create_app(settings)  # same store (file or Redis prefix): another worker
    response = fill_login(other_process.test_client())
    assert response.status_code == 429
