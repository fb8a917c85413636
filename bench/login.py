"""Password sign-ins per second under gunicorn (one worker) next to raw argon2 verifications.

The goal: a sign-in costs little more than its hash. Run: ``.venv/bin/python bench/login.py``
(``--seconds N``; IDP_DATABASE_URL / IDP_REDIS_URL are honoured to measure PostgreSQL + Redis).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from argon2 import PasswordHasher

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from idp.config import DEFAULTS  # noqa: E402

USER = {"siret": "52814432200013", "last_name": "Lefèvre", "first_name": "Sophie",
        "password": "Camions2026"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def argon2_verifications_per_second(seconds: float) -> float:
    """Raw argon2id verifications with the IdP's default parameters, in this process."""
    hasher = PasswordHasher(time_cost=DEFAULTS["ARGON2_TIME_COST"],
                            memory_cost=DEFAULTS["ARGON2_MEMORY_KIB"],
                            parallelism=DEFAULTS["ARGON2_PARALLELISM"])
    digest = hasher.hash(USER["password"])
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        hasher.verify(digest, USER["password"])
        done += 1
    return done / (time.perf_counter() - start)


def sign_ins_per_second(base: str, seconds: float) -> float:
    """Full sign-ins as a browser does them: load « Vous connecter », post the form."""
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        browser = requests.Session()
        page = browser.get(f"{base}/connexion", timeout=10).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = browser.post(f"{base}/connexion", data={**USER, "csrf_token": token},
                                allow_redirects=False, timeout=10)
        if response.status_code != 302:
            raise SystemExit(f"sign-in failed: HTTP {response.status_code}")
        done += 1
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    env = dict(os.environ)
    env.setdefault("IDP_DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    env["IDP_SECRET_KEY"] = "bench-secret-key"
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "idp", "demo"], cwd=ROOT, env=env, check=True,
                   capture_output=True)

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "wsgi:app"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/connexion", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        sign_ins_per_second(base, 1.0)  # warm up
        sign_ins = sign_ins_per_second(base, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=10)
    raw = argon2_verifications_per_second(args.seconds)

    storage = "PostgreSQL" if "postgresql" in env["IDP_DATABASE_URL"] else "SQLite"
    store = "Redis" if env.get("IDP_REDIS_URL") else "in-process store"
    params = (f"argon2id t={DEFAULTS['ARGON2_TIME_COST']} m={DEFAULTS['ARGON2_MEMORY_KIB']} KiB "
              f"p={DEFAULTS['ARGON2_PARALLELISM']}")
    print(f"storage: {storage} + {store}; hash: {params}; gunicorn: 1 sync worker")
    print(f"password sign-ins per second (GET form + POST): {sign_ins:8.1f}")
    print(f"raw argon2 verifications per second:            {raw:8.1f}")
    print(f"ratio sign-in / raw verification:               {sign_ins / raw:8.2f}")


if __name__ == "__main__":
    main()
