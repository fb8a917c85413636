"""The yearly AT/MP campaign on PostgreSQL: 1,000,000 notices published by batch through
``POST /api/v1/notifications`` under the production server, then what an accounting firm with
5,000 clients waits for: the badge of « Votre compte » and the first page of « Vos
notifications » (goal: p99 ≤ 50 ms), in the database and over HTTP; and the sender's rates
(notices fanned out per second, digests queued per second).

The directory, the firm, its portfolio and its DSN links are written in SQL
(generate_series); the notices only through the API, as partners will send them.

Run: ``.venv/bin/python bench/notifications.py [--notices 1000000] [--database-url URL]``.
"""

# The imports follow the sys.path fix below (as in bench/habilitations.py); every SQL string
# is built from this script's own numbers, never from input.
# ruff: noqa: E402, S608

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests
from stdnum import luhn

from bench.habilitations import Base, Phases, latency_summary, luhn_check_sql
from bench.idp_server import free_port, idp_server
from bench.load import _create_database_if_missing, refuse_unless_bench

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_notifications"
SITE = "https://compte-atmp.bench.example"
GOAL_P99_MS = 50.0
BATCH = 10_000
WARM_UP = 10
CLIENTS = 5_000
# Above every generated SIREN, with its Luhn keys (the sign-in form checks them).
FIRM_SIREN = "99999999" + luhn.calc_check_digit("99999999")
FIRM_SIRET = FIRM_SIREN + "0001" + luhn.calc_check_digit(FIRM_SIREN + "0001")
PASSWORD = "Cabinet2026"  # noqa: S105 (the bench firm's, on a throw-away base)
SECRET_KEY = "bench-secret-key"  # noqa: S105
DEPARTMENTS = ["01", "13", "31", "33", "35", "38", "44", "59", "67", "69", "75", "92", "974"]


def siret_sql(n: str) -> str:
    """The SIRET of establishment number ``n``: SIREN 10000000 + n and its key, NIC 0001 and
    its key."""
    body = f"(10000000 + {n})"
    siren = f"({body} * 10 + {luhn_check_sql(body, 8)})"
    nic_body = f"({siren} * 10000 + 1)"
    return f"({nic_body} * 10 + {luhn_check_sql(nic_body, 13)})::text"


def load(base: Base, phases: Phases, establishments: int) -> None:
    """Companies and establishments, the firm, its portfolio of CLIENTS with ATMP, and the
    DSN links that make the firm their declarant."""
    departments = "ARRAY[" + ", ".join(f"'{d}'" for d in DEPARTMENTS) + "]"
    with phases.phase("directory (one establishment per company)") as result:
        base.sql(f"CREATE TABLE bench_gen.places AS SELECT n, {siret_sql('n')} AS siret "
                 f"FROM generate_series(1::bigint, {establishments}) AS n")
        base.sql("INSERT INTO companies (siren, name, updated_at) SELECT substr(siret, 1, 9), "
                 "'Entreprise ' || n, now() FROM bench_gen.places")
        base.sql("INSERT INTO establishments (siret, siren, nic, is_headquarters, name, "
                 "postal_code, city, active, updated_at) SELECT siret, substr(siret, 1, 9), "
                 "substr(siret, 10), true, 'ETABLISSEMENT ' || n, "
                 f"rpad(({departments})[1 + n % {len(DEPARTMENTS)}], 5, '0'), 'Ville', true, "
                 "now() FROM bench_gen.places")
        result["rows"] = establishments
    firm = FIRM_SIRET
    with phases.phase(f"the firm, its portfolio of {CLIENTS:,} clients, DSN links") as result:
        base.sql(f"INSERT INTO companies (siren, name, updated_at) VALUES ('{FIRM_SIREN}', "
                 "'Cabinet Bench', now())")
        base.sql("INSERT INTO establishments (siret, siren, nic, is_headquarters, name, "
                 f"postal_code, city, active, updated_at) VALUES ('{firm}', '{FIRM_SIREN}', "
                 f"'{firm[9:]}', true, 'CABINET BENCH', '69002', 'Lyon', true, now())")
        base.sql(f"INSERT INTO portfolios (owner_siret, name, created_at) VALUES ('{firm}', "
                 "'Clients', now())")
        base.sql("INSERT INTO portfolio_services SELECT id, 'ATMP' FROM portfolios")
        base.sql("INSERT INTO portfolio_clients (portfolio_id, siret, added_at) SELECT "
                 f"(SELECT id FROM portfolios), siret, now() FROM bench_gen.places "
                 f"WHERE n <= {CLIENTS}")
        base.sql("INSERT INTO portfolio_client_services SELECT portfolio_id, siret, 'ATMP' "
                 "FROM portfolio_clients")
        base.sql(f"INSERT INTO declarant_links SELECT '{firm}', siret, now() - interval "
                 f"'20 days' FROM bench_gen.places WHERE n <= {CLIENTS}")
        result["rows"] = CLIENTS
    with phases.phase("ANALYZE"):
        base.sql("ANALYZE")


