"""The notices' e-mails, read from the test SMTP server: one per person of the company, the
firms' digest grouped by CARSAT and sorted, weekly, the campaign's order, the digest chosen
instead, and a sender that never sends twice (twice in a row, at once, after a crash), nor
loses anything when the relay fails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from idp.delivery.deps import delivery_queue
from idp.delivery.models import Delivery
from idp.directory.models import Company, Establishment
from idp.extensions import db
from idp.habilitations.models import DeclarantLink
from idp.models_common import utcnow
from idp.notifications.deps import mailing
from idp.notifications.mailing import NotificationMailing
from idp.notifications.models import Notification
from tests.conftest import csrf_token, free_port, run_deliveries
from tests.notifications.conftest import (
    CABINET,
    CLIENT,
    GRENOBLE,
    browser_of,
    person,
    published,
    rate,
)
from tests.races import at_once

# Two more clients of the cabinet, elsewhere in France: Marseille and Lille.
MARSEILLE = ("90000000100017", "Savonnerie du Vieux-Port", "13001")
LILLE = ("90000001900019", "Atelier des Flandres", "59000")
EXTRA_BOULANGERIE = "81234567600017"  # « BOULANGERIE MARTIN », Lyon, a portfolio client


@pytest.fixture
def far_clients(demo):
    """The cabinet files the DSN of a company in Marseille and one in Lille."""
    with demo.app_context():
        for siret, name, postal_code in (MARSEILLE, LILLE):
            db.session.add(Company(siren=siret[:9], name=name))
            db.session.add(Establishment(siret=siret, siren=siret[:9], nic=siret[9:],
                                         name=name.upper(), postal_code=postal_code,
                                         city="", is_headquarters=True))
            db.session.flush()
            db.session.add(DeclarantLink(declarant_siret=CABINET, declared_siret=siret,
                                         last_dsn_at=utcnow() - timedelta(days=3)))
        db.session.commit()


def send(demo) -> str:
    """``flask idp notifications send``, as cron runs it."""
    result = demo.test_cli_runner().invoke(args=["idp", "notifications", "send"])
    assert result.exit_code == 0, result.output
    return result.output


def mails_to(mailbox, first_name: str):
    return mailbox.to(person(first_name).email)


def digest_lines(mailbox, message) -> list[str]:
    return [line.strip() for line in mailbox.text(message).splitlines() if line.strip()]


def test_the_company_gets_one_each_the_firm_one_digest_by_carsat(demo, issuer, token,
                                                                mailbox, far_clients):
    published(issuer, token, rate(GRENOBLE, title="Taux de Grenoble"))
    for siret in (CLIENT, MARSEILLE[0], LILLE[0], EXTRA_BOULANGERIE):
        published(issuer, token, rate(siret, title="Taux 2027"))
    assert "5 notification(s) traitée(s)" in send(demo)

    for name in ("Élodie", "Sophie"):
        [message] = mails_to(mailbox, name)
        assert message["Subject"] == "Nouvelle notification : Taux de Grenoble"
        assert "/compte/notifications/" in mailbox.text(message)
    [digest] = mails_to(mailbox, "Marc")
    assert digest["Subject"] == "Vos notifications net-entreprises.fr de la semaine"
    lines = digest_lines(mailbox, digest)
    start = lines.index("4 notifications vous attendent dans votre espace net-entreprises.fr :")
    assert lines[start + 1:start + 8] == [
        "Carsat Hauts-de-France",
        "- ATELIER DES FLANDRES (SIRET 90000001900019) : Taux 2027",
        "Carsat Rhône-Alpes",
        "- BOULANGERIE MARTIN (SIRET 81234567600017) : Taux 2027",
        "- LIBRAIRIE GARNIER (SIRET 44231785500017) : Taux 2027",
        "Carsat Sud-Est",
        "- SAVONNERIE DU VIEUX-PORT (SIRET 90000000100017) : Taux 2027",
    ]
    # Julie's ATMP portfolio reaches its two clients with the declaration: a digest too.
    [julie] = mails_to(mailbox, "Julie")
    assert "LIBRAIRIE GARNIER" in mailbox.text(julie)
    assert mails_to(mailbox, "Karim") == []

    # Run again: nothing new, nothing sent twice.
    assert "0 notification(s) traitée(s)" in send(demo)
    assert len(mailbox.messages) == 4


def test_digests_come_weekly(demo, issuer, token, mailbox, clock):
    published(issuer, token, rate(CLIENT, title="Premier taux"))
    send(demo)
    assert len(mails_to(mailbox, "Marc")) == 1
    published(issuer, token, rate(EXTRA_BOULANGERIE, title="Second taux"))
    send(demo)
    assert len(mails_to(mailbox, "Marc")) == 1  # within the week: it waits
    clock.advance(7 * 24 * 3600)
    send(demo)
    first, second = mails_to(mailbox, "Marc")
    assert "Second taux" in mailbox.text(second) and "Premier taux" not in mailbox.text(second)


def test_during_the_campaign_firms_are_sent_first(demo, issuer, token, mailbox, clock):
    published(issuer, token, rate(CLIENT, title="Taux 2027", campaign=True))
    published(issuer, token, rate(GRENOBLE, title="Taux 2027", campaign=True))
    send(demo)
    assert len(mails_to(mailbox, "Marc")) == 1  # the firm's digest at once
    assert mails_to(mailbox, "Sophie") == []  # the company's own e-mails wait
    clock.advance(2 * 3600 + 1)
    run_deliveries(demo)
    assert len(mails_to(mailbox, "Sophie")) == 1 and len(mails_to(mailbox, "Élodie")) == 1


def test_a_person_may_choose_the_weekly_digest(demo, issuer, token, mailbox):
    sophie = browser_of(demo, "Sophie")
    page = sophie.get("/compte/notifications").get_data(as_text=True)
    answer = sophie.post("/compte/notifications/courriels", data={
        "csrf_token": csrf_token(page), "frequency": "hebdomadaire"})
    assert answer.status_code == 302
    assert "récapitulatif hebdomadaire" in sophie.get("/compte/notifications").get_data(
        as_text=True)
    published(issuer, token, rate(GRENOBLE, title="Taux de Grenoble"))
    send(demo)
    [digest] = mails_to(mailbox, "Sophie")
    assert digest["Subject"] == "Vos notifications net-entreprises.fr de la semaine"
    assert "TRANSPORTS LEFEVRE GRENOBLE (SIRET 52814432200039) : Taux de Grenoble" in \
        mailbox.text(digest)
    assert mails_to(mailbox, "Élodie")[0]["Subject"].startswith("Nouvelle notification")


def test_two_senders_at_once_send_each_mail_once(demo, issuer, token, mailbox):
    for siret in (GRENOBLE, CLIENT, EXTRA_BOULANGERIE):
        published(issuer, token, rate(siret))

    def run():
        with demo.app_context():
            return mailing().send()

    reports = at_once([run, run])
    assert sum(r.notices for r in reports if not isinstance(r, Exception)) == 3, reports
    run_deliveries(demo)
    assert len(mails_to(mailbox, "Sophie")) == 1 and len(mails_to(mailbox, "Élodie")) == 1
    assert len(mails_to(mailbox, "Marc")) == 1


def test_a_crash_mid_batch_leaves_everything_for_the_next_run(demo, issuer, token, mailbox,
                                                              monkeypatch):
    for siret in (GRENOBLE, CLIENT):
        published(issuer, token, rate(siret))
    real = NotificationMailing._fan_out_one
    calls = []

    def crashing(self, notice, now):
        calls.append(notice.id)
        if len(calls) == 2:
            raise RuntimeError("le processus s'arrête")
        return real(self, notice, now)

    monkeypatch.setattr(NotificationMailing, "_fan_out_one", crashing)
    result = demo.test_cli_runner().invoke(args=["idp", "notifications", "send"])
    assert result.exit_code != 0
    with demo.app_context():
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert db.session.scalar(select(func.count()).where(
            Notification.mailed_at.is_(None))) == 2
    monkeypatch.setattr(NotificationMailing, "_fan_out_one", real)
    send(demo)
    assert len(mails_to(mailbox, "Sophie")) == 1 and len(mails_to(mailbox, "Marc")) == 1


def test_a_relay_that_fails_then_recovers_loses_nothing(demo, issuer, token, mailbox, clock,
                                                        smtp_server):
    published(issuer, token, rate(GRENOBLE))
    demo.config["SMTP_PORT"] = free_port()  # nobody listens: the relay is down
    assert "0 envoyé(s), 2 à réessayer" in send(demo)
    with demo.app_context():
        assert delivery_queue().counts() == {"waiting": 2, "failed": 0}
    demo.config["SMTP_PORT"] = smtp_server.port  # back
    clock.advance(7)
    run_deliveries(demo)
    assert len(mails_to(mailbox, "Sophie")) == 1 and len(mails_to(mailbox, "Élodie")) == 1
