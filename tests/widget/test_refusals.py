"""Who may frame what: the framed pages send frame-ancestors with exactly the partner's
registered origins and no X-Frame-Options; every other page (refusals included) keeps
frame-ancestors 'none' and DENY. Refusals before the origin is trusted are French pages;
after, the RFC errors go back by web_message."""

from __future__ import annotations

import pytest

from tests.oidc.conftest import register
from tests.widget.conftest import (
    CALLBACK,
    ORIGIN,
    OTHER_ORIGIN,
    Widget,
    policy,
    web_message,
)


def assert_not_framable(response):
    assert policy(response)["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_framed_pages_name_the_registered_origins_and_no_x_frame_options(
        issuer, widget_partner, http):
    page = Widget(issuer, widget_partner, http).open()
    rules = policy(page)
    assert rules["frame-ancestors"] == f"{ORIGIN} {OTHER_ORIGIN}"
    assert "X-Frame-Options" not in page.headers
    assert rules["script-src"] == "'self'" and rules["form-action"] == "'self'"
    assert rules["base-uri"] == "'none'" and rules["default-src"] == "'self'"
    assert page.headers["Cache-Control"] == "no-store"


def test_the_answer_page_may_be_framed_by_its_origin_alone(issuer, widget_partner, http):
    widget = Widget(issuer, widget_partner, http, origin=OTHER_ORIGIN)
    answer = widget.sign_in()
    rules = policy(answer)
    assert rules["frame-ancestors"] == OTHER_ORIGIN
    assert "X-Frame-Options" not in answer.headers
    assert rules["default-src"] == "'none'" and rules["form-action"] == "'none'"
    assert rules["script-src"].startswith("'nonce-")
    assert f'<script nonce="{rules["script-src"][7:-1]}">' in answer.text
    assert "postMessage" in answer.text and '"*"' not in answer.text


@pytest.mark.parametrize("path", ["/connexion", "/compte", "/oidc/authorize",
                                  "/.well-known/openid-configuration", "/mot-de-passe-oublie",
                                  "/widget/v1/widget.js", "/inscription"])
def test_every_other_page_keeps_frame_ancestors_none(issuer, http, path):
    assert_not_framable(http.get(issuer + path, allow_redirects=False))


def refusal(issuer, http, **params):
    response = http.get(f"{issuer}/widget/v1/connexion", params=params, allow_redirects=False)
    assert response.status_code == 400, response.text[:500]
    assert "Connexion impossible" in response.text
    assert "reponse-donnees" not in response.text and "transaction" not in response.text
    assert_not_framable(response)
    return response


def widget_params(partner, **changes):
    params = {"response_type": "code", "client_id": partner.client_id, "redirect_uri": ORIGIN,
              "scope": "openid", "state": "s1", "nonce": "n1",
              "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
              "code_challenge_method": "S256", "response_mode": "web_message"}
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def test_unknown_partner(issuer, http, widget_partner):
    response = refusal(issuer, http, **widget_params(widget_partner, client_id="inconnu"))
    assert "site partenaire inconnu" in response.text
    refusal(issuer, http, **widget_params(widget_partner, client_id=None))


@pytest.mark.parametrize("redirect_uri", [
    CALLBACK,  # registered, but a callback, not a widget origin
    "https://evil.example",  # nobody's
    f"{ORIGIN}/",  # not the exact origin
    "http://compte-atmp.example",
    None,
])
def test_a_redirect_uri_that_is_not_a_widget_origin(issuer, http, widget_partner,
                                                     redirect_uri):
    response = refusal(issuer, http, **widget_params(widget_partner, redirect_uri=redirect_uri))
    assert "pas enregistrée pour afficher la connexion" in response.text


def test_a_widget_origin_that_is_not_a_redirect_uri(issuer, http, demo):
    partner = register(demo, "--name", "Oubli", "--redirect-uri", CALLBACK,
                       "--widget-origin", ORIGIN)
    refusal(issuer, http, **widget_params(partner))


def test_a_partner_without_widget_origins(issuer, http, demo):
    # demo-portail-dsn has registered no page that may show the widget.
    refusal(issuer, http, **widget_params(type("P", (), {"client_id": "demo-portail-dsn"}),
                                          redirect_uri="http://localhost:5001/callback"))


@pytest.mark.parametrize("mode", [None, "query", "form_post", "fragment"])
def test_the_widget_answers_by_web_message_only(issuer, http, widget_partner, mode):
    refusal(issuer, http, **widget_params(widget_partner, response_mode=mode))


@pytest.mark.parametrize("changes", [{"state": "é"}, {"nonce": "a\x00b"},
                                     {"scope": "openid\nprofile"}, {"state": "x" * 3000},
                                     {"theme": "\x07"}])
def test_malformed_parameters(issuer, http, widget_partner, changes):
    refusal(issuer, http, **widget_params(widget_partner, **changes))


@pytest.mark.parametrize(("changes", "error"), [
    ({"scope": "openid email admin"}, "invalid_scope"),
    ({"prompt": "none"}, "login_required"),
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"max_age": "soon"}, "invalid_request"),
    ({"nonce": None}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
])
def test_protocol_errors_go_back_by_web_message(issuer, http, widget_partner, changes, error):
    response = http.get(f"{issuer}/widget/v1/connexion",
                        params=widget_params(widget_partner, **changes), allow_redirects=False)
    posted = web_message(response)
    assert posted["origin"] == ORIGIN
    assert posted["response"]["error"] == error
    assert posted["response"]["state"] == "s1" and posted["response"]["iss"] == issuer
    assert "code" not in posted["response"]
    assert policy(response)["frame-ancestors"] == ORIGIN
    assert "La connexion n'a pas abouti" in response.text


def test_a_narrower_scope_registration_is_respected(issuer, http, demo):
    partner = register(demo, "--name", "Étroit", "--redirect-uri", ORIGIN,
                       "--widget-origin", ORIGIN, "--scope", "openid")
    response = http.get(f"{issuer}/widget/v1/connexion", allow_redirects=False,
                        params=widget_params(partner, scope="openid habilitations"))
    assert web_message(response)["response"]["error"] == "invalid_scope"


def test_a_nonce_is_accepted_once(issuer, widget_partner, http):
    widget = Widget(issuer, widget_partner, http)
    assert web_message(widget.sign_in())["response"]["code"]
    again = widget.open()  # the same request once more: its nonce was spent
    assert web_message(again)["response"]["error"] == "invalid_request"