def people(app) -> dict:
    """The firm's administrator (sees the rates by the DSN links) and its assistant (ATMP on
    the whole portfolio), with a real password; the publishing partner."""
    from idp.accounts.deps import password_hasher
    from idp.accounts.models import Account, Role, Status
    from idp.extensions import db
    from idp.habilitations.deps import habilitation_service
    from idp.oidc.deps import client_registry, keyring

    firm = FIRM_SIRET
    with app.app_context():
        keyring().snapshot()
        digest = password_hasher().hash(PASSWORD)
        accounts = {}
        for first, role in (("Marc", Role.ADMINISTRATOR), ("Julie", Role.DECLARANT)):
            account = Account(siret=firm, last_name="Bench", first_name=first,
                              last_name_key="bench", first_name_key=first.lower(),
                              email=f"{first.lower()}@cabinet.bench.example",
                              email_verified=True, role=role, status=Status.ACTIVE,
                              password_hash=digest)
            db.session.add(account)
            db.session.flush()
            accounts[first] = account.id
        portfolio = db.session.execute(db.text("SELECT id FROM portfolios")).scalar()
        habilitation_service().grant(accounts["Julie"], "ATMP", portfolio_id=portfolio,
                                     rights=["consulter"],
                                     effective_from=datetime(2020, 1, 1, tzinfo=UTC))
        client, secret = client_registry().create(
            "Compte AT/MP (bench)", [f"{SITE}/callback"], initiate_login_uri=f"{SITE}/initier",
            services=("ATMP", "PPREV"))
        db.session.commit()
        return {"accounts": accounts, "client": (client.client_id, secret)}


def publish(base: Base, base_url: str, client: tuple[str, str], sirets: list[str],
            total: int, phases: Phases) -> float:
    """The campaign through the API, BATCH notices per call on two connections; notices/s."""
    token = requests.post(f"{base_url}/oidc/token", data={"grant_type": "client_credentials"},
                          auth=client, timeout=30).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    batches = [[{"key": f"taux-2027-{i}", "siret": sirets[i % len(sirets)], "service": "ATMP",
                 "category": "taux_atmp", "campaign": True, "title": "Votre taux AT/MP 2027",
                 "body": "Le taux applicable au 1er janvier 2027 est de 2,10 %.",
                 "link": f"{SITE}/taux/{sirets[i % len(sirets)]}",
                 "document": f"{SITE}/documents/{i}.pdf"}
                for i in range(start, min(total, start + BATCH))]
               for start in range(0, total, BATCH)]

    def send(numbered: tuple[int, list[dict]]) -> None:
        number, batch = numbered
        answer = requests.post(f"{base_url}/api/v1/notifications", json=batch,
                               headers=headers, timeout=600)
        if answer.status_code != 201:
            raise SystemExit(f"publishing refused: {answer.status_code} {answer.text[:300]}")
        if number % 10 == 0:
            # Autovacuum's ANALYZE as the table grows (this server runs with autovacuum
            # off): without it the key lookups are planned for the empty table.
            base.sql("ANALYZE notifications")

    with phases.phase(f"publish {total:,} notices ({len(batches)} batches)") as result:
        start = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(send, enumerate(batches)))
        elapsed = time.perf_counter() - start
        result["rows"] = total
    return total / elapsed


def time_inbox(app, account_id, rounds: int) -> tuple[dict, int]:
    """The badge and the first page, each ``rounds`` times, in the database: cold (the
    person's visible set read from the indexes, as after the list's lag) and warm (the set
    kept in the store, as when the person goes from « Votre compte » to the list)."""
    from idp.accounts.models import Account
    from idp.extensions import db, store
    from idp.notifications.deps import inbox
    from idp.notifications.inbox import Filters

    timings: dict[str, list[float]] = {"cold badge": [], "warm page": [], "cold page": [],
                                       "warm badge": []}
    with app.app_context():
        account = db.session.get(Account, account_id)
        kept = f"notifications:visible:{account.id}"
        count = 0
        for _ in range(WARM_UP):  # the first calls plan and prepare the statements
            store.get().delete(kept)
            inbox().unread_count(account)
            inbox().page(account, Filters())

        def timed(name: str, call) -> object:
            start = time.perf_counter()
            result = call()
            timings[name].append(time.perf_counter() - start)
            return result

        for _ in range(rounds):
            store.get().delete(kept)
            count = timed("cold badge", lambda: inbox().unread_count(account))
            timed("warm page", lambda: inbox().page(account, Filters()))
            store.get().delete(kept)
            timed("cold page", lambda: inbox().page(account, Filters()))
            timed("warm badge", lambda: inbox().unread_count(account))
            db.session.rollback()
    return {name: latency_summary(values) for name, values in timings.items()}, count


