"""Token endpoint throughput for one gunicorn worker pinned to one core.

Prints client-credentials grants per second for ES256 and RS256 JWT access tokens, and
refresh grants per second (each one rotates the refresh token, so it writes to the database).
Reference: node-oidc-provider on one core, about 560 client-credentials grants/s with RS256
JWT access tokens and 2,600 with ES256.

Run: ``.venv/bin/python bench/token.py [--seconds N] [--threads N]``.
IDP_DATABASE_URL / IDP_REDIS_URL are honoured to measure PostgreSQL + Redis.
"""

from __future__ import annotations

import os
import sys

# This file is named like the standard library's ``token`` module: keep its folder off the
# import path, or ``import tokenize`` (which logging needs) would load this script instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse
import base64
import hashlib
import http.client
import json
import re
import secrets
import shutil
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from bench.idp_server import demo_environment, free_port, gunicorn, storage_label

PARTNER = ("demo-portail-dsn", "demo-secret-portail-dsn-2026", "http://localhost:5001/callback")
PERSON = {"siret": "52814432200013", "last_name": "Lefèvre", "first_name": "Sophie",
          "password": "Camions2026"}


def hammer(port: int, seconds: float, threads: int, make_body) -> float:
    """POST to the token endpoint from ``threads`` keep-alive connections; return req/s."""
    auth = base64.b64encode(f"{PARTNER[0]}:{PARTNER[1]}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}",
               "Content-Type": "application/x-www-form-urlencoded"}
    counts = [0] * threads
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        state: dict = {}
        while time.perf_counter() < deadline:
            connection.request("POST", "/oidc/token", body=make_body(index, state),
                               headers=headers)
            response = connection.getresponse()
            payload = response.read()
            if response.status != 200:
                errors.append(payload.decode()[:200])
                return
            state["last"] = json.loads(payload)
            counts[index] += 1

    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise SystemExit(f"token request failed: {errors[0]}")
    return sum(counts) / (time.perf_counter() - start)


def client_credentials_body(index: int, state: dict) -> str:
    """The same request every time: a partner back end asking for its own token."""
    return "grant_type=client_credentials"


def refresh_token(base: str) -> str:
    """One real sign-in and code flow, to start a refresh-token chain."""
    browser = requests.Session()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()
    query = urlencode({"response_type": "code", "client_id": PARTNER[0],
                       "redirect_uri": PARTNER[2], "scope": "openid profile siret",
                       "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    login = browser.get(f"{base}/oidc/authorize?{query}", allow_redirects=False)
    page = browser.get(base + login.headers["Location"])
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    target = re.search(r'name="next" type="hidden" value="([^"]*)"', page.text).group(1)
    back = browser.post(f"{base}/connexion", data={**PERSON, "csrf_token": token,
                                                   "next": target.replace("&amp;", "&")},
                        allow_redirects=False)
    callback = browser.get(base + back.headers["Location"], allow_redirects=False)
    code = parse_qs(urlsplit(callback.headers["Location"]).query)["code"][0]
    tokens = requests.post(f"{base}/oidc/token", auth=PARTNER[:2], timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": PARTNER[2],
        "code_verifier": verifier}).json()
    return tokens["refresh_token"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    env = demo_environment()
    pin = 0 if shutil.which("taskset") else None  # one core, like the reference
    results = []
    for alg in ("ES256", "RS256"):
        port = free_port()
        env["IDP_ISSUER"] = f"http://127.0.0.1:{port}"
        env["IDP_OIDC_ACCESS_TOKEN_ALG"] = alg
        # gthread keeps connections alive, as node-oidc-provider's server does.
        with gunicorn(env, port, "--worker-class", "gthread", "--threads", "4",
                      pin_to_core=pin) as base:
            hammer(port, 1.0, args.threads, client_credentials_body)  # warm up
            cc = hammer(port, args.seconds, args.threads, client_credentials_body)
            chains = [refresh_token(base) for _ in range(args.threads)]

            def refresh_body(index, state, chains=chains):
                token = state["last"]["refresh_token"] if "last" in state else chains[index]
                return urlencode({"grant_type": "refresh_token", "refresh_token": token})

            refresh = hammer(port, args.seconds, args.threads, refresh_body)
        results.append((alg, cc, refresh))

    print(f"storage: {storage_label(env)}; gunicorn: 1 gthread worker"
          f"{' pinned to core 0' if pin is not None else ''}; "
          f"{args.threads} client connections")
    for alg, cc, refresh in results:
        print(f"{alg} JWT access tokens: client_credentials grants/s {cc:8.1f}   "
              f"refresh grants/s {refresh:8.1f}")
    print("reference (node-oidc-provider, one core): client_credentials 560/s RS256, "
          "2,600/s ES256")


if __name__ == "__main__":
    main()
