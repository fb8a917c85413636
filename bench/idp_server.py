"""What the benchmarks share: a demo database, and the IdP under its production server on a
free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
# The IdP's first answer builds its keys and caches: far longer than a request.
START_UP_SECONDS = 60


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_environment() -> dict:
    """Environment for an IdP on a fresh demo database (or the IDP_DATABASE_URL given)."""
    env = dict(os.environ)
    workdir = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    env.setdefault("IDP_DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    env.setdefault("IDP_STORE_PATH", str(workdir / "store.sqlite3"))
    env["IDP_SECRET_KEY"] = "bench-secret-key"
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "idp", "demo"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    return env


def storage_label(env: dict) -> str:
    """Which database and store the run used."""
    database = "PostgreSQL" if "postgresql" in env["IDP_DATABASE_URL"] else "SQLite"
    return f"{database} + {'Redis' if env.get('IDP_REDIS_URL') else 'SQLite store'}"


def wait_until_up(url: str, process: subprocess.Popen, what: str) -> None:
    """Poll ``url`` until it answers; stop with a message when ``process`` dies or the
    start-up takes longer than START_UP_SECONDS."""
    deadline = time.monotonic() + START_UP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} stopped while starting (exit {process.returncode})")
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not answer within {START_UP_SECONDS} s")


@contextmanager
def idp_server(env: dict, port: int, *, workers: int = 1, threads: int = 4,
               pin_to_core: int | None = None):
    """Serve the IdP on ``port`` with the production server (granian, as scripts/start
    does) until the block ends; yield its base URL."""
    command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--blocking-threads",
               str(threads), "--log-level", "warning", "--no-access-log", "wsgi:app"]
    if pin_to_core is not None:
        command = ["taskset", "-c", str(pin_to_core), *command]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/connexion", server, "the IdP")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)
