"""The habilitation check at national scale on PostgreSQL (docs/architecture.md §3, §6).

Builds a base of ~3 million companies, 6 million establishments, 2 million accounts, 10 million
stored habilitations (per SIRET, per SIREN, per portfolio) and 10 million portfolio clients at
``--scale 1.0`` (more than 100 million effective rights), all in SQL (INSERT … SELECT FROM
generate_series, secondary indexes and foreign keys rebuilt after the load). Then it times
``HabilitationService.rights_on`` per path (SIRET, SIREN, whole portfolio, one portfolio
client, implied service, no right), the partner API ``GET /api/v1/habilitations/verifier``
under the production server, the keyset listing of the 50,000-client portfolio, and, when
``idp/habilitations/bulk.py`` exists, a 10,000-line bulk file. Goal: check p99 ≤ 1 ms in
the database.

Run: ``.venv/bin/python bench/habilitations.py [--scale 1.0] [--database-url URL] [--keep]``.
The schema comes from the project's Alembic migrations, so the base follows the schema of the
day (``portfolio_client_services`` and ``habilitations.client_siret`` are filled when present).
"""

# The imports follow the sys.path fix below (as in bench/login.py), and every SQL string is
# built from this script's own numbers and names, never from input.
# ruff: noqa: E402, S608

from __future__ import annotations

import os
import sys

# bench/token.py is named like the standard library's ``token`` module: keep this folder off
# the import path, or ``import tokenize`` (which logging needs) would load that script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse
import http.client
import importlib.util
import json
import math
import random
import threading
import time
import uuid
from contextlib import contextmanager
from urllib.parse import urlencode

import requests
from sqlalchemy import create_engine, text

from bench.idp_server import free_port, idp_server
from bench.load import refuse_unless_bench

BENCH_SECRET_KEY = "bench-secret-key"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_habilitations"
GOAL_P99_MS = 1.0
# A syntactically valid argon2id digest nobody knows the password of: hashing 2 million
# passwords would take hours and the check never reads it.
DUMMY_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$YmVuY2gtc2FsdC0wMDAx"
              "$0SLQl7nOVzRnAqK2Y0Va0r+Tg7m0OtvZbPEuT6hD9Ck")
LOADED_TABLES = ("companies", "establishments", "accounts", "subscriptions", "portfolios",
                 "portfolio_services", "portfolio_clients", "portfolio_client_services",
                 "declarant_links", "habilitations")
PORTFOLIO_SERVICES = ("DSN", "DUCS", "ATMP")
CLIENTS_PER_ASSISTANT = 10


# --- helpers ------------------------------------------------------------------------------

def luhn_check_sql(number: str, digits: int) -> str:
    """SQL for the Luhn check digit of the bigint ``number`` of ``digits`` digits."""
    terms = []
    for k in range(digits):
        digit = f"(({number}) / {10 ** k} % 10)"
        # The check digit goes right of the number: its last digit is doubled, and so on.
        terms.append(f"(2 * {digit} - 9 * ({digit} >= 5)::int)" if k % 2 == 0 else digit)
    return f"((10 - ({' + '.join(terms)}) % 10) % 10)"


def coprime_near(n: int, fraction: float) -> int:
    """A multiplier coprime with ``n`` near ``fraction * n``: ``g * k mod n`` is a permutation."""
    k = max(3, int(n * fraction)) | 1
    while math.gcd(k, n) != 1:
        k += 2
    return k


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, nearest rank."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def latency_summary(seconds: list[float]) -> dict:
    """p50/p99/p99.9/max in milliseconds of a list of durations in seconds."""
    values = sorted(s * 1000 for s in seconds)
    return {"n": len(values), "p50": percentile(values, 0.50), "p99": percentile(values, 0.99),
            "p999": percentile(values, 0.999), "max": values[-1] if values else float("nan")}


