"""The token shortcut below Flask (client credentials, refresh rotation): it answers exactly
what the full path would, and leaves every other request (errors first) to Flask."""

from __future__ import annotations

import json

import pytest
import requests
from flask import request_started
from werkzeug.test import EnvironBuilder, run_wsgi_app

from idp.oidc.lean_token import MAX_BODY
from tests.oidc.conftest import Flow, register, verify

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def flask_requests(demo):
    """The token requests Flask itself handled."""
    seen: list[str] = []

    def count(sender, **extra):
        from flask import request

        if request.path == "/oidc/token":
            seen.append(request.path)

    request_started.connect(count, demo)
    yield seen
    request_started.disconnect(count, demo)


def post_token(issuer, partner, data, **kwargs):
    """POST ``data`` (a form string or dict) to the token endpoint with Basic credentials."""
    kwargs.setdefault("headers", FORM)
    return requests.post(f"{issuer}/oidc/token", data=data, timeout=10,
                         auth=(partner.client_id, partner.client_secret), **kwargs)


def through_flask_only(app, issuer, partner, body: str):
    """``body`` posted to the token endpoint past the shortcut, straight to Flask's WSGI
    callable: (status, headers, JSON)."""
    environ = EnvironBuilder(path="/oidc/token", method="POST", base_url=issuer, data=body,
                             content_type=FORM["Content-Type"],
                             auth=(partner.client_id, partner.client_secret)).get_environ()
    answer, status, headers = run_wsgi_app(app.wsgi_app.next_app, environ)
    return status, headers, json.loads(b"".join(answer))


def assert_same_answer(issuer, lean, full_headers, full: dict) -> dict:
    """The shortcut's answer ``lean`` is the full path's but for the token's own values;
    return the claims of its access token."""
    def comparable(pairs):  # without what the HTTP server adds or the body decides
        return {name: value for name, value in pairs
                if name not in ("Content-Length", "Date", "Server", "Connection")}

    assert comparable(lean.headers.items()) == comparable(full_headers.items())
    assert lean.json().keys() == full.keys()
    assert lean.json()["expires_in"] == full["expires_in"]
    assert lean.json().get("scope") == full.get("scope")
    lean_header, lean_claims = verify(lean.json()["access_token"], issuer, typ="at+jwt")
    full_header, full_claims = verify(full["access_token"], issuer, typ="at+jwt")
    assert lean_header == full_header
    own = ("jti", "iat", "exp", "token_family")  # a family per sign-in
    assert {k: v for k, v in lean_claims.items() if k not in own} == \
        {k: v for k, v in full_claims.items() if k not in own}
    assert lean_claims["jti"] != full_claims["jti"]
    return lean_claims


def test_client_credentials_as_the_full_path_gives_them(demo, issuer, partner,
                                                        flask_requests):
    body = "grant_type=client_credentials&scope=habilitations"
    lean = post_token(issuer, partner, body)
    assert lean.status_code == 200 and flask_requests == []
    status, headers, full = through_flask_only(demo, issuer, partner, body)
    assert status == "200 OK" and flask_requests == ["/oidc/token"]
    claims = assert_same_answer(issuer, lean, headers, full)
    assert full.keys() == {"token_type", "access_token", "expires_in", "scope"}
    assert claims["sub"] == partner.client_id and claims["scope"] == "habilitations"


def test_a_refresh_as_the_full_path_gives_it(demo, flow, issuer, partner, browser,
                                             flask_requests):
    other_flow = Flow(issuer, partner, browser)
    first, second = flow.redeem(flow.authorize()), other_flow.redeem(other_flow.authorize())
    flask_requests.clear()
    lean = post_token(issuer, flow.partner, {"grant_type": "refresh_token",
                                             "refresh_token": first["refresh_token"]})
    assert lean.status_code == 200 and flask_requests == []
    status, headers, full = through_flask_only(
        demo, issuer, flow.partner, f"grant_type=refresh_token&refresh_token="
                                    f"{second['refresh_token']}")
    assert status == "200 OK"
    claims = assert_same_answer(issuer, lean, headers, full)
    assert full.keys() == {"token_type", "access_token", "expires_in", "scope",
                           "refresh_token"}
    assert lean.json()["refresh_token"] not in (first["refresh_token"],
                                                full["refresh_token"])
    assert claims["sid"] and claims["auth_time"] and claims["token_family"]
    # The rotated token works once more, the one it replaced no longer.
    assert post_token(issuer, flow.partner, {"grant_type": "refresh_token",
                                             "refresh_token": lean.json()["refresh_token"]}
                      ).status_code == 200
    replay = post_token(issuer, flow.partner, {"grant_type": "refresh_token",
                                               "refresh_token": first["refresh_token"]})
    assert replay.json()["error"] == "invalid_grant"


