"""The framed sign-in end to end over HTTP: the form, the web_message answer, the code the
partner's back end redeems with its PKCE verifier, the ID token, the journal; no cookie."""

from __future__ import annotations

import requests
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.oidc.conftest import SOPHIE, verify
from tests.widget.conftest import ORIGIN, OTHER_ORIGIN, Widget, alert, json_block, web_message


def test_the_framed_form_then_a_code_by_web_message(issuer, widget_partner, http):
    widget = Widget(issuer, widget_partner, http)
    page = widget.open()
    assert page.status_code == 200
    assert "Vous connecter" in page.text and 'for="siret"' in page.text
    frame = json_block(page.text, "widget-donnees")
    assert frame == {"origin": ORIGIN, "state": widget.state, "message": None, "focus": None,
                     "passkey": None}

    answer = widget.sign_in(page=page)
    posted = web_message(answer)
    assert posted["origin"] == ORIGIN
    response = posted["response"]
    assert set(response) == {"code", "state", "iss"}
    assert response["state"] == widget.state and response["iss"] == issuer

    tokens = widget.redeem(response["code"])
    assert tokens.status_code == 200, tokens.text
    _, claims = verify(tokens.json()["id_token"], issuer)
    assert claims["aud"] in (widget_partner.client_id, [widget_partner.client_id])
    assert claims["nonce"] == widget.nonce
    assert claims["acr"] == "urn:netentreprises:acr:pwd" and claims["amr"] == ["pwd"]
    assert claims["siret"] == SOPHIE["siret"]
    assert "sid" not in claims  # no IdP session: nothing to log out of
    _, access = verify(tokens.json()["access_token"], issuer, typ="at+jwt")
    assert access["client_id"] == widget_partner.client_id


def test_the_code_needs_the_verifier_and_works_once(issuer, widget_partner, http):
    widget = Widget(issuer, widget_partner, http)
    code = web_message(widget.sign_in())["response"]["code"]
    wrong = widget.redeem(code, verifier="x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # Taken when presented, verifier right or wrong: a code is good for one try.
    again = widget.redeem(code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_the_second_widget_origin_gets_its_own_answer(issuer, widget_partner, http):
    widget = Widget(issuer, widget_partner, http, origin=OTHER_ORIGIN)
    posted = web_message(widget.sign_in())
    assert posted["origin"] == OTHER_ORIGIN
    assert widget.redeem(posted["response"]["code"]).status_code == 200


def test_no_cookie_and_no_idp_session(issuer, widget_partner, http):
    widget = Widget(issuer, widget_partner, http)
    page = widget.open()
    answer = widget.sign_in(page=page)
    for response in (page, answer):
        assert "Set-Cookie" not in response.headers
    assert not http.cookies
    # The same browser is not signed in at the IdP: the widget opened no session.
    account = http.get(f"{issuer}/compte", allow_redirects=False)
    assert account.status_code == 302 and "/connexion" in account.headers["Location"]


def test_widget_sign_ins_are_journaled_without_secrets(issuer, widget_partner, http, demo):
    widget = Widget(issuer, widget_partner, http)
    web_message(widget.sign_in())
    with demo.app_context():
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        actions = [(e.action, e.outcome) for e in events if e.account_id is not None]
        assert ("login", "success") in actions
        assert ("widget.sign_in", "success") in actions
        assert ("oidc.authorize", "success") in actions
        sign_in = next(e for e in events if e.action == "widget.sign_in")
        assert sign_in.details == {"client_id": widget_partner.client_id, "amr": ["pwd"]}
        everything = repr([(e.action, e.details, e.user_agent) for e in events])
    assert SOPHIE["password"] not in everything and widget.verifier not in everything


def test_wrong_password_shows_the_form_again_with_a_new_token(issuer, widget_partner, http):
    widget = Widget(issuer, widget_partner, http)
    page = widget.open()
    wrong = widget.sign_in(page=page, person={**SOPHIE, "password": "Mauvais2026"})
    assert wrong.status_code == 401
    assert alert(wrong.text).startswith("Les informations saisies ne permettent pas")
    frame = json_block(wrong.text, "widget-donnees")
    assert frame["focus"] == "erreur"  # the error is read first
    assert 'value="Mauvais2026"' not in wrong.text
    assert 'value="Lefèvre"' in wrong.text  # what was typed stays, but the password
    assert web_message(widget.sign_in(page=wrong))["response"]["code"]


def test_missing_fields_are_said_and_focused(issuer, widget_partner, http):
    widget = Widget(issuer, widget_partner, http)
    answer = widget.post(widget.open(), siret="", last_name="Lefèvre", first_name="Sophie",
                         password="x")
    assert answer.status_code == 400
    assert "Ce champ est obligatoire" in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert json_block(answer.text, "widget-donnees")["focus"] == "siret"


def test_login_hint_fills_the_siret(issuer, widget_partner, http):
    page = Widget(issuer, widget_partner, http, login_hint="52814432200013").open()
    assert 'value="52814432200013"' in page.text


def test_english(issuer, widget_partner, http):
    page = Widget(issuer, widget_partner, http, lang="en").open()
    assert '<html lang="en">' in page.text


def test_a_locked_out_person_waits_in_the_widget_too(issuer, widget_partner, http, demo):
    widget = Widget(issuer, widget_partner, http)
    page = widget.open()
    for _ in range(demo.config["LOGIN_FREE_ATTEMPTS"] + 1):
        page = widget.sign_in(page=page, person={**SOPHIE, "password": "Mauvais2026"})
    assert page.status_code in (401, 429)
    assert "Veuillez patienter" in alert(page.text)
    refused = widget.sign_in(page=page)  # even the right password waits
    assert refused.status_code == 429


def test_requests_sessions_are_not_needed(issuer, widget_partner):
    # Each request from a fresh client, as a frame whose cookies are all blocked would.
    widget = Widget(issuer, widget_partner, requests)
    assert web_message(widget.sign_in())["response"]["code"]
