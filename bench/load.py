"""Load, flood and fault runs against the IdP on PostgreSQL + Redis with several workers.

``steady``  USERS simulated people (default 200) for SECONDS (default 600): each signs in
            through a partner's authorization request, redeems the code, then uses its
            tokens (userinfo, refresh) CALLS times with a think time between, signs out, and
            starts again; people arrive over RAMP seconds, and one told ``503 Retry-After``
            comes back after that wait. Prints the sign-in rate asked of the machine next to
            its hash capacity, then per step the count, the errors and p50/p95/p99/max.
``flood``   sign-ins arriving at twice what the hash can serve, for SECONDS, while partners'
            back ends call client credentials, refresh and userinfo: prints their
            percentiles (goal: p99 under 50 ms) and what the sign-ins got (302, 503 with
            Retry-After, anything else).
``faults``  a steady load while Redis is restarted, then PostgreSQL, then the SMTP relay is
            down for a minute while e-mails are queued: prints what failed and how, checks
            that no answer was a 500, that every acknowledged refresh token still works, and
            that every e-mail arrives.

Run: ``.venv/bin/python bench/load.py steady|flood|faults [options]`` as root on a machine
whose PostgreSQL and Redis it may restart (``faults``). IDP_BENCH_DATABASE_URL (default
``postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench``; its name must say « bench »: the
demo data replaces what it holds) and IDP_BENCH_REDIS_URL (default database 14) say where.
"""

from __future__ import annotations

import os
import sys

# bench/token.py is named like the standard library's ``token`` module: keep this folder off
# the import path, or ``import tokenize`` (which logging needs) would load that script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse
import base64
import hashlib
import random
import re
import secrets
import subprocess
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, make_url, text

from bench.idp_server import ROOT, demo_environment, free_port, idp_server
from bench.login import argon2_verifications_per_second

PARTNER = ("demo-portail-dsn", "demo-secret-portail-dsn-2026", "http://127.0.0.1:5001/callback")
PEOPLE = [("52814432200013", "Lefèvre", "Sophie", "Camions2026"),
          ("52814432200021", "Benali", "Karim", "Benali2026"),
          ("52814432200039", "Roux", "Élodie", "Grenoble2026"),
          ("43917721300014", "Durand", "Marc", "Cabinet2026"),
          ("43917721300014", "Chevalier", "Julie", "Compta2026")]
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
NEXT = re.compile(r'name="next" type="hidden" value="([^"]*)"')
WORKERS, THREADS = 2, 8  # as scripts/start runs the IdP


