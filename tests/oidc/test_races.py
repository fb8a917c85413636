"""Single use under truly simultaneous requests, against the live IdP: one refresh token or one
authorization code sent several times at once gives tokens at most once, and whatever was
issued in the race dies with its family (RFC 6749 §4.1.2, RFC 9700 §4.14)."""

from __future__ import annotations

from functools import partial

import requests

from tests.oidc.conftest import Flow, query
from tests.races import at_once

RACERS = 6
TRIALS = 4


def refresh(issuer, partner, refresh_token):
    return requests.post(f"{issuer}/oidc/token",
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                         auth=(partner.client_id, partner.client_secret))


def redeem(issuer, partner, flow, code):
    return requests.post(f"{issuer}/oidc/token",
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": flow.session.redirect_uri,
                               "code_verifier": flow.verifier},
                         auth=(partner.client_id, partner.client_secret))


def introspect(issuer, partner, token):
    return requests.post(f"{issuer}/oidc/introspect", data={"token": token},
                         auth=(partner.client_id, partner.client_secret)).json()


def assert_all_dead(issuer, partner, tokens):
    """Every access and refresh token of ``tokens`` is refused wherever it is presented."""
    for token in tokens:
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        assert requests.get(f"{issuer}/oidc/userinfo", headers=bearer).status_code == 401
        assert introspect(issuer, partner, token["access_token"]) == {"active": False}
        assert introspect(issuer, partner, token["refresh_token"]) == {"active": False}
        assert refresh(issuer, partner, token["refresh_token"]).json()["error"] == \
            "invalid_grant"


def test_one_refresh_token_sent_at_once_renews_at_most_once(issuer, partner, browser):
    for _ in range(TRIALS):
        flow = Flow(issuer, partner, browser)
        first = flow.redeem(flow.authorize())
        token = first["refresh_token"]
        responses = at_once([partial(refresh, issuer, partner, token)] * RACERS)
        renewed = [r.json() for r in responses if r.status_code == 200]
        assert len(renewed) <= 1, [r.status_code for r in responses]
        assert all(r.json()["error"] == "invalid_grant"
                   for r in responses if r.status_code != 200)
        # The losers saw a reuse: the whole family is revoked, the winner's tokens included.
        assert_all_dead(issuer, partner, [first, *renewed])


def test_one_code_redeemed_at_once_gives_tokens_once_and_they_die(issuer, partner, browser):
    for _ in range(TRIALS):
        flow = Flow(issuer, partner, browser)
        code = query(flow.authorize())["code"]
        responses = at_once([partial(redeem, issuer, partner, flow, code)] * RACERS)
        issued = [r.json() for r in responses if r.status_code == 200]
        assert len(issued) == 1, [r.status_code for r in responses]
        assert all(r.json()["error"] == "invalid_grant"
                   for r in responses if r.status_code != 200)
        assert_all_dead(issuer, partner, issued)
