"""The framed forms' single-use transaction: replayed, expired, moved to another request,
posted twice at once: never a second sign-in, and a clear French page."""

from __future__ import annotations

import requests
from sqlalchemy import func, select

from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.oidc.conftest import SOPHIE
from tests.races import at_once
from tests.widget.conftest import Widget, alert, transaction_token, web_message

EXPIRED = "Votre demande de connexion a expiré ou a déjà été utilisée."


def logins(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "login"))


def credentials(person=SOPHIE) -> dict:
    return {"siret": person["siret"], "last_name": person["last_name"],
            "first_name": person["first_name"], "password": person["password"]}


def test_a_replayed_token_signs_nobody_in(issuer, widget_partner, http, demo):
    widget = Widget(issuer, widget_partner, http)
    page = widget.open()
    token = transaction_token(page.text)
    assert web_message(widget.post(page, **credentials()))["response"]["code"]
    before = logins(demo)

    replayed = widget.post(page, transaction=token, **credentials())
    assert logins(demo) == before  # the password was not even checked
    # The request it answered is spent too (its nonce was used): the partner hears so.
    response = web_message(replayed)["response"]
    assert response["error"] == "invalid_request" and "code" not in response


def test_a_token_replayed_before_any_success_shows_a_fresh_form(issuer, widget_partner,
                                                                 http, demo):
    widget = Widget(issuer, widget_partner, http)
    page = widget.open()
    token = transaction_token(page.text)
    widget.post(page, **{**credentials(), "password": "Mauvais2026"})
    before = logins(demo)
    replayed = widget.post(page, transaction=token, **credentials())
    assert replayed.status_code == 400
    assert alert(replayed.text).startswith(EXPIRED)
    assert "reponse-donnees" not in replayed.text  # no code
    assert transaction_token(replayed.text) != token  # a fresh form to start again
    assert logins(demo) == before


def test_a_token_expires_after_ten_minutes(issuer, widget_partner, http, clock):
    widget = Widget(issuer, widget_partner, http)
    page = widget.open()
    clock.advance(9 * 60)
    other = Widget(issuer, widget_partner, http)
    assert web_message(other.post(other.open(), **credentials()))["response"]["code"]
    assert widget.post(widget.open(), **{**credentials(), "password": "x"}).status_code == 401
    clock.advance(61)  # the first form is now 10 minutes and 1 second old
    late = widget.post(page, **credentials())
    assert late.status_code == 400 and alert(late.text).startswith(EXPIRED)


def test_a_token_answers_its_own_request_only(issuer, widget_partner, http, demo):
    first = Widget(issuer, widget_partner, http)
    second = Widget(issuer, widget_partner, http)
    stolen = transaction_token(first.open().text)
    before = logins(demo)
    moved = second.post(second.open(), transaction=stolen, **credentials())
    assert moved.status_code == 400 and alert(moved.text).startswith(EXPIRED)
    assert logins(demo) == before
    # …and it is spent: its own request cannot use it either.
    assert alert(first.post(first.open(), transaction=stolen, **credentials()).text
                 ).startswith(EXPIRED)


def test_unknown_or_malformed_tokens(issuer, widget_partner, http):
    widget = Widget(issuer, widget_partner, http)
    for token in ("", "x", "A" * 5000, "\x00", "é"):
        answer = http.post(widget.url, data={"transaction": token, **credentials()},
                           allow_redirects=False)
        assert answer.status_code == 400 and alert(answer.text).startswith(EXPIRED)


def test_two_posts_of_one_token_at_once_make_one_sign_in(issuer, widget_partner, demo):
    widget = Widget(issuer, widget_partner, requests.Session())
    page = widget.open()
    token = transaction_token(page.text)
    form = {"transaction": token, **credentials()}

    def post():
        return requests.post(widget.url, data=form, allow_redirects=False)

    answers = at_once([post, post, post])
    assert all(isinstance(a, requests.Response) for a in answers), answers
    won = [a for a in answers if "reponse-donnees" in a.text]
    lost = [a for a in answers if a not in won]
    assert len(won) == 1 and web_message(won[0])["response"]["code"]
    assert len(lost) == 2
    assert all(a.status_code == 400 and alert(a.text).startswith(EXPIRED) for a in lost)
    assert logins(demo) == 1
