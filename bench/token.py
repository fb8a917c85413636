"""Token endpoint throughput, ours next to node-oidc-provider's, in the same run.

Both servers run one process pinned to the same core (core 0), one after the other, with the
same signing algorithm; wrk drives them from the other core over keep-alive connections.
Printed for ES256 and RS256 JWT access tokens: client-credentials grants per second and
refresh grants per second (each refresh rotates the refresh token, stored, and signs one
access token, on both sides: no ID token on refresh, which OIDC Core §12.2 leaves optional),
and ours/peer.

Run: ``.venv/bin/python bench/token.py [--seconds N] [--connections N]``. Needs wrk and
Node.js (``apt-get install wrk nodejs npm``); the peer is installed from bench/peer's lock
file on first run. IDP_DATABASE_URL / IDP_REDIS_URL are honoured to measure PostgreSQL + Redis.
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
import json
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from bench.idp_server import demo_environment, free_port, idp_server, storage_label, wait_until_up
from bench.load import PARTNER, PEOPLE, Person, Stats

PEER = Path(_HERE) / "peer"
SERVER_CORE, LOAD_CORES = "0", "1"

# wrk runs one Lua state per thread; with one connection per thread, each thread carries
# its own refresh-token chain: the token of each answer is sent in the next request.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Authorization"] = "Basic %(basic)s"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local chains = {%(chains)s}
local next_chain = 0
local failures = 0
function setup(thread)
  next_chain = next_chain + 1
  thread:set("token", chains[next_chain])
end
function request()
  if token == nil then return wrk.format(nil, nil, nil, "grant_type=client_credentials") end
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end
function response(status, headers, body)
  if status ~= 200 then failures = failures + 1; print("HTTP " .. status .. " " .. body) end
  if token ~= nil then token = string.match(body, '"refresh_token":%%s*"([^"]+)"') end
end
"""


def wrk(url: str, seconds: float, connections: int, chains: list[str] | None) -> float:
    """Requests per second wrk sustains on ``url`` (refresh grants along ``chains``, else
    client credentials); stop on any failed answer."""
    basic = base64.b64encode(f"{PARTNER[0]}:{PARTNER[1]}".encode()).decode()
    listed = ", ".join(f'"{token}"' for token in chains) if chains else ""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"basic": basic, "chains": listed})
    command = ["wrk", "-t", str(connections), "-c", str(connections),
               "-d", f"{max(1, round(seconds))}s", "-s", script.name, url]
    if shutil.which("taskset"):
        command = ["taskset", "-c", LOAD_CORES, *command]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    if "HTTP " in output.split("Running")[-1].split("Requests/sec")[0].replace("HTTP/", ""):
        raise SystemExit(f"a token request failed:\n{output[-2000:]}")
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk saw errors:\n{output[-2000:]}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def our_refresh_token(base: str) -> str:
    """One real sign-in and code flow on our IdP, to start a refresh-token chain."""
    person = Person(base, Stats(), PEOPLE[0])
    person.sign_in_to_partner()
    return person.tokens["refresh_token"]


@contextmanager
def peer_server(alg: str, chains: int):
    """node-oidc-provider on a free port, pinned to the server core; yield its token URL and
    its refresh-token chains."""
    if not (PEER / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=PEER,
                       check=True)
    port = free_port()
    command = ["node", "server.mjs"]
    if shutil.which("taskset"):
        command = ["taskset", "-c", SERVER_CORE, *command]
    env = dict(os.environ, PORT=str(port), ALG=alg, CHAINS=str(chains), NODE_ENV="production")
    server = subprocess.Popen(command, cwd=PEER, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/.well-known/openid-configuration", server,
                      "node-oidc-provider")
        tokens = json.loads(server.stdout.readline())["refresh_tokens"]
        yield f"http://127.0.0.1:{port}/token", tokens
    finally:
        server.terminate()
        server.wait(timeout=10)


def measure(token_url: str, chains: list[str], seconds: float, connections: int):
    """Client-credentials and refresh grants per second on one server."""
    wrk(token_url, 1.0, connections, None)  # warm up
    cc = wrk(token_url, seconds, connections, None)
    refresh = wrk(token_url, seconds, connections, chains)
    return cc, refresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    for tool in ("wrk", "node", "npm"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing (Debian: apt-get install wrk nodejs npm)")

    env = demo_environment()
    pin = int(SERVER_CORE) if shutil.which("taskset") else None
    rows = []
    for alg in ("ES256", "RS256"):
        port = free_port()
        env["IDP_ISSUER"] = f"http://127.0.0.1:{port}"
        env["IDP_OIDC_ACCESS_TOKEN_ALG"] = alg
        with idp_server(env, port, pin_to_core=pin) as base:
            chains = [our_refresh_token(base) for _ in range(args.connections)]
            ours = measure(f"{base}/oidc/token", chains, args.seconds, args.connections)
        with peer_server(alg, args.connections) as (token_url, chains):
            peer = measure(token_url, chains, args.seconds, args.connections)
        rows.append((alg, ours, peer))

    print(f"storage: {storage_label(env)}; each server: one process on core {SERVER_CORE} "
          f"(ours: granian, 1 worker; peer: node-oidc-provider {peer_version()}, "
          f"in-memory adapter); wrk: {args.connections} connections on core {LOAD_CORES}")
    print(f"{'grant':<30}{'ours/s':>10}{'peer/s':>10}{'ours/peer':>11}")
    for alg, ours, peer in rows:
        for name, mine, theirs in (("client_credentials", ours[0], peer[0]),
                                   ("refresh_token", ours[1], peer[1])):
            print(f"{name + ' ' + alg:<30}{mine:>10.0f}{theirs:>10.0f}{mine / theirs:>11.2f}")


def peer_version() -> str:
    """The node-oidc-provider version bench/peer pins."""
    return json.loads((PEER / "package.json").read_text())["dependencies"]["oidc-provider"]


if __name__ == "__main__":
    main()