def test_a_narrowed_refresh_goes_to_flask(flow, issuer, flask_requests):
    token = flow.redeem(flow.authorize())
    flask_requests.clear()
    narrowed = post_token(issuer, flow.partner, {"grant_type": "refresh_token",
                                                 "refresh_token": token["refresh_token"],
                                                 "scope": "openid"})
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "openid"
    assert flask_requests == ["/oidc/token"]


def test_a_locked_persons_refresh_is_refused_by_the_full_path(demo, flow, issuer,
                                                              flask_requests):
    token = flow.redeem(flow.authorize())
    with demo.app_context():
        import uuid

        from idp.accounts.models import Account, Status
        from idp.extensions import db

        sub = verify(token["access_token"], issuer)[1]["sub"]
        db.session.get(Account, uuid.UUID(sub)).status = Status.LOCKED
        db.session.commit()
    flask_requests.clear()
    response = post_token(issuer, flow.partner, {"grant_type": "refresh_token",
                                                 "refresh_token": token["refresh_token"]})
    assert response.status_code == 400 and "access_token" not in response.json()
    assert flask_requests == ["/oidc/token"]


def test_without_scope_the_token_has_none(issuer, partner, flask_requests):
    token = post_token(issuer, partner, "grant_type=client_credentials").json()
    assert "scope" not in token and flask_requests == []
    assert "scope" not in verify(token["access_token"], issuer)[1]  # none asked, none said


@pytest.mark.parametrize(("body", "error"), [
    ("grant_type=client_credentials&scope=pas-un-scope", "invalid_scope"),
    ("grant_type=client_credentials&grant_type=client_credentials", "invalid_request"),
    ("grant_type=client_credentials&scope=" + "x" * MAX_BODY, "invalid_scope"),
    ("grant_type=client_credentials&scope=%C3%A9", "invalid_request"),
    ("grant_type=password&username=a&password=b", "unsupported_grant_type"),
])
def test_requests_the_shortcut_cannot_vouch_for_go_to_flask(issuer, partner, flask_requests,
                                                            body, error):
    response = post_token(issuer, partner, body)
    assert response.status_code == 400 and response.json()["error"] == error
    assert flask_requests == ["/oidc/token"]


def test_a_wrong_secret_is_refused_and_journaled_by_the_full_path(demo, issuer, partner,
                                                                  flask_requests):
    response = requests.post(f"{issuer}/oidc/token", data="grant_type=client_credentials",
                             headers=FORM, auth=(partner.client_id, "pas-le-secret"),
                             timeout=10)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert flask_requests == ["/oidc/token"]
    with demo.app_context():
        from idp.audit.models import AuditEvent
        from idp.extensions import db

        events = db.session.query(AuditEvent).filter_by(action="oidc.token").all()
    assert [(e.outcome, e.details["client_id"]) for e in events] == \
        [("failure", partner.client_id)]


def test_other_authentication_methods_go_to_flask(demo, issuer, flask_requests):
    post = register(demo, "--name", "Portail secret post", "--redirect-uri",
                    "https://post.example/retour", "--auth-method", "client_secret_post")
    basic = post_token(issuer, post, "grant_type=client_credentials")
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"
    in_body = requests.post(f"{issuer}/oidc/token", headers=FORM, timeout=10, data={
        "grant_type": "client_credentials", "client_id": post.client_id,
        "client_secret": post.client_secret})
    assert in_body.status_code == 200 and verify(in_body.json()["access_token"],
                                                 issuer)[1]["sub"] == post.client_id
    assert flask_requests == ["/oidc/token", "/oidc/token"]


def test_a_public_partner_gets_no_client_credentials_token(demo, issuer, flask_requests):
    public = register(demo, "--name", "Appli mobile", "--redirect-uri",
                      "https://appli.example/retour", "--public")
    response = requests.post(f"{issuer}/oidc/token", headers=FORM, timeout=10,
                             data="grant_type=client_credentials",
                             auth=(public.client_id, ""))
    assert response.status_code == 401 and flask_requests == ["/oidc/token"]


def test_a_query_string_or_another_content_type_goes_to_flask(issuer, partner,
                                                              flask_requests):
    with_query = post_token(issuer, partner, "grant_type=client_credentials",
                            params={"scope": "openid"})
    as_json = post_token(issuer, partner, '{"grant_type": "client_credentials"}',
                         headers={"Content-Type": "application/json"})
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    assert with_query.status_code in (200, 400)
    assert flask_requests == ["/oidc/token", "/oidc/token"]
