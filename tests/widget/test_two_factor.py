"""The second step inside the widget, and ``interaction_required`` when the partner demands
two factors from an account that has none (enrolling needs the account's pages, top-level)."""

from __future__ import annotations

import pyotp
import pytest
import requests

from tests.accounts.test_two_factor import enrol, next_code
from tests.conftest import csrf_token, sign_in
from tests.oidc.conftest import verify
from tests.widget.conftest import (
    ORIGIN,
    Widget,
    alert,
    json_block,
    policy,
    transaction_token,
    web_message,
)

MFA = "urn:netentreprises:acr:mfa"


@pytest.fixture
def enrolled(demo, mailbox):
    """Sophie has TOTP and recovery codes."""
    client = demo.test_client()
    assert sign_in(client).status_code == 302
    return enrol(client)


def test_the_code_step_happens_in_the_frame(issuer, widget_partner, http, enrolled):
    secret, _ = enrolled
    widget = Widget(issuer, widget_partner, http)
    step = widget.sign_in()
    assert step.status_code == 200
    assert "Code de vérification" in step.text and "reponse-donnees" not in step.text
    frame = json_block(step.text, "widget-donnees")
    assert frame["focus"] == "code"  # the new step's field, for keyboards and readers

    wrong = widget.post(step, code="000000")
    assert wrong.status_code == 401 and alert(wrong.text) == "Code incorrect ou déjà utilisé."
    assert json_block(wrong.text, "widget-donnees")["focus"] == "erreur"

    answer = widget.post(wrong, code=next_code(secret))
    response = web_message(answer)["response"]
    tokens = widget.redeem(response["code"])
    _, claims = verify(tokens.json()["id_token"], issuer)
    assert claims["acr"] == MFA and set(claims["amr"]) == {"pwd", "otp", "mfa"}


def test_a_recovery_code_works_in_the_frame(issuer, widget_partner, http, enrolled):
    _, codes = enrolled
    widget = Widget(issuer, widget_partner, http)
    assert web_message(widget.post(widget.sign_in(), code=codes[0]))["response"]["code"]


def test_the_code_step_token_is_single_use(issuer, widget_partner, http, enrolled):
    secret, _ = enrolled
    widget = Widget(issuer, widget_partner, http)
    step = widget.sign_in()
    token = transaction_token(step.text)
    widget.post(step, code="000000")
    replayed = widget.post(step, transaction=token, code=next_code(secret))
    assert replayed.status_code == 400
    assert alert(replayed.text).startswith("Votre demande de connexion a expiré")
    assert 'name="password"' in replayed.text  # back to the first step


def test_the_code_step_lasts_five_minutes(issuer, widget_partner, http, enrolled, clock):
    secret, _ = enrolled
    widget = Widget(issuer, widget_partner, http)
    step = widget.sign_in()
    clock.advance(4 * 60)
    retry = widget.post(step, code="000000")  # a new token, the same deadline
    clock.advance(61)
    late = widget.post(retry, code=pyotp.TOTP(secret).now())
    assert late.status_code == 400 and 'name="password"' in late.text


def test_the_partner_demands_two_factors_from_an_enrolled_account(issuer, widget_partner,
                                                                   http, enrolled):
    secret, _ = enrolled
    widget = Widget(issuer, widget_partner, http, acr_values=MFA)
    response = web_message(widget.post(widget.sign_in(), code=next_code(secret)))["response"]
    _, claims = verify(widget.redeem(response["code"]).json()["id_token"], issuer)
    assert claims["acr"] == MFA


def test_two_factors_demanded_from_an_account_without_them(issuer, widget_partner, http):
    widget = Widget(issuer, widget_partner, http, acr_values=MFA)
    page = widget.sign_in()
    assert page.status_code == 200
    assert "reponse-donnees" not in page.text and 'name="transaction"' not in page.text
    message = json_block(page.text, "widget-donnees")["message"]
    assert message["type"] == "interaction_required"
    assert "double authentification" in message["message"]
    assert message["action"] == "Continuer dans une nouvelle fenêtre"
    assert "double authentification doit être activée" in page.text


def test_the_code_page_of_a_full_page_fallback_may_reach_the_widget_origin(
        issuer, widget_partner, enrolled):
    secret, _ = enrolled
    browser = requests.Session()
    widget = Widget(issuer, widget_partner, browser, response_mode="query")
    to_login = browser.get(widget.url.replace("/widget/v1/connexion", "/oidc/authorize"),
                           allow_redirects=False)
    to_code = sign_in(browser, issuer + to_login.headers["Location"])
    assert to_code.headers["Location"] == "/connexion/code"
    page = browser.get(f"{issuer}/connexion/code")
    assert policy(page)["form-action"] == f"'self' {ORIGIN}"
    done = browser.post(f"{issuer}/connexion/code", allow_redirects=False, data={
        "csrf_token": csrf_token(page.text), "code": next_code(secret)})
    back = browser.get(issuer + done.headers["Location"], allow_redirects=False)
    assert back.headers["Location"].startswith(f"{ORIGIN}?code=")

