"""The check is index lookups, never a scan (docs/architecture.md §6: « one indexed query »).

On PostgreSQL the habilitations table is filled with 100,000+ rows (with thousands of
portfolios, clients and declarant links, so the planner has real choices), analysed, and
``EXPLAIN`` of the exact statement ``rights_on`` runs must show no sequential scan and the
four unique partial indexes, one per branch. On SQLite, ``EXPLAIN QUERY PLAN`` must search
habilitations through those indexes.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, text
from stdnum import luhn

from idp.accounts.models import Account, Role, Status
from idp.demo import CABINET_SIRET, load_catalogue
from idp.directory.models import Company, Establishment
from idp.extensions import db
from idp.habilitations.models import (
    DeclarantLink,
    Habilitation,
    Portfolio,
    PortfolioClient,
    PortfolioClientService,
    PortfolioService,
    Right,
)
from idp.habilitations.service import HabilitationService
from idp.models_common import utcnow
from tests.conftest import DATABASE_URL

UNIQUE_INDEXES = ("uq_habilitations_siret", "uq_habilitations_siren",
                  "uq_habilitations_portfolio", "uq_habilitations_client")
SERVICES = ("DSN", "DUCS", "ATMP")  # SIRET services, all held by every portfolio
COMPANIES, ESTABLISHMENTS_EACH = 2_000, 5
PORTFOLIOS, CLIENTS_EACH = 1_000, 20
RIGHTS = {"DSN": 3, "DUCS": 3, "ATMP": 4, "MCF": 5}


def literal_sql(statement) -> str:
    """``statement`` as the database receives it, with its values inlined."""
    return str(statement.compile(dialect=db.engine.dialect,
                                 compile_kwargs={"literal_binds": True}))


def siren(n: int) -> str:
    base = f"{n:08d}"
    return base + luhn.calc_check_digit(base)


def siret(company: str, n: int) -> str:
    base = f"{company}{n:04d}"
    return base + luhn.calc_check_digit(base)


def fill(size: int = 100_000) -> dict:
    """Companies, establishments, accounts, portfolios and at least ``size`` habilitations."""
    now = utcnow()
    sirens = [siren(10_000_000 + n) for n in range(COMPANIES)]
    sirets = [[siret(s, n + 1) for n in range(ESTABLISHMENTS_EACH)] for s in sirens]
    flat = [s for group in sirets for s in group]
    db.session.execute(insert(Company), [{"siren": s, "name": f"Société {s}", "updated_at": now}
                                         for s in sirens])
    db.session.execute(insert(Establishment), [
        {"siret": s, "siren": s[:9], "nic": s[9:], "is_headquarters": s.endswith("00010"),
         "active": True, "updated_at": now} for s in flat])
    accounts = [uuid.uuid4() for _ in range(COMPANIES)]
    db.session.execute(insert(Account), [
        {"id": a, "siret": sirets[i][0], "last_name": "Test", "first_name": f"P{i}",
         "last_name_key": "test", "first_name_key": f"p{i}", "email_verified": True,
         "role": Role.DECLARANT, "status": Status.ACTIVE, "created_at": now, "updated_at": now}
        for i, a in enumerate(accounts)])
    owners = [sirets[i][0] for i in range(PORTFOLIOS)]
    portfolio_ids = list(db.session.scalars(insert(Portfolio).returning(Portfolio.id), [
        {"owner_siret": owner, "name": f"Portefeuille {owner}", "created_at": now}
        for owner in owners]))
    db.session.execute(insert(PortfolioService), [
        {"portfolio_id": p, "service_code": code} for p in portfolio_ids for code in SERVICES])
    clients = {p: [flat[(k * 7919 + j * 104_729) % len(flat)] for j in range(CLIENTS_EACH)]
               for k, p in enumerate(portfolio_ids)}
    db.session.execute(insert(PortfolioClient), [
        {"portfolio_id": p, "siret": c, "added_at": now}
        for p, group in clients.items() for c in dict.fromkeys(group)])
    db.session.execute(insert(PortfolioClientService), [
        {"portfolio_id": p, "siret": c, "service_code": code}
        for p, group in clients.items() for c in dict.fromkeys(group) for code in SERVICES])
    links = {(owners[k], c) for k, p in enumerate(portfolio_ids) for c in clients[p]}
    db.session.execute(insert(DeclarantLink), [
        {"declarant_siret": owner, "declared_siret": c, "last_dsn_at": now - timedelta(days=20)}
        for owner, c in links])
    since = now - timedelta(days=2)
    rows = []
    for i, account in enumerate(accounts):
        common = {"account_id": account, "effective_from": since, "granted_at": now,
                  "siret": None, "siren": None, "portfolio_id": None, "client_siret": None}
        for j in range(10):
            for code in SERVICES:
                rows.append({**common, "service_code": code, "rights": RIGHTS[code],
                             "siret": flat[(i * 31 + j * 977) % len(flat)]})
        for j in range(4):
            for code in ("DSN", "ATMP", "MCF"):
                rows.append({**common, "service_code": code, "rights": RIGHTS[code],
                             "siren": sirens[(i * 13 + j * 101) % len(sirens)]})
        for j in range(3):
            for code in SERVICES:
                rows.append({**common, "service_code": code, "rights": RIGHTS[code],
                             "portfolio_id": portfolio_ids[(i + j * 337) % len(portfolio_ids)]})
        for j in range(5):  # one client of a portfolio
            portfolio = portfolio_ids[(i + j * 211 + 1) % len(portfolio_ids)]
            for code in SERVICES:
                rows.append({**common, "service_code": code, "rights": RIGHTS[code],
                             "portfolio_id": portfolio, "client_siret": clients[portfolio][j]})
    rows = list({(r["account_id"], r["service_code"], r["siret"], r["siren"],
                  r["portfolio_id"], r["client_siret"]): r for r in rows}.values())
    # One statement over column arrays: far quicker than 100 batches of bound rows.
    columns = ("account_id", "service_code", "siret", "siren", "portfolio_id", "client_siret",
               "rights")
    db.session.execute(text(
        "INSERT INTO habilitations (account_id, service_code, siret, siren, portfolio_id, "
        "client_siret, rights, effective_from, granted_at) SELECT *, :since, :now FROM unnest("
        "CAST(:account_id AS uuid[]), CAST(:service_code AS text[]), CAST(:siret AS text[]), "
        "CAST(:siren AS text[]), CAST(:portfolio_id AS int[]), CAST(:client_siret AS text[]), "
        "CAST(:rights AS int[]))"),
        {"since": since, "now": now, **{c: [r[c] for r in rows] for c in columns}})
    db.session.commit()
    assert len(rows) >= size
    portfolio = portfolio_ids[0]
    return {"account": accounts[0], "client": clients[portfolio][0], "rows": len(rows)}


@pytest.mark.skipif(not DATABASE_URL, reason="PostgreSQL only (IDP_DATABASE_URL)")
def test_check_is_index_lookups_on_a_big_table(app):
    with app.app_context():
        load_catalogue(db.session)
        big = fill()
        assert db.session.scalar(select(func.count()).select_from(Habilitation)) >= 100_000
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        rules = HabilitationService(db.session)
        assert_index_lookups(rules, big)


def assert_index_lookups(rules: HabilitationService, big: dict) -> None:
    """EXPLAIN of the check and the listing: no sequential scan, one unique index a branch."""
    # PPREV is implied by ATMP (which needs a declarant link) and MCF: the fullest statement.
    for service in ("PPREV", "DSN"):
        statement = rules.check_statement(big["account"], service, big["client"])
        plan = "\n".join(db.session.scalars(text("EXPLAIN " + literal_sql(statement))))
        assert "Seq Scan" not in plan, plan
        for index in UNIQUE_INDEXES:
            assert index in plan, plan
    plan = "\n".join(db.session.scalars(text("EXPLAIN " + literal_sql(
        rules.listing_statement(big["account"], ["ATMP", "DSN", "PPREV"])))))
    assert "Seq Scan" not in plan, plan
    for index in UNIQUE_INDEXES:
        assert index in plan, plan
    # The account holds DSN and ATMP on the portfolio of which this is a client.
    assert rules.rights_on(big["account"], "DSN", big["client"]) == Right.DECLARER | Right.PAYER
    assert Right.CONSULTER in rules.rights_on(big["account"], "PPREV", big["client"])


@pytest.mark.skipif(bool(DATABASE_URL), reason="SQLite only (the embedded default)")
def test_check_searches_habilitations_through_their_indexes(accounts):
    rules = HabilitationService(db.session)
    client = db.session.scalar(select(PortfolioClient.siret).join(Portfolio).where(
        Portfolio.owner_siret == CABINET_SIRET).limit(1))
    for statement in (rules.check_statement(accounts["Julie"], "PPREV", client),
                      rules.listing_statement(accounts["Julie"], ["ATMP", "DSN", "PPREV"])):
        plan = [row[3] for row in db.session.execute(
            text("EXPLAIN QUERY PLAN " + literal_sql(statement)))]
        on_habilitations = [step for step in plan if " habilitations " in step]
        assert len(on_habilitations) == len(UNIQUE_INDEXES), plan
        for step, index in zip(on_habilitations, UNIQUE_INDEXES, strict=True):
            assert step.startswith(f"SEARCH habilitations USING INDEX {index} (account_id=?"), plan
        assert not [step for step in plan if step.startswith("SCAN")], plan
