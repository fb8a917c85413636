"""prompt=none, prompt=login, max_age and login_hint."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from tests.oidc.conftest import REDIRECT_URI, Flow, query, verify


def test_prompt_none_without_session_answers_login_required(issuer, partner, browser):
    flow = Flow(issuer, partner, browser, prompt="none")
    response = browser.get(flow.url, allow_redirects=False)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    params = query(location)
    assert params["error"] == "login_required"
    assert params["state"] == flow.state
    assert params["iss"] == issuer


def test_prompt_none_with_a_session_returns_a_code_at_once(issuer, partner, browser):
    Flow(issuer, partner, browser).authorize()  # signs in
    silent = Flow(issuer, partner, browser, prompt="none")
    response = browser.get(silent.url, allow_redirects=False)
    assert response.status_code == 302
    assert "code" in query(response.headers["Location"])
    assert silent.redeem(response.headers["Location"])["id_token"]


def test_prompt_login_forces_a_new_sign_in(issuer, partner, browser, clock):
    first = Flow(issuer, partner, browser)
    first_auth = verify(first.redeem(first.authorize())["id_token"], issuer)[1]["auth_time"]
    forced = Flow(issuer, partner, browser, prompt="login")
    response = browser.get(forced.url, allow_redirects=False)
    assert urlsplit(response.headers["Location"]).path == "/connexion"
    clock.advance(1.1)
    token = forced.redeem(forced.authorize())
    assert verify(token["id_token"], issuer)[1]["auth_time"] > first_auth


def test_max_age_forces_a_new_sign_in_once_exceeded(issuer, partner, browser, clock):
    Flow(issuer, partner, browser).authorize()
    recent = Flow(issuer, partner, browser, max_age="3600")
    assert "code" in query(browser.get(recent.url, allow_redirects=False).headers["Location"])
    clock.advance(1.1)
    stale = Flow(issuer, partner, browser, max_age="0")
    response = browser.get(stale.url, allow_redirects=False)
    assert urlsplit(response.headers["Location"]).path == "/connexion"
    token = stale.redeem(stale.authorize())
    assert time.time() - verify(token["id_token"], issuer)[1]["auth_time"] < 5


def test_prompt_none_with_an_old_session_and_max_age_answers_login_required(
        issuer, partner, browser, clock):
    Flow(issuer, partner, browser).authorize()
    clock.advance(1.1)
    flow = Flow(issuer, partner, browser, prompt="none", max_age="0")
    params = query(browser.get(flow.url, allow_redirects=False).headers["Location"])
    assert params["error"] == "login_required"


def test_login_hint_prefills_the_siret(issuer, partner, browser):
    flow = Flow(issuer, partner, browser, login_hint="52814432200013")
    location = browser.get(flow.url, allow_redirects=False).headers["Location"]
    assert parse_qs(urlsplit(location).query)["siret"] == ["52814432200013"]
    page = browser.get(issuer + location).text
    assert 'id="siret"' in page and 'value="52814432200013"' in page
