"""Passkeys over real HTTP, answered by a software authenticator: enrolment in « Clés
d'accès », the second sign-in step, step-up for a partner, removal, and a challenge that
holds once even when its answer is sent twice at once."""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import select

from idp.accounts.login import ACR_MFA
from idp.accounts.models import Passkey
from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.conftest import PASSWORD, csrf_token, free_port, serve, sign_in
from tests.oidc.conftest import Flow, register, verify
from tests.races import at_once
from tests.webauthn_device import SoftAuthenticator

KEYS = "/compte/securite/cles"
META = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture
def settings(settings):
    settings["ISSUER"] = f"http://localhost:{free_port()}"  # an RP ID must be a host name
    return settings


@pytest.fixture
def live(demo):
    with serve(demo) as base:
        yield base


@pytest.fixture
def device(live):
    return SoftAuthenticator(live, "localhost")


def json_post(browser, url, page_url, body):
    """POST ``body`` as JSON with the CSRF token of ``page_url``, as passkeys.js does."""
    page = browser.get(page_url).text
    found = META.search(page)
    token = found.group(1) if found else csrf_token(page)
    return browser.post(url, json=body, headers={"X-CSRFToken": token})


def signed_in(live) -> requests.Session:
    browser = requests.Session()
    assert sign_in(browser, f"{live}/connexion").status_code == 302
    return browser


def enrol(live, device, browser=None, name="Téléphone"):
    browser = browser or signed_in(live)
    options = json_post(browser, f"{live}{KEYS}/options", live + KEYS, {"password": PASSWORD})
    assert options.status_code == 200, options.text
    answer = json_post(browser, live + KEYS, live + KEYS,
                       {"name": name, "credential": device.create(options.json())})
    assert answer.status_code == 201, answer.text
    return browser


def second_step_with(live, device, browser=None):
    """Sign in with the password, then answer the passkey step; return the last answer."""
    browser = browser or requests.Session()
    first = sign_in(browser, f"{live}/connexion")
    assert first.headers["Location"] == "/connexion/code"
    options = json_post(browser, f"{live}/connexion/cle/options", f"{live}/connexion/code", {})
    assert options.status_code == 200, options.text
    return browser, json_post(browser, f"{live}/connexion/cle", f"{live}/connexion/code",
                              {"credential": device.get(options.json())})


def test_enrolled_then_asked_at_sign_in(live, device, demo):
    owner = enrol(live, device)
    assert "Téléphone" in owner.get(live + KEYS).text
    browser = requests.Session()
    sign_in(browser, f"{live}/connexion")
    page = browser.get(f"{live}/connexion/code").text
    assert "Utiliser une clé d'accès" in page.replace("&#39;", "'")
    assert "one-time-code" not in page  # no code form without an authenticator app
    browser, answer = second_step_with(live, device, browser)
    assert answer.status_code == 200 and answer.json()["redirect"] == "/compte"
    assert "Lefèvre" in browser.get(f"{live}/compte").text
    with demo.app_context():
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "login.second_factor").order_by(AuditEvent.id.desc())).first()
        assert (event.outcome, event.details["method"]) == ("success", "passkey")
        assert db.session.scalars(select(Passkey)).one().sign_count == 1


def test_a_wrong_answer_is_refused_and_throttled(live, device, demo):
    enrol(live, device)
    impostor = SoftAuthenticator(live, "localhost")
    impostor.credential_id = device.credential_id  # the right id, another key
    browser = requests.Session()
    sign_in(browser, f"{live}/connexion")
    statuses = []
    for _ in range(demo.config["SECOND_FACTOR_FREE_ATTEMPTS"] + 1):
        options = json_post(browser, f"{live}/connexion/cle/options",
                            f"{live}/connexion/code", {})
        if options.status_code != 200:
            statuses.append(options.status_code)
            break
        statuses.append(json_post(browser, f"{live}/connexion/cle", f"{live}/connexion/code",
                                  {"credential": impostor.get(options.json())}).status_code)
    assert statuses[0] == 401 and statuses[-1] == 429
    assert browser.get(f"{live}/compte", allow_redirects=False).status_code == 302


