"""Mail and back-channel logouts leave the request: queued in the database, sent by the
worker, retried with backoff when the relay or the partner fails, never sent twice."""

from __future__ import annotations

import socket
import threading

import pytest
from joserfc import jwt

from idp import create_app
from idp.delivery.deps import delivery_queue
from idp.delivery.queue import Backoff
from idp.mail import mailer
from idp.oidc.deps import client_registry, keyring
from tests.conftest import PASSWORD, csrf_token, free_port, run_deliveries
from tests.conftest import sign_in as fill_login
from tests.oidc.conftest import backchannel_endpoint
from tests.races import at_once


def change_password(client) -> None:
    """« Modifier votre mot de passe », which e-mails the holder."""
    token = csrf_token(client.get("/compte/securite").get_data(as_text=True))
    response = client.post("/compte/securite/mot-de-passe", data={
        "pw-csrf_token": token, "pw-current_password": PASSWORD,
        "pw-new_password": "Nouveau2027x", "pw-confirm_password": "Nouveau2027x"})
    assert response.status_code == 302


class SilentRelay:
    """A TCP port that accepts connections and never answers: a hung SMTP relay."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.listener.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        held = []
        while not self.stopped.is_set():
            try:
                held.append(self.listener.accept()[0])
                self.connections += 1
            except TimeoutError:
                continue
        for connection in held:
            connection.close()

    def close(self):
        self.stopped.set()
        self.thread.join()
        self.listener.close()


def test_a_hung_relay_does_not_hold_the_request(app, account):
    relay = SilentRelay()
    app.config["SMTP_PORT"] = relay.port
    try:
        client = app.test_client()
        fill_login(client)
        change_password(client)  # answered without touching the relay
        assert relay.connections == 0
        with app.app_context():
            assert delivery_queue().counts() == {"waiting": 1, "failed": 0}
    finally:
        relay.close()


def test_a_relay_that_fails_then_recovers_loses_nothing(app, signed_in, mailbox, clock,
                                                        smtp_server):
    app.config["SMTP_PORT"] = free_port()  # nobody listens: the relay is down
    change_password(signed_in)
    assert run_deliveries(app).retried == 1
    assert run_deliveries(app).sent == 0  # not due again before its wait
    clock.advance(7)  # the first wait is 5 s ± 20 %
    assert run_deliveries(app).retried == 1  # still down: the second wait is about 10 s
    app.config["SMTP_PORT"] = smtp_server.port  # the relay is back
    clock.advance(13)
    assert run_deliveries(app).sent == 1
    [message] = mailbox.to("sophie@example.fr")
    assert "nouveau mot de passe" in mailbox.text(message)
    with app.app_context():
        assert delivery_queue().counts() == {"waiting": 0, "failed": 0}


def test_a_delivery_is_given_up_after_its_last_attempt_and_counted(settings, clock):
    settings.update(DELIVERY_MAX_ATTEMPTS=2, SMTP_PORT=free_port())
    app = create_app(settings)
    with app.app_context():
        mailer().send("a@example.fr", "Objet", "texte", "<p>texte</p>")
        queue = delivery_queue()
        assert queue.drain().retried == 1
        clock.advance(10)
        assert queue.drain().failed == 1
        assert queue.counts() == {"waiting": 0, "failed": 1}
        clock.advance(8 * 24 * 3600)
        assert queue.forget_old_failures() == 1


def test_backoff_doubles_up_to_its_longest_wait():
    backoff = Backoff(first=5, longest=60, attempts=10)
    waits = [backoff.wait(failures) for failures in range(1, 7)]
    for wait, base in zip(waits, (5, 10, 20, 40, 60, 60), strict=True):
        assert base * 0.8 <= wait <= base * 1.2


def test_simultaneous_workers_send_each_message_once(app, mailbox):
    with app.app_context():
        for number in range(30):
            mailer().send(f"p{number}@example.fr", f"Message {number}", "texte", "<p>t</p>")
    reports = at_once([lambda: run_deliveries(app)] * 4)
    assert sum(report.sent for report in reports) == 30
    received = sorted(message["To"] for message in mailbox.received)
    assert received == sorted(f"p{number}@example.fr" for number in range(30))


def test_the_worker_command_sends_and_reports(app, mailbox):
    with app.app_context():
        mailer().send("a@example.fr", "Objet", "texte", "<p>texte</p>")
    runner = app.test_cli_runner()
    assert "1 en attente, 0 abandonné(s)." in runner.invoke(args=[
        "idp", "deliveries", "status"]).output
    result = runner.invoke(args=["idp", "deliveries", "work", "--once"])
    assert result.exit_code == 0 and "1 envoyé(s), 0 à réessayer, 0 abandonné(s)." in result.output
    assert [m["To"] for m in mailbox.received] == ["a@example.fr"]


def test_the_worker_loop_sends_what_arrives_until_stopped(app, mailbox):
    stop = threading.Event()

    def run():
        with app.app_context():
            delivery_queue().run(stop, idle_seconds=0.05)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        with app.app_context():
            mailer().send("a@example.fr", "Objet", "texte", "<p>texte</p>")
        for _ in range(200):
            if mailbox.received:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join()
    assert [m["To"] for m in mailbox.received] == ["a@example.fr"]


@pytest.fixture
def flaky_partner():
    """A back-channel logout endpoint that answers 503 first, then 200; keeps the tokens."""
    with backchannel_endpoint([503]) as endpoint:
        yield endpoint


def test_a_partner_down_gets_its_logout_later_with_a_fresh_token(app, flaky_partner, clock):
    url, received = flaky_partner
    with app.app_context():
        client, _ = client_registry().create(name="Portail", redirect_uris=["https://p.example/cb"],
                                          backchannel_logout_uri=url)
        queue = delivery_queue()
        queue.enqueue("backchannel_logout", {"client_id": client.client_id, "sub": "42",
                                             "sid": "session-1"})
        assert queue.drain().retried == 1
        clock.advance(7)
        assert queue.drain().sent == 1
        first, second = (jwt.decode(token, keyring().public_key_set()) for token in received)
    assert first.claims["jti"] != second.claims["jti"]
    assert second.claims["sid"] == "session-1" and second.claims["aud"] == client.client_id