def time_pages(base_url: str, first_name: str, rounds: int) -> tuple[dict, dict]:
    """GET /compte (the badge) and /compte/notifications over HTTP, signed in."""
    from tests.conftest import sign_in

    browser = requests.Session()
    answer = sign_in(browser, f"{base_url}/connexion", FIRM_SIRET, "Bench",
                     first_name, PASSWORD)
    if answer.status_code != 302:
        raise SystemExit(f"sign-in failed: {answer.status_code}")
    account, listing = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        page = browser.get(f"{base_url}/compte", timeout=30)
        account.append(time.perf_counter() - start)
        start = time.perf_counter()
        browser.get(f"{base_url}/compte/notifications", timeout=30)
        listing.append(time.perf_counter() - start)
    if not re.search(r'class="badge"', page.text):
        raise SystemExit("the badge is missing from /compte")
    return latency_summary(account), latency_summary(listing)


def time_sender(app, notices: int) -> tuple[float, float, int]:
    """Fan ``notices`` out, then queue the digests: (notices/s, digests/s, digests)."""
    from idp.notifications.deps import mailing

    with app.app_context():
        start = time.perf_counter()
        done = 0
        while done < notices:
            claimed, _ = mailing().fan_out()
            if not claimed:
                break
            done += claimed
        fan_out = done / (time.perf_counter() - start)
        start = time.perf_counter()
        digests = mailing().digests()
        elapsed = time.perf_counter() - start
    return fan_out, (digests / elapsed if elapsed else 0.0), digests


def fmt(summary: dict) -> str:
    return (f"p50 {summary['p50']:7.2f} ms   p99 {summary['p99']:7.2f} ms   "
            f"max {summary['max']:7.2f} ms   (n={summary['n']})")


def main() -> None:
    """Load, publish, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notices", type=int, default=1_000_000)
    parser.add_argument("--establishments", type=int, default=250_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--fan-out", type=int, default=5_000,
                        help="notices the sender fans out while timed")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    url = refuse_unless_bench(args.database_url)
    _create_database_if_missing(args.database_url)

    from idp import create_app
    from idp.demo import CATALOGUE
    from idp.extensions import db
    from idp.habilitations.service import HabilitationService

    redis_url = os.environ.get("IDP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    settings = {"DATABASE_URL": args.database_url, "SECRET_KEY": SECRET_KEY,
                "REDIS_URL": redis_url}
    app = create_app(settings)
    base = Base(args.database_url, 1.0)
    phases = Phases()
    print(f"database: {url.render_as_string(hide_password=True)}")
    with phases.phase("schema: drop, Alembic upgrade"):
        base.reset_schema(app)
    with app.app_context():
        HabilitationService(db.session).load_catalogue(CATALOGUE)
        db.session.commit()
    load(base, phases, args.establishments)
    made = people(app)
    sirets = [row[0] for row in base.sql("SELECT siret FROM bench_gen.places ORDER BY n")]

    port = free_port()
    env = dict(os.environ, IDP_DATABASE_URL=args.database_url,
               IDP_SECRET_KEY=SECRET_KEY, IDP_ISSUER=f"http://127.0.0.1:{port}",
               IDP_REDIS_URL=redis_url)
    with idp_server(env, port, workers=2, threads=4) as base_url:
        rate = publish(base, base_url, made["client"], sirets, args.notices, phases)
        with phases.phase("VACUUM ANALYZE (what autovacuum does after a campaign)"):
            base.sql("VACUUM ANALYZE")
        rounds = args.rounds
        marc, marc_count = time_inbox(app, made["accounts"]["Marc"], rounds)
        julie, julie_count = time_inbox(app, made["accounts"]["Julie"], rounds)
        http_account, http_list = time_pages(base_url, "Marc", rounds // 2)
    fan_out, digest_rate, digests = time_sender(app, args.fan_out)

    per_client = args.notices / args.establishments
    print(f"\n{args.notices:,} notices over {args.establishments:,} establishments "
          f"({per_client:.0f} each); the firm's {CLIENTS:,} clients hold {marc_count:,}")
    print(f"  publishing through the API         {rate:10,.0f} notices/s")
    for who, figures, count in (("administrator (DSN links)", marc, marc_count),
                                ("assistant (portfolio)", julie, julie_count)):
        print(f"  {who}: {count:,} visible")
        for name, summary in figures.items():
            print(f"    {name:<31} {fmt(summary)}")
    print(f"  HTTP GET /compte (badge)           {fmt(http_account)}")
    print(f"  HTTP GET /compte/notifications     {fmt(http_list)}")
    print(f"  sender: fan-out                    {fan_out:10,.0f} notices/s "
          f"({args.fan_out:,} timed)")
    print(f"  sender: digests queued             {digest_rate:10,.1f} digests/s ({digests})")
    # Each page at its worst: the person's visible set read from the indexes (cold), as on
    # the first visit after VISIBLE_SECONDS; then the visit, « Votre compte » cold and the
    # list from the kept set.
    cold = max(max(f["cold badge"]["p99"], f["cold page"]["p99"]) for f in (marc, julie))
    visit = max(f["cold badge"]["p99"] + f["warm page"]["p99"] for f in (marc, julie))
    verdict = "met" if cold <= GOAL_P99_MS else "NOT met"
    print(f"\ngoal: badge and first page each p99 ≤ {GOAL_P99_MS:.0f} ms, cold: {cold:.1f} ms, "
          f"{verdict} (a visit, badge cold then list kept: {visit:.1f} ms)")


if __name__ == "__main__":
    main()
