"""The bulk habilitation file: checked whole, applied set-based, once per 48 hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from stdnum import luhn

from idp.demo import PORTFOLIO_CLIENTS
from idp.directory.models import Company, Establishment
from idp.extensions import db
from idp.habilitations.bulk import BulkError, BulkHabilitations, BulkTooSoon
from idp.habilitations.deps import bulk_habilitations
from idp.habilitations.models import (
    Habilitation,
    Portfolio,
    PortfolioClient,
    PortfolioClientService,
)
from idp.models_common import utcnow
from tests.habilitations.test_rights import NONE, OUTSIDER, C, D, P, portfolio_id
from tests.races import at_once

NOW = utcnow()
LATER = NOW + timedelta(hours=25)  # past the services' access delay
A, B, X, Y = sorted(PORTFOLIO_CLIENTS)


@pytest.fixture
def portfolio(accounts) -> Portfolio:
    """The cabinet's demo portfolio (DSN, DUCS, ATMP; four clients with all three)."""
    return db.session.get(Portfolio, portfolio_id())


@pytest.fixture
def bulk(accounts) -> BulkHabilitations:
    """The bulk files on the test's session."""
    return BulkHabilitations(db.session, clock=lambda: NOW)


def rows(account_id) -> dict[tuple[str, str], Habilitation]:
    return {(h.client_siret, h.service_code): h for h in db.session.scalars(
        select(Habilitation).where(Habilitation.account_id == account_id,
                                   Habilitation.client_siret.is_not(None)))}


def test_a_good_file_and_its_export(accounts, rules, bulk, portfolio):
    karim = accounts["Karim"]
    lines = [b"SIRET;DSN;ATMP\r\n", f"{A};1;1\r\n".encode(), f"{B};0;1\n".encode(), f"{X};0;0"]
    report = bulk.apply(karim, portfolio, lines, granted_by=accounts["Marc"])
    assert (report.lines, report.added, report.removed, report.unchanged, report.errors) == (
        3, 3, 0, 3, [])
    db.session.commit()
    assert rules.rights_on(karim, "DSN", A, at=LATER) == D | P  # every right DSN knows
    assert rules.rights_on(karim, "ATMP", B, at=LATER) == C
    assert rules.rights_on(karim, "DSN", A, at=NOW) == NONE  # after the access delay
    assert rules.rights_on(karim, "DSN", B, at=LATER) == NONE
    assert list(bulk.export(karim, portfolio)) == [
        "SIRET;ATMP;DSN;DUCS\r\n", f"{A};1;1;0\r\n", f"{B};1;0;0\r\n", f"{X};0;0;0\r\n",
        f"{Y};0;0;0\r\n"]
    assert bulk.template(portfolio) == "SIRET;ATMP;DSN;DUCS\r\n"


def test_unchanged_rows_are_not_touched(accounts, bulk, portfolio):
    karim = accounts["Karim"]
    bulk.apply(karim, portfolio, ["SIRET;DSN;ATMP", f"{A};1;1", f"{B};1;0"], None)
    db.session.commit()
    before = {key: (h.id, h.granted_at) for key, h in rows(karim).items()}
    later = NOW + timedelta(hours=49)
    report = bulk.apply(karim, portfolio, ["SIRET;DSN;ATMP", f"{A};1;0", f"{B};1;1"], None,
                        now=later)
    assert (report.added, report.removed, report.unchanged) == (1, 1, 2)
    db.session.commit()
    after = {key: (h.id, h.granted_at) for key, h in rows(karim).items()}
    assert after[(A, "DSN")] == before[(A, "DSN")] and after[(B, "DSN")] == before[(B, "DSN")]
    assert (A, "ATMP") not in after and after[(B, "ATMP")][1] == later


