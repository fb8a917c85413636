"""Password sign-ins per second under the production server (one worker) next to raw argon2
verifications.

The goal: a sign-in costs little more than its hash. Run: ``.venv/bin/python bench/login.py``
(``--seconds N``; IDP_DATABASE_URL / IDP_REDIS_URL are honoured to measure PostgreSQL + Redis).
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
import re
import sys
import time

import requests
from argon2 import PasswordHasher

from bench.idp_server import demo_environment, free_port, idp_server, storage_label
from idp.config import DEFAULTS

USER = {"siret": "52814432200013", "last_name": "Lefèvre", "first_name": "Sophie",
        "password": "Camions2026"}


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

    env = demo_environment()
    with idp_server(env, free_port()) as base:
        sign_ins_per_second(base, 1.0)  # warm up
        sign_ins = sign_ins_per_second(base, args.seconds)
    raw = argon2_verifications_per_second(args.seconds)

    params = (f"argon2id t={DEFAULTS['ARGON2_TIME_COST']} m={DEFAULTS['ARGON2_MEMORY_KIB']} KiB "
              f"p={DEFAULTS['ARGON2_PARALLELISM']}")
    print(f"storage: {storage_label(env)}; hash: {params}; granian: 1 worker")
    print(f"password sign-ins per second (GET form + POST): {sign_ins:8.1f}")
    print(f"raw argon2 verifications per second:            {raw:8.1f}")
    print(f"ratio sign-in / raw verification:               {sign_ins / raw:8.2f}")


if __name__ == "__main__":
    main()