def human_bytes(size: int) -> str:
    """A size with a binary unit."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


class Phases:
    """Times the load phases and prints each as it ends."""

    def __init__(self):
        self.done: list[tuple[str, float, int | None]] = []

    @contextmanager
    def phase(self, name: str):
        """Time the block; it may set ``result["rows"]``."""
        result: dict = {}
        start = time.perf_counter()
        yield result
        elapsed = time.perf_counter() - start
        self.done.append((name, elapsed, result.get("rows")))
        rows = f"{result['rows']:>13,} rows" if result.get("rows") is not None else " " * 18
        print(f"  {name:<46} {rows} {elapsed:8.1f} s", flush=True)

    @property
    def total(self) -> float:
        """Seconds spent in all phases."""
        return sum(elapsed for _, elapsed, _ in self.done)


# --- the base -----------------------------------------------------------------------------

class Base:
    """The bench database: schema reset, bulk load, statistics."""

    def __init__(self, url: str, scale: float):
        self.url = url
        self.scale = scale
        # AUTOCOMMIT: each bulk statement is its own transaction, nothing stays open.
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")

    def sql(self, statement: str, **params):
        """Run one statement; rows for a SELECT, else the row count."""
        with self.engine.connect() as conn:
            self._tune(conn)
            result = conn.execute(text(statement), params)
            return result.all() if result.returns_rows else result.rowcount

    def scalar(self, statement: str, **params):
        """The single value a query returns."""
        with self.engine.connect() as conn:
            return conn.execute(text(statement), params).scalar()

    @staticmethod
    def _tune(conn) -> None:
        """Session settings for bulk work."""
        # Session settings only (the server is shared): big sorts and hashes in memory, and
        # no wait on the WAL flush per statement (a crash would only lose the bench base).
        conn.exec_driver_sql("SET synchronous_commit = off")
        conn.exec_driver_sql("SET maintenance_work_mem = '1GB'")
        conn.exec_driver_sql("SET work_mem = '256MB'")
        conn.exec_driver_sql("SET max_parallel_maintenance_workers = 2")

    def has_table(self, name: str) -> bool:
        """Whether the public schema has this table."""
        return bool(self.scalar("SELECT count(*) FROM information_schema.tables "
                                "WHERE table_schema = 'public' AND table_name = :t", t=name))

    def has_column(self, table: str, column: str) -> bool:
        """Whether ``table`` has ``column``."""
        return bool(self.scalar(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = :t AND column_name = :c", t=table, c=column))

    def loaded_scale(self) -> float | None:
        """The scale of a complete base already loaded here, if any."""
        if not self.scalar("SELECT count(*) FROM information_schema.tables "
                           "WHERE table_schema = 'bench_gen' AND table_name = 'meta'"):
            return None
        return self.scalar("SELECT scale FROM bench_gen.meta WHERE complete")

    def reset_schema(self, app) -> str:
        """Drop everything, then build the schema with the project's migrations."""
        import flask_migrate

        self.sql("DROP SCHEMA IF EXISTS public CASCADE")
        self.sql("DROP SCHEMA IF EXISTS bench_gen CASCADE")
        self.sql("CREATE SCHEMA public")
        self.sql("CREATE SCHEMA bench_gen")
        with app.app_context():
            flask_migrate.upgrade()
        return self.scalar("SELECT version_num FROM alembic_version")

    # --- keys and constraints --------------------------------------------------------------

    def drop_keys(self) -> list[tuple[str, str]]:
        """Drop the loaded tables' indexes and foreign keys; the statements recreating them.

        Every row would otherwise update ~25 B-trees and fire foreign-key triggers; sorting
        each index once after the load is several times faster.
        """
        tables = [t for t in LOADED_TABLES if self.has_table(t)]
        oids = ", ".join(f"'public.{t}'::regclass" for t in tables)
        foreign = self.sql(
            f"SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            f"FROM pg_constraint WHERE contype = 'f' "
            f"AND (conrelid IN ({oids}) OR confrelid IN ({oids})) ORDER BY 1, 2")
        keys = self.sql(
            f"SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            f"FROM pg_constraint WHERE contype IN ('p', 'u') AND conrelid IN ({oids}) "
            f"ORDER BY contype, 1, 2")
        indexes = self.sql(
            f"SELECT i.indrelid::regclass::text, c.relname, pg_get_indexdef(i.indexrelid) "
            f"FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            f"WHERE i.indrelid IN ({oids}) AND NOT EXISTS ("
            f"  SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid "
            f"  AND k.contype IN ('p', 'u', 'x')) ORDER BY 1, 2")
        for table, name, _ in foreign:
            self.sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for _, name, _ in indexes:
            self.sql(f'DROP INDEX "{name}"')
        for table, name, _ in keys:
            self.sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        # Keys first (foreign keys need the referenced unique index), foreign keys last.
        return ([(f"{name} ({table})", f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {d}')
                 for table, name, d in keys]
                + [(f"{name} ({table})", d) for table, name, d in indexes]
                + [(f"{name} ({table})", f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {d}')
                   for table, name, d in foreign])

    # --- the load ----------------------------------------------------------------------------

    def load(self, phases: Phases, catalogue: list) -> dict:
        """Fill the tables, scaled; the sizes chosen."""
        s = self.scale
        n_companies = max(1000, round(3_000_000 * s))
        # Per 1,000 companies: 700 of 1 establishment, 150 of 2, 80 of 3, 50 of 5, 19 of 20
        # and 1 of 130: 2,000 establishments, two per company on average as in SIRENE's
        # active stock, and a few networks whose SIREN-wide rights reach far.
        sizes = "CASE WHEN b < 700 THEN 1 WHEN b < 850 THEN 2 WHEN b < 930 THEN 3 " \
                "WHEN b < 980 THEN 5 WHEN b < 999 THEN 20 ELSE 130 END"
        pcs = self.has_table("portfolio_client_services")
        client_siret = self.has_column("habilitations", "client_siret")

        with phases.phase("staging: companies (SIREN, Luhn in SQL)") as r:
            siren_base = f"(n * {coprime_near(90_000_000, 0.61803)}::bigint % 90000000 " \
                         f"+ 10000000)"
            self.sql(f"""
                CREATE UNLOGGED TABLE bench_gen.companies AS
                SELECT n, siren, nb, sum(nb) OVER (ORDER BY n) - nb AS e_start FROM (
                  SELECT n, lpad(({siren_base} * 10 + {luhn_check_sql(siren_base, 8)})::text,
                                 9, '0') AS siren,
                         {sizes} AS nb
                  FROM (SELECT n, n % 1000 AS b FROM generate_series(1, {n_companies}) n) x
                ) y""")
            r["rows"] = n_companies
        n_estab = self.scalar("SELECT sum(nb) FROM bench_gen.companies")

        with phases.phase("staging: establishments (SIRET, Luhn in SQL)") as r:
            base = "(c.siren::bigint * 10000 + g)"
            r["rows"] = self.sql(f"""
                CREATE UNLOGGED TABLE bench_gen.estab AS
                SELECT (c.e_start + g)::int AS e, c.n,
                       c.siren || lpad((g * 10 + {luhn_check_sql(base, 13)})::text, 5, '0')
                         AS siret, c.siren, g
                FROM bench_gen.companies c, generate_series(1, c.nb) g""")
            self.sql("ALTER TABLE bench_gen.estab ADD PRIMARY KEY (e)")

        with phases.phase("companies") as r:
            r["rows"] = self.sql("""
                INSERT INTO companies (siren, name, legal_representative, updated_at)
                SELECT siren, 'ENTREPRISE ' || n, 'DIRIGEANT ' || n, now()
                FROM bench_gen.companies""")

        with phases.phase("establishments") as r:
            r["rows"] = self.sql("""
                INSERT INTO establishments (siret, siren, nic, is_headquarters, name,
                    street_number, street_type, street_name, postal_code, city, active,
                    updated_at)
                SELECT siret, siren, right(siret, 5), g = 1,
                       CASE WHEN g = 1 THEN 'SIEGE' ELSE 'ETABLISSEMENT ' || g END,
                       (n % 120 + 1)::text, 'RUE', 'DE LA REPUBLIQUE',
                       lpad((n % 95 + 1)::text, 2, '0') || '000', 'VILLE ' || (n % 5000),
                       true, now()
                FROM bench_gen.estab""")

        # Portfolios: one firm with 50,000 clients, five with 5,000, and ~20,000 firms
        # sharing the rest (a few dozen to ~950 clients each): 10 million clients in all.
        n_clients = max(20_000, round(10_000_000 * s))
        big = min(50_000, n_estab - 1)
        medium = min(5_000, n_estab // 20)
        n_normal = max(10, round(20_000 * s))
        rest = max(n_normal * 10, n_clients - big - 5 * medium)
        n_clients = big + 5 * medium + rest
        owner_k = coprime_near(n_estab, 0.38197)
        client_k = coprime_near(n_estab, 0.61803)
        assistants = 2 if client_siret else 0
        with phases.phase("staging: portfolios") as r:
            r["rows"] = self.sql(f"""
                CREATE UNLOGGED TABLE bench_gen.portfolios AS
                SELECT p, size, sum(size) OVER (ORDER BY p) - size AS g_start,
                       (p::bigint * {owner_k} % {n_estab} + 1)::int AS owner_e,
                       CASE WHEN p = 1 THEN 100 WHEN p <= 6 THEN 20 ELSE 5 END AS nacc,
                       CASE WHEN p = 1 THEN 20 WHEN p <= 6 THEN 5 ELSE {assistants} END
                         * {int(bool(assistants))} AS nassist
                FROM (
                  SELECT p, CASE WHEN p = 1 THEN {big} WHEN p <= 6 THEN {medium}
                    ELSE greatest(10, floor({rest}::numeric * (1 + p * 37 % 19)
                         / sum(1 + p * 37 % 19) FILTER (WHERE p > 6) OVER ()))::int END AS size
                  FROM generate_series(1, {6 + n_normal}) p) x""")

        n_accounts = max(2_000, round(2_000_000 * s))
        firm_accounts = self.scalar("SELECT sum(nacc + nassist) FROM bench_gen.portfolios")
        n_company_accounts = n_accounts - firm_accounts
        account_k = coprime_near(n_estab, 0.7236)
        with phases.phase("staging: accounts") as r:
            # Company people at distinct establishments; firm people at their firm's.
            self.sql(f"""
                CREATE UNLOGGED TABLE bench_gen.accounts AS
                SELECT a.n, md5('bench-account-' || a.n)::uuid AS id, e.siret,
                       CASE WHEN a.n % 4 = 0 THEN 'administrator' ELSE 'declarant' END AS role,
                       NULL::int AS p, 'c'::char AS kind
                FROM generate_series(1, {n_company_accounts}) a(n)
                JOIN bench_gen.estab e ON e.e = (a.n::bigint * {account_k} % {n_estab} + 1)""")
            self.sql(f"""
                INSERT INTO bench_gen.accounts
                SELECT n, md5('bench-account-' || n)::uuid, siret,
                       CASE WHEN k = 1 THEN 'administrator' ELSE 'declarant' END, p, kind
                FROM (SELECT {n_company_accounts} + row_number() OVER (ORDER BY p, kind, k) AS n,
                             e.siret, k, pf.p, kind
                      FROM bench_gen.portfolios pf
                      JOIN bench_gen.estab e ON e.e = pf.owner_e
                      CROSS JOIN LATERAL (
                        SELECT k, 'f'::char AS kind FROM generate_series(1, pf.nacc) k
                        UNION ALL
                        SELECT pf.nacc + k, 'a' FROM generate_series(1, pf.nassist) k) people
                     ) x""")
            r["rows"] = self.scalar("SELECT count(*) FROM bench_gen.accounts")

        with phases.phase("accounts (fixed dummy argon2 hash)") as r:
            r["rows"] = self.sql("""
                INSERT INTO accounts (id, siret, last_name, first_name, last_name_key,
                    first_name_key, email, email_verified, role, status, password_hash,
                    created_at, updated_at, password_changed_at)
                SELECT id, siret, 'Nom' || n, 'Prénom', 'nom' || n, 'prenom',
                       'personne' || n || '@bench.example', true, role, 'active', :hash,
                       now() - interval '400 days', now(), now() - interval '100 days'
                FROM bench_gen.accounts""", hash=DUMMY_HASH)

        with phases.phase("portfolios and the services they hold") as r:
            r["rows"] = self.sql("""
                INSERT INTO portfolios (id, owner_siret, name, created_at)
                SELECT p, e.siret, 'Portefeuille ' || p, now() - interval '3 years'
                FROM bench_gen.portfolios pf JOIN bench_gen.estab e ON e.e = pf.owner_e""")
            self.sql("SELECT setval(pg_get_serial_sequence('portfolios', 'id'), "
                     "(SELECT max(id) FROM portfolios))")
            codes = ", ".join(f"('{c}')" for c in PORTFOLIO_SERVICES)
            r["rows"] += self.sql(f"""
                INSERT INTO portfolio_services (portfolio_id, service_code)
                SELECT p, code FROM bench_gen.portfolios, (VALUES {codes}) s(code)""")

        with phases.phase("portfolio clients") as r:
            # Client number g of the whole set is establishment g·k mod E: distinct within a
            # portfolio (k is coprime with E), spread over the directory.
            r["rows"] = self.sql(f"""
                INSERT INTO portfolio_clients (portfolio_id, siret, added_at)
                SELECT pf.p, e.siret, now() - interval '1 year'
                FROM bench_gen.portfolios pf,
                     generate_series(pf.g_start, pf.g_start + pf.size - 1) c(g),
                     bench_gen.estab e
                WHERE e.e = (c.g * {client_k} % {n_estab} + 1)""")

        if pcs:
            with phases.phase("portfolio client services (declarations)") as r:
                # Every client declares DSN; 40 % also DUCS, 70 % ATMP.
                r["rows"] = self.sql("""
                    INSERT INTO portfolio_client_services (portfolio_id, siret, service_code)
                    SELECT portfolio_id, siret, code FROM (
                      SELECT portfolio_id, siret,
                             (hashtext(siret || portfolio_id) & 2147483647) % 10 AS h
                      FROM portfolio_clients) c
                    JOIN (VALUES ('DSN', 10), ('DUCS', 4), ('ATMP', 7)) s(code, share)
                      ON c.h < s.share""")

        with phases.phase("declarant links (DSN filed by the firm)") as r:
            # 90 % of clients have a link; 1 in 9 of those is older than three months.
            r["rows"] = self.sql("""
                INSERT INTO declarant_links (declarant_siret, declared_siret, last_dsn_at)
                SELECT p.owner_siret, c.siret,
                       now() - CASE WHEN h < 8 THEN interval '20 days'
                                    ELSE interval '200 days' END
                FROM (SELECT portfolio_id, siret,
                             (hashtext(portfolio_id || '/' || siret) & 2147483647) % 10 AS h
                      FROM portfolio_clients) c
                JOIN portfolios p ON p.id = c.portfolio_id
                WHERE h < 9""")

        with phases.phase("subscriptions") as r:
            r["rows"] = self.sql("""
                INSERT INTO subscriptions (service_code, siret, siren, subscribed_at,
                                           effective_from)
                SELECT code, siret, NULL, now() - interval '2 years', now() - interval '2 years'
                FROM bench_gen.estab
                JOIN (VALUES ('DSN', 8), ('DUCS', 3), ('ATMP', 3)) s(code, share)
                  ON e % 10 < share""")
            r["rows"] += self.sql("""
                INSERT INTO subscriptions (service_code, siret, siren, subscribed_at,
                                           effective_from)
                SELECT code, NULL, siren, now() - interval '2 years', now() - interval '2 years'
                FROM bench_gen.companies
                JOIN (VALUES ('MCF', 3), ('PPREV', 2), ('DOETH', 1)) s(code, share)
                  ON n % 10 < share""")

        # Habilitations of company people: each (account, service) pair kept with the
        # probability that brings the total near 10 million. SIREN-granted services by
        # SIREN; the others by SIRET, or SIREN-wide for half the administrators and 10 % of
        # declarants. 2 % are not effective yet (the access delay).
        n_habilitations = max(10_000, round(10_000_000 * s))
        portfolio_rows = self.scalar(
            "SELECT sum(nacc) FROM bench_gen.portfolios") * len(PORTFOLIO_SERVICES)
        client_rows = self.scalar("SELECT sum(nassist) FROM bench_gen.portfolios") \
            * len(PORTFOLIO_SERVICES) * CLIENTS_PER_ASSISTANT
        company_rows = max(0, n_habilitations - portfolio_rows - client_rows)
        keep = min(10_000, round(10_000 * company_rows / (n_company_accounts * len(catalogue))))
        services = ", ".join(
            f"({k}, '{entry.code}', {str(entry.granularity.value == 'siren').lower()}, "
            f"ARRAY{submasks(entry)})" for k, entry in enumerate(catalogue))
        with phases.phase("habilitations per SIRET and per SIREN") as r:
            r["rows"] = self.sql(f"""
                INSERT INTO habilitations (account_id, service_code, siret, siren, portfolio_id,
                                           rights, effective_from, granted_at)
                SELECT id, code,
                       CASE WHEN by_siren THEN NULL ELSE siret END,
                       CASE WHEN by_siren THEN left(siret, 9) END,
                       NULL, masks[1 + (h / 100000) % array_length(masks, 1)],
                       CASE WHEN (h / 1000000) % 50 = 0 THEN now() + interval '1 day'
                            ELSE now() - ((h / 1000000) % 700) * interval '1 day' END,
                       now() - interval '1 day'
                FROM (
                  SELECT a.id, a.siret, s.code, s.masks, x.h,
                         s.siren_only OR (x.h / 10000) % 10 <
                           CASE WHEN a.role = 'administrator' THEN 5 ELSE 1 END AS by_siren
                  FROM bench_gen.accounts a
                  CROSS JOIN (VALUES {services}) s(k, code, siren_only, masks)
                  CROSS JOIN LATERAL (SELECT hashint8(a.n * 8 + s.k) & 2147483647 AS h) x
                  WHERE a.kind = 'c' AND x.h % 10000 < {keep}) y""")

        with phases.phase("habilitations per portfolio (firm people)") as r:
            masks = {"DSN": "ARRAY[3, 1]", "DUCS": "ARRAY[3, 1]", "ATMP": "ARRAY[4]"}
            values = ", ".join(f"('{c}', {m})" for c, m in masks.items())
            scope = ", client_siret" if client_siret else ""
            r["rows"] = self.sql(f"""
                INSERT INTO habilitations (account_id, service_code, portfolio_id{scope},
                                           rights, effective_from, granted_at)
                SELECT a.id, s.code, a.p{", NULL" if client_siret else ""},
                       s.masks[(1 + a.n % array_length(s.masks, 1))::int],
                       now() - interval '30 days', now() - interval '30 days'
                FROM bench_gen.accounts a CROSS JOIN (VALUES {values}) s(code, masks)
                WHERE a.kind = 'f'""")

        if client_siret:
            # A per-client right needs the client to have the declaration: the same draw as
            # portfolio_client_services above.
            declared = ("(hashtext(e.siret || a.p) & 2147483647) % 10 < "
                        "CASE s.code WHEN 'DSN' THEN 10 WHEN 'DUCS' THEN 4 ELSE 7 END"
                        if pcs else "true")
            with phases.phase("habilitations per portfolio client (assistants)") as r:
                # Each assistant handles ten clients of the firm's portfolio, for the three
                # services: clients start + j·(size / 10), distinct within the portfolio.
                r["rows"] = self.sql(f"""
                    INSERT INTO habilitations (account_id, service_code, portfolio_id,
                                               client_siret, rights, effective_from, granted_at)
                    SELECT a.id, s.code, a.p, e.siret, s.mask, now() - interval '30 days',
                           now() - interval '30 days'
                    FROM bench_gen.accounts a
                    JOIN bench_gen.portfolios pf ON pf.p = a.p
                    CROSS JOIN generate_series(0, {CLIENTS_PER_ASSISTANT - 1}) j
                    CROSS JOIN (VALUES ('DSN', 3), ('DUCS', 1), ('ATMP', 4)) s(code, mask)
                    JOIN bench_gen.estab e ON e.e = ((pf.g_start
                         + ((hashint8(a.n) & 2147483647) + j * (pf.size / 10)) % pf.size)
                         * {client_k} % {n_estab} + 1)
                    WHERE a.kind = 'a' AND {declared}""")

        return {"companies": n_companies, "establishments": n_estab, "accounts": n_accounts,
                "portfolio_clients": n_clients, "big_portfolio": 1, "big_size": big,
                "portfolio_client_services": pcs, "client_siret": client_siret}

    def rebuild(self, phases: Phases, statements: list[tuple[str, str]]) -> None:
        """Recreate the dropped keys, indexes and foreign keys, each timed."""
        for label, statement in statements:
            kind = ("foreign key" if "FOREIGN KEY" in statement
                    else "key" if "ADD CONSTRAINT" in statement else "index")
            with phases.phase(f"{kind} {label}"[:46]):
                self.sql(statement)

    def sizes(self) -> list[tuple]:
        """(table, rows, heap, indexes, total) of the loaded tables, biggest first."""
        tables = [t for t in LOADED_TABLES if self.has_table(t)]
        names = ", ".join(f"'{t}'" for t in tables)
        return self.sql(f"""
            SELECT c.relname, c.reltuples::bigint, pg_relation_size(c.oid),
                   pg_indexes_size(c.oid), pg_total_relation_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relname IN ({names})
            ORDER BY pg_total_relation_size(c.oid) DESC""")

    def index_sizes(self, table: str) -> list[tuple]:
        """(index, size) of one table's indexes."""
        return self.sql("""
            SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = ('public.' || :t)::regclass ORDER BY 2 DESC""", t=table)

    def effective_rights(self, pcs: bool, client_siret: bool) -> dict:
        """Effective rights stored rows stand for: SIRET rows, SIREN rows × establishments of
        the SIREN, portfolio rows × clients having the declaration (effective rows only; the
        ATMP link rule and implied services are not counted)."""
        whole = "AND h.client_siret IS NULL" if client_siret else ""
        if pcs:
            held = """SELECT portfolio_id, service_code, count(*) AS n
                      FROM portfolio_client_services GROUP BY 1, 2"""
        else:
            held = """SELECT c.portfolio_id, s.service_code, count(*) AS n
                      FROM portfolio_clients c JOIN portfolio_services s USING (portfolio_id)
                      GROUP BY 1, 2"""
        counts = {
            "siret": self.scalar("SELECT count(*) FROM habilitations "
                                 "WHERE siret IS NOT NULL AND effective_from <= now()"),
            "siren": self.scalar("""
                SELECT coalesce(sum(e.n), 0) FROM habilitations h
                JOIN (SELECT siren, count(*) AS n FROM establishments GROUP BY siren) e
                  USING (siren)
                WHERE h.siren IS NOT NULL AND h.effective_from <= now()"""),
            "portfolio": self.scalar(f"""
                SELECT coalesce(sum(k.n), 0) FROM habilitations h
                JOIN ({held}) k ON k.portfolio_id = h.portfolio_id
                               AND k.service_code = h.service_code
                WHERE h.portfolio_id IS NOT NULL {whole} AND h.effective_from <= now()"""),
        }
        if client_siret:
            declared = ("EXISTS (SELECT 1 FROM portfolio_client_services d WHERE "
                        "d.portfolio_id = h.portfolio_id AND d.siret = h.client_siret "
                        "AND d.service_code = h.service_code)") if pcs else "true"
            counts["portfolio client"] = self.scalar(f"""
                SELECT count(*) FROM habilitations h WHERE h.client_siret IS NOT NULL
                AND h.effective_from <= now() AND {declared}""")
        counts["total"] = sum(counts.values())
        return counts


def submasks(entry) -> list[int]:
    """The non-empty masks of the rights a catalogue entry knows."""
    from idp.habilitations.models import Right

    known = int(Right.from_names(entry.rights))
    return [m for m in range(1, 8) if m & known == m]


# --- probes -------------------------------------------------------------------------------

def sample_probes(base: Base, n: int, client_siret: bool, pcs: bool) -> dict[str, list]:
    """(account_id, service, siret) probes per path, drawn at random from the base."""
    total = base.scalar("SELECT reltuples::bigint FROM pg_class WHERE relname = 'habilitations'")
    whole = "AND h.client_siret IS NULL" if client_siret else ""

    def percent(share: float) -> float:
        """The sampling percentage that yields ``n`` rows of a kind holding ``share``."""
        # BERNOULLI reads the table once; ask for ~5 times what is needed after the filter.
        return min(100.0, 100.0 * 5 * n / max(1.0, total * share))

    shares = dict(base.sql("""
        SELECT CASE WHEN siret IS NOT NULL THEN 'siret' WHEN siren IS NOT NULL THEN 'siren'
                    ELSE 'portfolio' END, count(*)::float / greatest(1, sum(count(*)) OVER ())
        FROM (SELECT * FROM habilitations TABLESAMPLE SYSTEM (1)) h GROUP BY 1"""))
    client_pick = ("""(SELECT d.siret FROM portfolio_client_services d
                       WHERE d.portfolio_id = h.portfolio_id AND d.service_code = h.service_code
                       ORDER BY random() LIMIT 1)""" if pcs else
                   """(SELECT c.siret FROM portfolio_clients c
                       WHERE c.portfolio_id = h.portfolio_id ORDER BY random() LIMIT 1)""")
    probes = {
        "SIRET": base.sql(f"""
            SELECT account_id, service_code, siret FROM habilitations
            TABLESAMPLE BERNOULLI ({percent(shares.get('siret', 0.5))})
            WHERE siret IS NOT NULL AND effective_from <= now() LIMIT {n}"""),
        "SIREN": base.sql(f"""
            SELECT h.account_id, h.service_code,
                   (SELECT e.siret FROM establishments e WHERE e.siren = h.siren
                    ORDER BY random() LIMIT 1)
            FROM (SELECT * FROM habilitations
                  TABLESAMPLE BERNOULLI ({percent(shares.get('siren', 0.4))})
                  WHERE siren IS NOT NULL AND effective_from <= now() LIMIT {n}) h"""),
        "portfolio": base.sql(f"""
            SELECT h.account_id, h.service_code, {client_pick}
            FROM (SELECT * FROM habilitations h
                  TABLESAMPLE BERNOULLI ({percent(shares.get('portfolio', 0.03))})
                  WHERE portfolio_id IS NOT NULL {whole} LIMIT {n}) h"""),
        "portfolio client": base.sql(f"""
            SELECT account_id, service_code, client_siret FROM habilitations
            TABLESAMPLE BERNOULLI ({percent(shares.get('portfolio', 0.1))})
            WHERE client_siret IS NOT NULL LIMIT {n}""") if client_siret else [],
        # PPREV is implied by ATMP and MCF: the rights come through the implying service.
        "implied (PPREV)": base.sql(f"""
            SELECT h.account_id, 'PPREV',
                   coalesce(h.siret, (SELECT e.siret FROM establishments e
                                      WHERE e.siren = h.siren ORDER BY random() LIMIT 1),
                            {client_pick})
            FROM (SELECT * FROM habilitations h
                  TABLESAMPLE BERNOULLI ({min(100.0, percent(0.3) * 2)})
                  WHERE service_code IN ('ATMP', 'MCF') AND effective_from <= now()
                  {whole} LIMIT {n}) h"""),
        "no right": base.sql(f"""
            SELECT a.id, s.code, e.siret
            FROM (SELECT id, row_number() OVER () AS r FROM accounts
                  TABLESAMPLE BERNOULLI ({min(100.0, 100.0 * 3 * n / max(1, total / 5))})
                  LIMIT {n}) a
            JOIN (SELECT siret, row_number() OVER () AS r FROM establishments
                  TABLESAMPLE BERNOULLI ({min(100.0, 100.0 * 3 * n / max(1, total / 2))})
                  LIMIT {n}) e USING (r)
            CROSS JOIN LATERAL (SELECT (ARRAY['DSN', 'DUCS', 'ATMP', 'MCF', 'PPREV',
                                              'DOETH'])[1 + (e.r % 6)::int] AS code) s"""),
    }
    for rows in probes.values():
        random.shuffle(rows)
    return {path: [(uuid.UUID(str(a)), s, x) for a, s, x in rows if x] for path, rows in
            probes.items() if rows}


def time_checks(rules, session, probes: list) -> tuple[list[float], int]:
    """Durations of ``rights_on`` for each probe, and how many found a right."""
    durations, granted = [], 0
    for i, (account_id, service, siret) in enumerate(probes):
        start = time.perf_counter()
        rights = rules.rights_on(account_id, service, siret)
        durations.append(time.perf_counter() - start)
        granted += bool(rights)
        if i % 500 == 499:
            session.rollback()  # a fresh snapshot now and then, outside the timing
    return durations, granted


def time_parts(rules, session, probes: list) -> tuple[list[float], list[float]]:
    """Durations of building ``check_statement`` and of executing it, for each probe."""
    builds, executions = [], []
    for account_id, service, siret in probes:
        start = time.perf_counter()
        statement = rules.check_statement(account_id, service, siret)
        built = time.perf_counter()
        session.execute(statement).all()
        executions.append(time.perf_counter() - built)
        builds.append(built - start)
    session.rollback()
    return builds, executions


def server_side_ms(base: Base, rules, probes: list) -> list[float]:
    """Execution times PostgreSQL reports (EXPLAIN ANALYZE) for the check of each probe."""
    from sqlalchemy.dialects import postgresql

    times = []
    with base.engine.connect() as conn:
        for account_id, service, siret in probes:
            statement = rules.check_statement(account_id, service, siret).compile(
                dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
            plan = conn.exec_driver_sql(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}").scalar()
            times.append(plan[0]["Execution Time"] / 1000)
    return times


# --- HTTP ---------------------------------------------------------------------------------

def partner(app, codes: list[str]) -> tuple[str, str]:
    """A partner hosting every service with the habilitations scope: (client_id, secret)."""
    from idp.extensions import db
    from idp.oidc.deps import client_registry, keyring

    with app.app_context():
        # The signing keys are made on first use: make them here, or the IdP's first
        # request spends seconds generating an RSA key.
        keyring().snapshot()
        client, secret = client_registry().create(
            "Bench habilitations", ["http://127.0.0.1/callback"], services=codes,
            scopes=("habilitations",))
        db.session.commit()
        return client.client_id, secret


def time_http(port: int, token: str, probes: list) -> tuple[list[float], int]:
    """Durations of GET /api/v1/habilitations/verifier per probe, and how many had rights."""
    headers = {"Authorization": f"Bearer {token}"}
    durations, granted = [], 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for account_id, service, siret in probes:
        path = "/api/v1/habilitations/verifier?" + urlencode(
            {"sub": str(account_id), "service": service, "siret": siret})
        start = time.perf_counter()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
        except (http.client.HTTPException, ConnectionError):
            # The server closed an idle keep-alive connection: reconnect.
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
        body = response.read()
        durations.append(time.perf_counter() - start)
        if response.status != 200:
            raise SystemExit(f"verifier: HTTP {response.status} {body[:200]!r}")
        granted += bool(json.loads(body)["rights"])
        if response.getheader("Connection", "").lower() == "close":
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    return durations, granted


# --- bulk ---------------------------------------------------------------------------------

def bulk_service():
    """A factory of the bulk file service (its ``apply``) if idp/habilitations/bulk.py has
    one, else None."""
    if importlib.util.find_spec("idp.habilitations.bulk") is None:
        return None
    from idp.habilitations import bulk

    if callable(getattr(bulk, "apply", None)):
        return lambda: bulk
    if callable(getattr(getattr(bulk, "BulkHabilitations", None), "apply", None)):
        from idp.habilitations.deps import bulk_habilitations

        return bulk_habilitations
    return None


def bulk_file(base: Base, portfolio_id: int, lines: int, draw: int) -> list[str]:
    """A bulk file for the portfolio's first ``lines`` clients: 1 for about 70 % of the
    declarations each client has (``draw`` picks which), 0 elsewhere."""
    codes = [c for (c,) in base.sql("SELECT service_code FROM portfolio_services "
                                    "WHERE portfolio_id = :p ORDER BY 1", p=portfolio_id)]
    rows = base.sql("""
        SELECT c.siret, array_agg(d.service_code) FILTER (WHERE d.service_code IS NOT NULL)
        FROM (SELECT siret FROM portfolio_clients WHERE portfolio_id = :p
              ORDER BY siret LIMIT :n) c
        LEFT JOIN portfolio_client_services d ON d.portfolio_id = :p AND d.siret = c.siret
        GROUP BY c.siret ORDER BY c.siret""", p=portfolio_id, n=lines)
    out = [";".join(["SIRET", *codes]) + "\r\n"]
    draws = random.Random(draw)
    for siret, declared in rows:
        declared = set(declared or ())
        cells = ["1" if code in declared and draws.random() < 0.7 else "0"
                 for code in codes]
        out.append(";".join([siret, *cells]) + "\r\n")
    return out


def run_bulk(app, base: Base, make_bulk, probes: dict, summary: list) -> None:
    """Apply a 10,000-line bulk file alone, then another while checks run in this thread."""
    from idp.extensions import db
    from idp.habilitations.models import Portfolio
    from idp.habilitations.service import HabilitationService

    portfolio_id = 1  # the 50,000-client portfolio
    account_id = uuid.UUID(str(base.scalar(
        "SELECT id FROM bench_gen.accounts WHERE p = 1 AND kind IN ('a', 'f') "
        "ORDER BY kind, n LIMIT 1")))
    files = [bulk_file(base, portfolio_id, 10_000, draw) for draw in (1, 2)]
    print(f"\nbulk file of {len(files[0]) - 1:,} lines on the 50,000-client portfolio "
          f"({files[0][0].strip()}), applied then committed")

    def apply(lines: list[str], report: dict) -> None:
        """Apply one file in its own app context and session, and time it."""
        # One file per portfolio per 48 hours: free the slot (bench only) for each run.
        base.sql("UPDATE portfolios SET last_bulk_upload_at = NULL WHERE id = :p",
                 p=portfolio_id)
        with app.app_context():
            start = time.perf_counter()
            result = make_bulk().apply(account_id, db.session.get(Portfolio, portfolio_id),
                                       lines, None)
            db.session.commit()
            report["seconds"] = time.perf_counter() - start
            report["result"] = result

    alone: dict = {}
    apply(files[0], alone)
    result = alone["result"]
    print(f"  alone: {alone['seconds']:.2f} s (lines {result.lines:,}, added {result.added:,}, "
          f"removed {result.removed:,}, unchanged {result.unchanged:,}, "
          f"errors {len(result.errors)})")
    summary.append(("bulk 10,000 lines, alone", f"{alone['seconds']:.2f} s",
                    f"+{result.added:,} / -{result.removed:,}"))

    mixed = [p for rows in probes.values() for p in rows]
    random.shuffle(mixed)
    with app.app_context():
        rules = HabilitationService(db.session)
        baseline, _ = time_checks(rules, db.session, mixed[:2000])
        during: dict = {}
        worker = threading.Thread(target=apply, args=(files[1], during))
        durations = []
        worker.start()
        i = 0
        while worker.is_alive():
            account, service, siret = mixed[i % len(mixed)]
            start = time.perf_counter()
            rules.rights_on(account, service, siret)
            durations.append(time.perf_counter() - start)
            i += 1
            if i % 500 == 0:
                db.session.rollback()
        worker.join()
        db.session.rollback()
    result = during["result"]
    before, meanwhile = latency_summary(baseline), latency_summary(durations)
    print(f"  with checks running: {during['seconds']:.2f} s (added {result.added:,}, "
          f"removed {result.removed:,}, unchanged {result.unchanged:,})")
    print(f"  checks, all paths mixed, just before: {fmt_latency(before)}")
    print(f"  checks while the file is applied ({meanwhile['n']:,} checks): "
          f"{fmt_latency(meanwhile)}")
    print("  (the apply runs in a thread of this process: its Python work and the checks "
          "share the GIL)")
    summary.append(("bulk 10,000 lines, with checks", f"{during['seconds']:.2f} s", ""))
    summary.append(("check p99 while bulk applies", f"{meanwhile['p99']:.3f} ms",
                    f"before: {before['p99']:.3f} ms"))


# --- main ---------------------------------------------------------------------------------

def fmt_latency(summary: dict) -> str:
    """p50 / p99 / p99.9 in ms."""
    return (f"p50 {summary['p50']:7.3f}  p99 {summary['p99']:7.3f}  "
            f"p99.9 {summary['p999']:7.3f}  max {summary['max']:7.2f} ms")


def main() -> None:
    """Load (or reuse) the base, measure, print the figures and the summary table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--keep", action="store_true",
                        help="reuse a complete base already loaded (any scale)")
    parser.add_argument("--probes", type=int, default=3000, help="checks per path")
    parser.add_argument("--http-probes", type=int, default=1000, help="API calls per path")
    args = parser.parse_args()

    url = refuse_unless_bench(args.database_url)

    from idp import create_app
    from idp.demo import CATALOGUE
    from idp.extensions import db
    from idp.habilitations.service import HabilitationService

    app = create_app({"DATABASE_URL": args.database_url, "SECRET_KEY": BENCH_SECRET_KEY})
    base = Base(args.database_url, args.scale)
    summary: list[tuple[str, str, str]] = []
    phases = Phases()

    reused = args.keep and base.loaded_scale() is not None
    print(f"database: {url.render_as_string(hide_password=True)}")
    if reused:
        base.scale = base.loaded_scale()
        revision = base.scalar("SELECT version_num FROM alembic_version")
        print(f"reusing the base loaded at scale {base.scale} (Alembic revision {revision})")
    else:
        print(f"loading at scale {args.scale}")
        with phases.phase("schema: drop, Alembic upgrade"):
            revision = base.reset_schema(app)
        print(f"  Alembic revision: {revision}")
        with app.app_context(), phases.phase("catalogue (HabilitationService.load_catalogue)"):
            HabilitationService(db.session).load_catalogue(CATALOGUE)
            db.session.commit()
        with phases.phase("drop indexes and foreign keys"):
            rebuild = base.drop_keys()
        facts = base.load(phases, CATALOGUE)
        base.rebuild(phases, rebuild)
        with phases.phase("ANALYZE"):
            base.sql("ANALYZE")
        base.sql("CREATE TABLE bench_gen.meta (scale float, facts json, complete bool)")
        base.sql("INSERT INTO bench_gen.meta VALUES (:s, :f, true)", s=args.scale,
                 f=json.dumps(facts))
        print(f"  {'total load':<46} {'':18} {phases.total:8.1f} s")
        groups: dict[str, float] = {}
        for name, elapsed, _ in phases.done:
            group = ("keys and indexes" if name.startswith(("key ", "index ")) else
                     "foreign keys (validated)" if name.startswith("foreign key") else
                     "ANALYZE" if name == "ANALYZE" else "schema and rows")
            groups[group] = groups.get(group, 0.0) + elapsed
        for group, elapsed in groups.items():
            summary.append((f"load: {group}", f"{elapsed:.0f} s", ""))
        summary.append(("load time (all phases)", f"{phases.total / 60:.1f} min", ""))
    facts = json.loads(base.scalar("SELECT facts::text FROM bench_gen.meta"))
    pcs, client_siret = facts["portfolio_client_services"], facts["client_siret"]
    print(f"schema: portfolio_client_services {'present' if pcs else 'absent'}, "
          f"habilitations.client_siret {'present' if client_siret else 'absent'}")

    print("\ntable sizes")
    print(f"  {'table':<28} {'rows':>13} {'heap':>11} {'indexes':>11} {'total':>11}")
    total_size = 0
    for name, rows, heap, indexes, total in base.sizes():
        total_size += total
        print(f"  {name:<28} {rows:>13,} {human_bytes(heap):>11} {human_bytes(indexes):>11} "
              f"{human_bytes(total):>11}")
    print(f"  {'all loaded tables':<28} {'':>13} {'':>11} {'':>11} {human_bytes(total_size):>11}")
    print("  habilitations indexes: " + ", ".join(
        f"{name} {human_bytes(size)}" for name, size in base.index_sizes("habilitations")))
    summary.append(("database size (loaded tables)", human_bytes(total_size), ""))

    start = time.perf_counter()
    effective = base.effective_rights(pcs, client_siret)
    stored = base.scalar("SELECT count(*) FROM habilitations")
    print(f"\nstored habilitations: {stored:,}")
    print("effective rights: " + ", ".join(f"{k} {v:,}" for k, v in effective.items())
          + f"  (counted in {time.perf_counter() - start:.1f} s)")
    summary.append(("stored habilitations", f"{stored:,}", ""))
    summary.append(("effective rights", f"{effective['total']:,}", "≥ 100,000,000 at scale 1"))

    # --- the check in the database ---
    print(f"\ncheck in the database: HabilitationService.rights_on, warm session, "
          f"{args.probes} random probes per path")
    probes = sample_probes(base, args.probes, client_siret, pcs)
    codes = [entry.code for entry in CATALOGUE]
    results = {}
    with app.app_context():
        rules = HabilitationService(db.session)
        warm = [p for rows in probes.values() for p in rows[:100]]
        time_checks(rules, db.session, warm)  # catalogue read, statement cache, connection
        for path, rows in probes.items():
            durations, granted = time_checks(rules, db.session, rows)
            results[path] = latency_summary(durations)
            verdict = "ok" if results[path]["p99"] <= GOAL_P99_MS else "MISSED"
            print(f"  {path:<16} {fmt_latency(results[path])}  rights found "
                  f"{granted}/{len(rows)}  [goal p99 ≤ {GOAL_P99_MS} ms: {verdict}]")
            summary.append((f"check p99, {path}", f"{results[path]['p99']:.3f} ms",
                            f"≤ {GOAL_P99_MS} ms ({verdict})"))
        print("  the same probes in parts: building check_statement (Python) | executing it "
              "(round trip, psycopg) | PostgreSQL execution alone (EXPLAIN ANALYZE, 300 "
              "probes)")
        for path, rows in probes.items():
            builds, executions = time_parts(rules, db.session, rows)
            build, execution = latency_summary(builds), latency_summary(executions)
            server = latency_summary(server_side_ms(base, rules, rows[:300]))
            print(f"  {path:<16} build p50 {build['p50']:.3f} p99 {build['p99']:.3f} | "
                  f"execute p50 {execution['p50']:.3f} p99 {execution['p99']:.3f} | "
                  f"server p50 {server['p50']:.3f} p99 {server['p99']:.3f} ms")
            summary.append((f"  SQL round trip p99, {path}", f"{execution['p99']:.3f} ms", ""))
            summary.append((f"  PostgreSQL execution p99, {path}", f"{server['p99']:.3f} ms",
                            f"≤ {GOAL_P99_MS} ms "
                            f"({'ok' if server['p99'] <= GOAL_P99_MS else 'MISSED'})"))
        db.session.rollback()

    # --- the check over HTTP ---
    print(f"\nGET /api/v1/habilitations/verifier under granian (1 worker), "
          f"{args.http_probes} calls per path, client-credentials token")
    client_id, secret = partner(app, codes)
    port = free_port()
    env = dict(os.environ, IDP_DATABASE_URL=args.database_url,
               IDP_SECRET_KEY=BENCH_SECRET_KEY, IDP_ISSUER=f"http://127.0.0.1:{port}")
    with idp_server(env, port) as root:
        token = requests.post(f"{root}/oidc/token", auth=(client_id, secret), timeout=30, data={
            "grant_type": "client_credentials", "scope": "habilitations"}).json()
        if "access_token" not in token:
            raise SystemExit(f"no token: {token}")
        warm = [p for rows in probes.values() for p in rows[:50]]
        time_http(port, token["access_token"], warm)
        for path, rows in probes.items():
            durations, granted = time_http(port, token["access_token"],
                                           rows[:args.http_probes])
            http_summary = latency_summary(durations)
            print(f"  {path:<16} {fmt_latency(http_summary)}  rights found "
                  f"{granted}/{len(durations)}")
            summary.append((f"HTTP verifier p99, {path}", f"{http_summary['p99']:.2f} ms", ""))

    # --- the listing of the big portfolio ---
    print(f"\nlisting_after on the {facts['big_size']:,}-client portfolio (service DSN, "
          f"500 per page)")
    with app.app_context():
        rules = HabilitationService(db.session)
        account_id = uuid.UUID(str(base.scalar(
            "SELECT id FROM bench_gen.accounts WHERE p = 1 AND kind = 'f' ORDER BY n LIMIT 1")))
        pages, after, timings = 0, None, []
        while True:
            start = time.perf_counter()
            entries, after = rules.listing_after(account_id, ["DSN"], after, 500)
            timings.append(time.perf_counter() - start)
            pages += 1
            if after is None or pages == 100:
                break
        db.session.rollback()
    print(f"  page 1: {timings[0] * 1000:.1f} ms; page {pages}: {timings[-1] * 1000:.1f} ms "
          f"({len(entries)} entries); mean over {pages} pages "
          f"{sum(timings) / len(timings) * 1000:.1f} ms")
    summary.append(("listing page 1", f"{timings[0] * 1000:.1f} ms", "500 entries"))
    summary.append((f"listing page {pages}", f"{timings[-1] * 1000:.1f} ms",
                    "keyset: compare with page 1"))

    # --- bulk ---
    make_bulk = bulk_service()
    if make_bulk is None:
        print("\nbulk: idp/habilitations/bulk.py with apply() not found, skipped")
        summary.append(("bulk 10,000 lines", "skipped", "bulk.py absent"))
    else:
        run_bulk(app, base, make_bulk, probes, summary)

    print("\nsummary")
    width = max(len(m) for m, _, _ in summary)
    for metric, value, note in summary:
        print(f"  {metric:<{width}}  {value:>16}  {note}")


if __name__ == "__main__":
    main()