def test_every_kind_of_bad_line_and_nothing_applied(accounts, bulk, portfolio):
    karim = accounts["Karim"]
    db.session.execute(PortfolioClientService.__table__.delete().where(
        PortfolioClientService.siret == B, PortfolioClientService.service_code == "ATMP"))
    lines = ["SIRET;DSN;ATMP", f"{A};1;1", f"{A};1;0", "12345678901234;1;0", "4423178550001;1;1",
             f"{X};1", f"{Y};2;0", f"{OUTSIDER};1;0", f"{B};0;1", b"\xff\xfe;1;1", ""]
    report = bulk.apply(karim, portfolio, lines, None)
    assert report.errors == [
        BulkError(3, "duplicate_siret", f"{A} 2"), BulkError(4, "siret_syntax", "12345678901234"),
        BulkError(5, "siret_syntax", "4423178550001"), BulkError(6, "column_count", "2"),
        BulkError(7, "cell_value", "DSN"), BulkError(10, "encoding")]
    assert rows(karim) == {}
    # The lines that parse are checked against the portfolio once the others are right.
    report = bulk.apply(karim, portfolio, ["SIRET;DSN;ATMP", f"{A};1;1", f"{OUTSIDER};1;0",
                                           f"{B};0;1"], None)
    assert report.errors == [BulkError(3, "not_a_client", OUTSIDER),
                             BulkError(4, "not_held", f"{B} ATMP")]
    assert rows(karim) == {} and report.added == 0
    # A refused file gives the 48-hour slot back.
    assert bulk.apply(karim, portfolio, ["SIRET;DSN", f"{A};1"], None).added == 1


@pytest.mark.parametrize(("lines", "error"), [
    ([], BulkError(1, "empty_file")),
    (["SIRET;DSN", ""], BulkError(2, "empty_file")),
    (["SIRET"], BulkError(1, "header", "SIRET")),
    (["Siret;DSN"], BulkError(1, "header", "Siret")),
    (["SIRET;DSN;DSN"], BulkError(1, "duplicate_column", "DSN")),
    (["SIRET;DSN;MCF"], BulkError(1, "unknown_column", "MCF")),
    ([b"SIRET;D\xc9SN"], BulkError(1, "encoding")),
])
def test_bad_headers_and_empty_files(accounts, bulk, portfolio, lines, error):
    assert bulk.apply(accounts["Karim"], portfolio, lines, None).errors == [error]


def test_one_file_per_48_hours(accounts, clock, portfolio):
    karim = accounts["Karim"]
    first = bulk_habilitations().apply(karim, portfolio, ["SIRET;DSN", f"{A};1"], None)
    db.session.commit()
    assert first.added == 1
    clock.advance(47 * 3600)
    with pytest.raises(BulkTooSoon) as too_soon:
        bulk_habilitations().apply(karim, portfolio, ["SIRET;DSN", f"{A};0"], None)
    app_now = datetime.fromtimestamp(clock(), UTC)
    assert timedelta(0) < too_soon.value.allowed_at - app_now <= timedelta(hours=1)
    clock.advance(3600)
    assert bulk_habilitations().apply(karim, portfolio, ["SIRET;DSN", f"{A};0"],
                                      None).removed == 1


def test_two_files_at_once_only_one_applies(demo, accounts, portfolio):
    karim, pid = accounts["Karim"], portfolio.id
    db.session.commit()

    def upload(siret):
        def job():
            with demo.app_context():
                report = bulk_habilitations().apply(
                    karim, db.session.get(Portfolio, pid), ["SIRET;DSN", f"{siret};1"], None)
                db.session.commit()
                return report
        return job

    results = at_once([upload(A), upload(B)])
    assert sorted(type(r).__name__ for r in results) == ["BulkReport", "BulkTooSoon"], results
    db.session.expire_all()
    assert len(rows(karim)) == 1


def siret(n: int) -> str:
    base = f"9{n:07d}"
    siren = base + luhn.calc_check_digit(base)
    return siren + "0001" + luhn.calc_check_digit(siren + "0001")


def test_a_50000_line_file(accounts, bulk, portfolio):
    sirets = [siret(n) for n in range(50_000)]
    now = utcnow()
    db.session.execute(insert(Company), [{"siren": s[:9], "updated_at": now} for s in sirets])
    db.session.execute(insert(Establishment), [
        {"siret": s, "siren": s[:9], "nic": s[9:], "active": True, "updated_at": now}
        for s in sirets])
    db.session.execute(insert(PortfolioClient), [
        {"portfolio_id": portfolio.id, "siret": s, "added_at": now} for s in sirets])
    db.session.execute(insert(PortfolioClientService), [
        {"portfolio_id": portfolio.id, "siret": s, "service_code": "DSN"} for s in sirets])
    db.session.commit()

    def lines():
        yield b"SIRET;DSN\n"
        for n, s in enumerate(sirets):
            yield f"{s};{n % 2}\n".encode()

    report = bulk.apply(accounts["Karim"], portfolio, lines(), None)
    assert (report.lines, report.added, report.errors) == (50_000, 25_000, [])
    assert len(rows(accounts["Karim"])) == 25_000
