"""``/authentifier/1.0/`` authentications per second under the production server (one
worker) next to raw argon2 verifications: software's call should cost little more than its
hash (goal: ratio ≥ 0.9, as for the form).

Run: ``.venv/bin/python bench/machine_auth.py`` (``--seconds N``; IDP_DATABASE_URL /
IDP_REDIS_URL are honoured to measure PostgreSQL + Redis).
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
import time

import requests

from bench.idp_server import demo_environment, free_port, idp_server, storage_label
from bench.login import argon2_verifications_per_second
from idp.config import DEFAULTS

BODY = (b'<?xml version="1.0" encoding="UTF-8"?><identifiants><siret>52814432200021</siret>'
        b"<nom>Benali</nom><prenom>Karim</prenom><motdepasse>Benali2026</motdepasse>"
        b"<service>DSN</service></identifiants>")


def authentications_per_second(base: str, seconds: float) -> float:
    """Software's calls one after the other, each answered with a jeton."""
    software = requests.Session()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        answer = software.post(f"{base}/authentifier/1.0/", data=BODY, timeout=10,
                               headers={"Content-Type": "application/xml"})
        if answer.status_code != 200:
            raise SystemExit(f"authentication failed: HTTP {answer.status_code} {answer.text}")
        done += 1
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    env = demo_environment()
    # The raw figure before and after, averaged: the machine's speed drifts over a run.
    before = argon2_verifications_per_second(args.seconds / 2)
    with idp_server(env, free_port()) as base:
        authentications_per_second(base, 1.0)  # warm up
        calls = authentications_per_second(base, args.seconds)
    raw = (before + argon2_verifications_per_second(args.seconds / 2)) / 2

    params = (f"argon2id t={DEFAULTS['ARGON2_TIME_COST']} m={DEFAULTS['ARGON2_MEMORY_KIB']} KiB "
              f"p={DEFAULTS['ARGON2_PARALLELISM']}")
    print(f"storage: {storage_label(env)}; hash: {params}; granian: 1 worker")
    print(f"/authentifier/1.0/ authentications per second: {calls:8.1f}")
    print(f"raw argon2 verifications per second:           {raw:8.1f}")
    print(f"ratio authentication / raw verification:       {calls / raw:8.2f}")


if __name__ == "__main__":
    main()
