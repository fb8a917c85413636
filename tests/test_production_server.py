"""The production server (granian) with several workers on the embedded default: sessions,
CSRF tokens and counters are shared by the processes (the store is a SQLite file), so nothing
breaks at random."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from idp.config import load_settings
from tests.conftest import TEST_ARGON2, free_port, login_form, sign_in
from tests.races import at_once

ROOT = Path(__file__).resolve().parent.parent


def start_server(settings: dict, workers: int) -> tuple[subprocess.Popen, str]:
    """Start ``granian wsgi:app`` as scripts/start does, on the test's database and store;
    return it and its URL."""
    port = free_port()
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("IDP_")}
    for name in ("DATABASE_URL", "REDIS_URL", "STORE_PREFIX", "STORE_PATH", "SECRET_KEY",
                 *TEST_ARGON2):
        if settings.get(name) is not None:
            environment[f"IDP_{name}"] = str(settings[name])
    environment["IDP_ISSUER"] = f"http://localhost:{port}"
    # Simultaneous sign-ins are this test's point, not a flood to shed (test_hashing_slots).
    environment["IDP_HASH_QUEUE_PER_SLOT"] = "8"
    server = subprocess.Popen(  # noqa: S603 (our own command line)
        [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", str(workers),
         "--blocking-threads", "2", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log", "wsgi:app"],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(f"{base}/connexion", timeout=2)
            return server, base
        except requests.ConnectionError:
            if server.poll() is not None:
                raise AssertionError(server.stdout.read().decode()) from None
            time.sleep(0.1)
    server.kill()
    raise AssertionError("granian did not answer")


def test_two_workers_share_sessions_forms_and_sign_in_waits(settings, account):
    server, base = start_server(settings, workers=2)
    try:
        for _ in range(20):  # each page and each post may reach either worker
            browser = requests.Session()
            response = sign_in(browser, f"{base}/connexion")
            assert response.status_code == 302, response.text
        failures = 0
        for _ in range(100):
            page = browser.get(f"{base}/compte", allow_redirects=False)
            failures += page.status_code != 200 or "Votre compte" not in page.text
        assert failures == 0
        assert simultaneous_sign_ins(base, 8) == [302] * 8  # both processes write at once
        for _ in range(3):
            sign_in(requests.Session(), f"{base}/connexion", password="Faux0000a")
        waiting = [sign_in(requests.Session(), f"{base}/connexion").status_code
                   for _ in range(4)]
        assert waiting == [429] * 4  # the wait is known to both workers
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    assert "Traceback" not in output, output


def simultaneous_sign_ins(base: str, count: int) -> list[int]:
    """Post ``count`` sign-ins at the same instant; return their status codes."""
    browsers = [requests.Session() for _ in range(count)]
    forms = [login_form(browser.get(f"{base}/connexion").text) for browser in browsers]
    answers = at_once([lambda b=browser, f=form: b.post(f"{base}/connexion", data=f,
                                                         allow_redirects=False)
                       for browser, form in zip(browsers, forms, strict=True)])
    return [answer.status_code for answer in answers]


def test_workers_starting_together_keep_one_secret_key(tmp_path):
    secrets_read = at_once([lambda: load_settings(str(tmp_path / "instance"))["SECRET_KEY"]] * 6)
    assert all(isinstance(secret, str) for secret in secrets_read)  # none raised
    assert len(set(secrets_read)) == 1
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o777 == 0o600