class Unexpected(Exception):
    """An answer the step did not expect: its status and the start of its body."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Stats:
    """Durations and failures per step, shared by every simulated user."""

    def __init__(self):
        self.lock = threading.Lock()
        self.durations: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, Counter] = defaultdict(Counter)

    @contextmanager
    def step(self, name: str):
        """Time the block as ``name``; an exception counts as a failure of it."""
        start = time.perf_counter()
        try:
            yield
        except (Unexpected, requests.RequestException) as error:
            with self.lock:
                self.failures[name][_kind(error)] += 1
            raise
        with self.lock:
            self.durations[name].append(time.perf_counter() - start)

    def report(self, title: str) -> None:
        """Print one line per step: count, failures, percentiles in milliseconds."""
        print(f"\n{title}")
        print(f"{'step':<16}{'ok':>8}{'failed':>8}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}"
              "   failures")
        for name in sorted(set(self.durations) | set(self.failures)):
            times = sorted(self.durations.get(name, []))
            failed = sum(self.failures[name].values())
            cells = [_ms(_percentile(times, q)) for q in (0.5, 0.95, 0.99, 1.0)]
            print(f"{name:<16}{len(times):>8}{failed:>8}" + "".join(f"{c:>9}" for c in cells)
                  + f"   {dict(self.failures[name]) or ''}")


def _kind(error: Exception) -> str:
    if isinstance(error, Unexpected):
        return str(error).split(" ", 1)[0]
    return type(error).__name__


def _percentile(values: list[float], q: float) -> float | None:
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def expect(response: requests.Response, *statuses: int) -> requests.Response:
    """``response`` if its status is one of ``statuses``, else raise Unexpected."""
    if response.status_code not in statuses:
        wait = response.headers.get("Retry-After", "")
        raise Unexpected(f"{response.status_code} {response.text[:120]!r}",
                         float(wait) if wait.isdigit() else None)
    return response


class Person:
    """One simulated person: a browser at the IdP, and the partner's back end for them."""

    def __init__(self, base: str, stats: Stats, who: tuple[str, str, str, str]):
        self.base, self.stats, self.who = base, stats, who
        self.browser = requests.Session()
        self.tokens: dict = {}

    def sign_in_to_partner(self) -> None:
        """The code flow: the partner's authorization request, « Vous connecter », the code
        redeemed by the partner's back end."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
            .rstrip(b"=").decode()
        query = urlencode({"response_type": "code", "client_id": PARTNER[0],
                           "redirect_uri": PARTNER[2], "scope": "openid profile siret",
                           "nonce": secrets.token_urlsafe(8), "state": secrets.token_urlsafe(8),
                           "code_challenge": challenge, "code_challenge_method": "S256"})
        with self.stats.step("authorize"):
            login = expect(self.browser.get(f"{self.base}/oidc/authorize?{query}",
                                            allow_redirects=False, timeout=30), 302)
        with self.stats.step("sign-in"):
            page = expect(self.browser.get(self.base + login.headers["Location"], timeout=30),
                          200).text
            siret, last, first, password = self.who
            back = expect(self.browser.post(f"{self.base}/connexion", timeout=30, data={
                "siret": siret, "last_name": last, "first_name": first, "password": password,
                "csrf_token": CSRF.search(page).group(1),
                "next": NEXT.search(page).group(1).replace("&amp;", "&")},
                allow_redirects=False), 302)
        with self.stats.step("authorize"):
            callback = expect(self.browser.get(self.base + back.headers["Location"],
                                               allow_redirects=False, timeout=30), 302)
        code = parse_qs(urlsplit(callback.headers["Location"]).query)["code"][0]
        with self.stats.step("code-to-token"):
            self.tokens = expect(requests.post(f"{self.base}/oidc/token", auth=PARTNER[:2],
                                               timeout=30, data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": PARTNER[2],
                "code_verifier": verifier}), 200).json()

    def use_tokens(self) -> None:
        """What the partner does while the person works: userinfo, then a refresh."""
        with self.stats.step("userinfo"):
            expect(requests.get(f"{self.base}/oidc/userinfo", timeout=30, headers={
                "Authorization": f"Bearer {self.tokens['access_token']}"}), 200)
        with self.stats.step("refresh"):
            self.tokens = expect(requests.post(f"{self.base}/oidc/token", auth=PARTNER[:2],
                                               timeout=30, data={
                "grant_type": "refresh_token",
                "refresh_token": self.tokens["refresh_token"]}), 200).json()

    def sign_out(self) -> None:
        """« Vous déconnecter », confirmed."""
        with self.stats.step("sign-out"):
            page = expect(self.browser.get(f"{self.base}/deconnexion", timeout=30), 200).text
            token = CSRF.search(page)
            if token:  # no form when the session is already gone (a store restart)
                expect(self.browser.post(f"{self.base}/deconnexion", timeout=30,
                                         data={"csrf_token": token.group(1)}), 200)


def people_at_work(base: str, stats: Stats, users: int, stop: threading.Event, calls: int,
                   think: tuple[float, float], ramp: float) -> list[threading.Thread]:
    """Start ``users`` threads that cycle through sign-in, ``calls`` token uses, sign-out;
    they arrive over ``ramp`` seconds, as a morning's users do, not all in the same second."""
    def life(index: int) -> None:
        if stop.wait(random.uniform(0, ramp)):
            return
        while not stop.is_set():
            person = Person(base, stats, PEOPLE[index % len(PEOPLE)])
            try:
                person.sign_in_to_partner()
                for _ in range(calls):
                    if stop.wait(random.uniform(*think)):
                        break
                    person.use_tokens()
                person.sign_out()
            except Unexpected as refused:
                # Counted by the step. A person told to come back later does so (with some
                # spread, so that the refused do not all return in the same second).
                stop.wait((refused.retry_after or 1.0) * random.uniform(1.0, 2.0))
            except (requests.RequestException, KeyError):
                stop.wait(1.0)

    threads = [threading.Thread(target=life, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    return threads


def bench_environment(smtp_port: int | None = None) -> dict:
    """PostgreSQL + Redis, demo data loaded, mail to ``smtp_port`` when given."""
    url = os.environ.get("IDP_BENCH_DATABASE_URL",
                         "postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench")
    if "bench" not in url.rsplit("/", 1)[-1]:
        raise SystemExit(f"refused: the database of {url} is not named for benchmarks")
    _create_database_if_missing(url)
    os.environ["IDP_DATABASE_URL"] = url
    os.environ["IDP_REDIS_URL"] = os.environ.get("IDP_BENCH_REDIS_URL",
                                                 "redis://127.0.0.1:6379/14")
    if smtp_port:
        os.environ["IDP_SMTP_HOST"], os.environ["IDP_SMTP_PORT"] = "127.0.0.1", str(smtp_port)
    return demo_environment()


def refuse_unless_bench(database_url: str):
    """The URL of ``database_url``, or exit when its database's name lacks ``bench``: the
    benchmarks drop its schema."""
    url = make_url(database_url)
    if "bench" not in (url.database or ""):
        raise SystemExit(f"refused: database {url.database!r} does not contain 'bench' "
                         f"(this script drops its schema)")
    return url


def _create_database_if_missing(url: str) -> None:
    """A new machine has no benchmark database yet: create it from the server's own."""
    name = make_url(url).database
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if connection.scalar(text("select 1 from pg_database where datname = :n"),
                             {"n": name}) is None:
            connection.execute(text(f'create database "{name}"'))
    engine.dispose()


@contextmanager
def running_idp(env: dict):
    """The IdP with WORKERS processes and its delivery worker; yield its base URL."""
    port = free_port()
    env["IDP_ISSUER"] = f"http://127.0.0.1:{port}"
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "idp",
                               "deliveries", "work"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with idp_server(env, port, workers=WORKERS, threads=THREADS) as base:
            yield base
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def steady(args) -> None:
    """USERS people for SECONDS: every step must succeed."""
    stats = Stats()
    capacity = argon2_verifications_per_second(3.0)
    cycle = args.calls * (args.think_min + args.think_max) / 2
    print(f"this machine verifies {capacity:.1f} passwords/s; {args.users} people who sign in "
          f"every {cycle:.0f} s ask for {args.users / cycle:.1f} sign-ins/s and "
          f"{2 * args.users / ((args.think_min + args.think_max) / 2):.0f} token requests/s")
    with running_idp(bench_environment()) as base:
        stop = threading.Event()
        threads = people_at_work(base, stats, args.users, stop, args.calls,
                                 (args.think_min, args.think_max), args.ramp)
        time.sleep(args.seconds)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    stats.report(f"steady: {args.users} people for {args.seconds:.0f} s, PostgreSQL + Redis, "
                 f"granian {WORKERS} workers; {args.calls} token uses per sign-in, think "
                 f"{args.think_min}-{args.think_max} s")
    failed = sum(sum(c.values()) for c in stats.failures.values())
    print(f"errors: {failed}")


def flood(args) -> None:
    """Sign-ins at twice the hash capacity while partners' back ends keep working."""
    capacity = argon2_verifications_per_second(3.0)  # all cores, as the workers share them
    rate = 2 * capacity
    stats = Stats()
    signs: Counter = Counter()
    with running_idp(bench_environment()) as base:
        person = Person(base, Stats(), PEOPLE[0])
        person.sign_in_to_partner()
        person.stats = stats  # its calls from now on are the partner's
        stop = threading.Event()
        api = [threading.Thread(target=_partner_back_end, args=(base, stats, stop, person),
                                daemon=True)]
        api[0].start()
        pool = ThreadPoolExecutor(max_workers=200)
        deadline, interval = time.monotonic() + args.seconds, 1 / rate
        next_at = time.monotonic()
        while next_at < deadline:  # open loop: arrivals do not wait for answers
            pool.submit(_one_sign_in, base, stats, signs, PEOPLE[int(next_at * 1000) % 5])
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        pool.shutdown(wait=True)
        stop.set()
        api[0].join(timeout=30)
    stats.report(f"flood: sign-ins arriving at {rate:.1f}/s (twice the {capacity:.1f} "
                 f"argon2 verifications/s of this machine) for {args.seconds:.0f} s, "
                 f"granian {WORKERS} workers")
    print(f"sign-in answers: {dict(signs)}")
    worst = max((_percentile(sorted(stats.durations[n]), 0.99) or 0)
                for n in ("client-credentials", "refresh", "userinfo"))
    print(f"partner calls p99 (worst of the three): {worst * 1000:.1f} ms "
          f"({'under' if worst < 0.05 else 'OVER'} the 50 ms goal)")


def _one_sign_in(base: str, stats: Stats, signs: Counter, who) -> None:
    browser = requests.Session()
    try:
        with stats.step("sign-in"):
            page = expect(browser.get(f"{base}/connexion", timeout=60), 200).text
            answer = expect(browser.post(f"{base}/connexion", timeout=60, data={
                "siret": who[0], "last_name": who[1], "first_name": who[2],
                "password": who[3], "csrf_token": CSRF.search(page).group(1)},
                allow_redirects=False), 302, 503)
        if answer.status_code == 503:
            signs["503 Retry-After " + answer.headers.get("Retry-After", "missing")] += 1
        else:
            signs["302 signed in"] += 1
    except (Unexpected, requests.RequestException) as error:
        signs[_kind(error)] += 1


def _partner_back_end(base: str, stats: Stats, stop: threading.Event, person: Person) -> None:
    """A partner's back end: client credentials, a refresh and userinfo, about 30 per second."""
    while not stop.is_set():
        try:
            with stats.step("client-credentials"):
                expect(requests.post(f"{base}/oidc/token", auth=PARTNER[:2], timeout=30,
                                     data={"grant_type": "client_credentials"}), 200)
            person.use_tokens()
        except (Unexpected, requests.RequestException):
            pass
        stop.wait(0.1)


class Relay:
    """An SMTP relay (aiosmtpd) that can be stopped and started again on its port."""

    def __init__(self):
        self.port = free_port()
        self.received: list = []
        self.controller = None

    def start(self) -> None:
        relay = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                relay.received.append(message_from_bytes(envelope.content))
                return "250 Message accepted"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def faults(args) -> None:
    """Redis restarted, PostgreSQL restarted, the relay down: what failed, and how."""
    relay = Relay()
    relay.start()
    env = bench_environment(relay.port)
    stats = Stats()
    with running_idp(env) as base:
        chains = [Person(base, Stats(), who) for who in PEOPLE]
        for chain in chains:
            chain.sign_in_to_partner()
        stop = threading.Event()
        threads = people_at_work(base, stats, args.users, stop, 5, (0.5, 1.5), 3.0)
        time.sleep(15)
        print("restarting Redis (it keeps nothing on disk)…", flush=True)
        subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], check=False)
        time.sleep(2)
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
                        "--port", "6379", "--save", "", "--appendonly", "no",
                        "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"],
                       check=True)
        lost = _advance(chains)
        time.sleep(15)
        print("restarting PostgreSQL…", flush=True)
        cluster = next(Path("/etc/postgresql").iterdir()).name
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main",
                        "restart", "-m", "fast"], check=True)
        lost += _advance(chains)
        time.sleep(15)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

        print("relay down for 60 s while 10 e-mails are queued…", flush=True)
        relay.stop()
        for index in range(10):
            siret, last, first, _ = PEOPLE[index % len(PEOPLE)]
            subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "idp", "account",
                            "reset-link", siret, last, first], cwd=ROOT, env=env, check=True,
                           capture_output=True)
        time.sleep(60)
        relay.start()
        arrived_at = time.monotonic()
        while len(relay.received) < 10 and time.monotonic() - arrived_at < 600:
            time.sleep(1)
        waited = time.monotonic() - arrived_at
    relay.stop()
    stats.report(f"faults: {args.users} people working while Redis, then PostgreSQL, restart")
    failures = Counter()
    for counter in stats.failures.values():
        failures.update(counter)
    print(f"failed steps by answer: {dict(failures)} (500: {failures.get('500', 0)})")
    print(f"refresh chains whose last acknowledged token was lost: {lost} of {len(chains)}")
    print(f"e-mails received after the relay came back: {len(relay.received)} of 10 "
          f"(last one {waited:.0f} s after), distinct: "
          f"{len({m.get('Message-ID') or str(m.get_payload()) for m in relay.received})}")