def test_an_answer_counts_once_even_sent_twice_at_once(live, device):
    enrol(live, device)
    browser = requests.Session()
    sign_in(browser, f"{live}/connexion")
    options = json_post(browser, f"{live}/connexion/cle/options", f"{live}/connexion/code", {})
    answer = {"credential": device.get(options.json())}
    token = META.search(browser.get(f"{live}/connexion/code").text).group(1)
    cookies = browser.cookies.get_dict()

    def send():
        return requests.post(f"{live}/connexion/cle", json=answer, cookies=cookies,
                             headers={"X-CSRFToken": token}).status_code

    results = at_once([send, send])
    assert sorted(results)[0] == 200 and results.count(200) == 1, results


def test_a_stale_challenge_is_refused(live, device):
    enrol(live, device)
    browser = requests.Session()
    sign_in(browser, f"{live}/connexion")
    old = json_post(browser, f"{live}/connexion/cle/options", f"{live}/connexion/code", {})
    json_post(browser, f"{live}/connexion/cle/options", f"{live}/connexion/code", {})
    late = json_post(browser, f"{live}/connexion/cle", f"{live}/connexion/code",
                     {"credential": device.get(old.json())})
    assert late.status_code == 401  # only the newest challenge of the step counts


def test_enrolment_errors(live, device, demo):
    browser = signed_in(live)
    options_url, page = f"{live}{KEYS}/options", live + KEYS
    assert json_post(browser, options_url, page, {}).status_code == 400
    wrong = json_post(browser, options_url, page, {"password": "Mauvais2026"})
    assert wrong.status_code == 400 and "incorrect" in wrong.json()["error"]
    options = json_post(browser, options_url, page, {"password": PASSWORD}).json()
    created = device.create(options)
    assert json_post(browser, page, page, {"name": "", "credential": created}).status_code == 400
    assert json_post(browser, page, page, {"name": "x", "credential": "no"}).status_code == 400
    forged = {**created, "response": {**created["response"], "clientDataJSON": "e30"}}
    assert json_post(browser, page, page, {"name": "x", "credential": forged}).status_code == 400
    # That answer used the challenge up: the genuine one cannot follow it.
    assert json_post(browser, page, page, {"name": "x", "credential": created}).status_code \
        == 400
    unsigned = requests.post(page, json={"name": "x", "credential": created},
                             cookies=browser.cookies.get_dict())
    assert unsigned.status_code == 400  # no CSRF token
    with demo.app_context():
        assert db.session.scalars(select(Passkey)).all() == []


def test_removed_it_is_no_longer_asked(live, device):
    owner = enrol(live, device)
    page = owner.get(live + KEYS).text
    action = re.search(r'action="(/compte/securite/cles/\d+/supprimer)"', page).group(1)
    answer = owner.post(live + action, data={"csrf_token": csrf_token(page)})
    assert "est supprimée" in answer.text
    assert sign_in(requests.Session(), f"{live}/connexion").headers["Location"] == "/compte"


def test_without_a_pending_step_there_is_nothing_to_answer(live, device):
    browser = requests.Session()
    page = f"{live}/connexion"
    assert json_post(browser, f"{live}/connexion/cle/options", page, {}).status_code == 400
    assert json_post(browser, f"{live}/connexion/cle", page, {"credential": {}}).status_code \
        == 400


def test_a_partner_demanding_two_factors_gets_them_from_a_passkey(live, device, demo):
    partner = register(demo, "--name", "Portail", "--redirect-uri",
                       "https://partenaire.example/retour", "--service", "DSN")
    browser = enrol(live, device)  # signed in with the password only
    flow = Flow(live, partner, browser, acr_values=ACR_MFA)
    step = browser.get(flow.url, allow_redirects=False)
    assert step.headers["Location"] == "/connexion/code"
    options = json_post(browser, f"{live}/connexion/cle/options", f"{live}/connexion/code", {})
    answer = json_post(browser, f"{live}/connexion/cle", f"{live}/connexion/code",
                       {"credential": device.get(options.json())})
    assert answer.status_code == 200
    callback = flow.authorize()
    claims = verify(flow.redeem(callback)["id_token"], live)[1]
    assert claims["acr"] == ACR_MFA and claims["amr"] == ["pwd", "hwk", "mfa"]
