"""What the benchmarks share: a demo database, and the IdP under gunicorn on a free port."""

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
    env["IDP_SECRET_KEY"] = "bench-secret-key"
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "idp", "demo"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    return env


def storage_label(env: dict) -> str:
    """Which database and store the run used."""
    database = "PostgreSQL" if "postgresql" in env["IDP_DATABASE_URL"] else "SQLite"
    return f"{database} + {'Redis' if env.get('IDP_REDIS_URL') else 'SQLite store'}"


@contextmanager
def gunicorn(env: dict, port: int, *options: str, pin_to_core: int | None = None):
    """Serve the IdP with one gunicorn worker on ``port`` until the block ends."""
    command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind",
               f"127.0.0.1:{port}", "--log-level", "warning", *options, "wsgi:app"]
    if pin_to_core is not None:
        command = ["taskset", "-c", str(pin_to_core), *command]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{port}/connexion", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise SystemExit("the IdP did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