def _advance(chains: list[Person]) -> int:
    """Refresh every chain once more, retrying while the storage comes back; return how many
    chains' last acknowledged token no longer worked (a lost write)."""
    lost = 0
    for chain in chains:
        for _ in range(60):
            response = requests.post(f"{chain.base}/oidc/token", auth=PARTNER[:2], timeout=30,
                                     data={"grant_type": "refresh_token",
                                           "refresh_token": chain.tokens["refresh_token"]})
            if response.status_code == 503:
                time.sleep(1)
                continue
            if response.status_code == 200:
                chain.tokens = response.json()
            else:
                lost += 1
                chain.sign_in_to_partner()
            break
    return lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["steady", "flood", "faults"])
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--calls", type=int, default=30, help="token uses per sign-in")
    parser.add_argument("--think-min", type=float, default=2.0,
                        help="seconds between two token uses, at least")
    parser.add_argument("--think-max", type=float, default=6.0, help="… and at most")
    parser.add_argument("--ramp", type=float, default=None,
                        help="seconds over which the people arrive (default: one cycle, "
                             "so that sign-ins come at their steady rate from the start)")
    args = parser.parse_args()
    defaults = {"steady": (200, 600.0), "flood": (0, 60.0), "faults": (30, 0.0)}[args.scenario]
    args.users = args.users if args.users is not None else defaults[0]
    args.seconds = args.seconds if args.seconds is not None else defaults[1]
    if args.ramp is None:
        args.ramp = args.calls * (args.think_min + args.think_max) / 2
    {"steady": steady, "flood": flood, "faults": faults}[args.scenario](args)


if __name__ == "__main__":
    main()
