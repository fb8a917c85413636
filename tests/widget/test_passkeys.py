"""The passkey as the widget's second step, over real HTTP with a software authenticator: the
frame's options for its form's token, the answer posted with that token, a wrong or replayed
answer, and the account with both a passkey and an authenticator app."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pyotp
import pytest
from sqlalchemy import select

from idp.accounts.models import Account
from idp.extensions import db
from tests.accounts.test_passkeys import enrol
from tests.conftest import free_port
from tests.oidc.conftest import verify
from tests.races import at_once
from tests.test_hostile_inputs import FOCUSED, HOSTILE
from tests.webauthn_device import SoftAuthenticator
from tests.widget.conftest import Widget, alert, json_block, transaction_token, web_message

MFA = "urn:netentreprises:acr:mfa"


@pytest.fixture
def settings(settings):
    settings["ISSUER"] = f"http://localhost:{free_port()}"  # an RP ID must be a host name
    return settings


@pytest.fixture
def device(issuer):
    """Sophie's passkey, enrolled in « Clés d'accès »."""
    device = SoftAuthenticator(issuer, "localhost")
    enrol(issuer, device)
    return device


def options_for(widget: Widget, page, token=None):
    """What frame.js asks for the page's form: the WebAuthn request (the answer)."""
    query = urlencode(widget.params)
    return widget.http.post(f"{widget.issuer}/widget/v1/cle?{query}",
                            json={"transaction": token or transaction_token(page.text)})


def answer(widget: Widget, page, device, token=None):
    """The ceremony as frame.js runs it: options, the authenticator, the form posted."""
    token = token or transaction_token(page.text)
    options = options_for(widget, page, token)
    assert options.status_code == 200, options.text
    return widget.post(page, transaction=token,
                       credential=json.dumps(device.get(options.json())))


def test_a_passkey_account_signs_in_inside_the_frame(issuer, widget_partner, http, device):
    widget = Widget(issuer, widget_partner, http, acr_values=MFA)
    step = widget.sign_in()
    assert step.status_code == 200 and "reponse-donnees" not in step.text
    page = step.text.replace("&#39;", "'")
    assert "<h1>Clé d'accès</h1>" in page and "Utiliser une clé d'accès" in page
    assert 'name="code"' not in page  # no code without an authenticator app
    frame = json_block(step.text, "widget-donnees")
    assert frame["focus"] == "passkey-use"
    # The message the frame hands the loader if its browser cannot run the ceremony.
    assert frame["passkey"]["fallback"]["type"] == "interaction_required"
    assert "clé d'accès" in frame["passkey"]["fallback"]["message"]

    response = web_message(answer(widget, step, device))["response"]
    tokens = widget.redeem(response["code"])
    _, claims = verify(tokens.json()["id_token"], issuer)
    assert claims["acr"] == MFA and claims["amr"] == ["pwd", "hwk", "mfa"]


def test_with_an_app_too_both_are_offered_and_asking_keeps_the_code_usable(
        issuer, widget_partner, http, device, demo):
    secret = pyotp.random_base32()
    with demo.app_context():  # the app added after the passkey
        sophie = db.session.scalar(select(Account).where(Account.first_name == "Sophie"))
        sophie.totp_secret = secret
        db.session.commit()
    widget = Widget(issuer, widget_partner, http)
    step = widget.sign_in()
    page = step.text.replace("&#39;", "'")
    assert "Utiliser une clé d'accès" in page and "Ou saisissez un code :" in page
    frame = json_block(step.text, "widget-donnees")
    assert frame["focus"] == "code" and frame["passkey"]["fallback"] is None
    # The options were asked for (the person then typed a code instead): the form's token
    # still holds for its post.
    assert options_for(widget, step).status_code == 200
    done = web_message(widget.post(step, code=pyotp.TOTP(secret).now()))["response"]
    _, claims = verify(widget.redeem(done["code"]).json()["id_token"], issuer)
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_a_wrong_answer_shows_the_step_again(issuer, widget_partner, http, device):
    impostor = SoftAuthenticator(issuer, "localhost")
    impostor.credential_id = device.credential_id  # the right id, another key
    widget = Widget(issuer, widget_partner, http)
    step = widget.sign_in()
    wrong = answer(widget, step, impostor)
    assert wrong.status_code == 401
    assert alert(wrong.text) == "La clé d'accès n'a pas été reconnue. Réessayez."
    assert json_block(wrong.text, "widget-donnees")["focus"] == "erreur"
    assert "reponse-donnees" not in wrong.text
    assert web_message(answer(widget, wrong, device))["response"]["code"]


def test_an_answer_counts_once_even_posted_twice_at_once(issuer, widget_partner, http,
                                                           device):
    widget = Widget(issuer, widget_partner, http)
    step = widget.sign_in()
    token = transaction_token(step.text)
    options = options_for(widget, step, token).json()
    credential = json.dumps(device.get(options))

    def post():
        return widget.post(step, transaction=token, credential=credential)

    results = at_once([post, post])
    issued = [r for r in results if "reponse-donnees" in r.text]
    assert len(issued) == 1, [r.status_code for r in results]
    other = next(r for r in results if r is not issued[0])
    assert other.status_code == 400 and alert(other.text).startswith(
        "Votre demande de connexion a expiré")


def test_the_options_need_a_live_token_of_that_request(issuer, widget_partner, http, device):
    widget = Widget(issuer, widget_partner, http)
    first = widget.open()
    # The password step's token is not a second step's.
    assert options_for(widget, first).status_code == 400
    step = widget.sign_in(page=first)
    assert options_for(widget, step, token="inconnu").status_code == 400
    other = Widget(issuer, widget_partner, http)  # another state, nonce, PKCE
    refused = options_for(other, step, transaction_token(step.text))
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("Votre demande de connexion a expiré")
    answer(widget, step, device)  # the form's post took the token
    assert options_for(widget, step).status_code == 400


def test_the_challenge_belongs_to_its_form(issuer, widget_partner, http, device):
    """An answer to the options of one form, posted with another form's token, fails."""
    widget = Widget(issuer, widget_partner, http)
    one, two = widget.sign_in(), widget.sign_in()
    options = options_for(widget, one).json()
    crossed = widget.post(two, credential=json.dumps(device.get(options)))
    assert crossed.status_code == 401


def test_hostile_answers_are_refused_without_a_5xx(issuer, widget_partner, http, device):
    widget = Widget(issuer, widget_partner, http)
    page = widget.sign_in()
    failures = []
    for value in sorted(set(HOSTILE + FOCUSED + ["{}", '{"id": []}', "{" * 5000,
                                                 '{"id": "' + "a" * 20000 + '"}'])):
        options_for(widget, page)
        page = widget.post(page, credential=value)
        if page.status_code >= 500 or "reponse-donnees" in page.text:
            failures.append(value[:20])
    for body in ("[1]", "null", "{", '{"transaction": []}', "[" * 5000):
        response = http.post(f"{issuer}/widget/v1/cle?{urlencode(widget.params)}", data=body,
                             headers={"Content-Type": "application/json"})
        if response.status_code != 400:
            failures.append(body[:20])
    assert not failures, failures
