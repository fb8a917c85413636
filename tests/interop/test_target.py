"""``/connexion?cible=<url>``: sign in (or reuse the session), then the partner that owns the
URL through its initiate_login_uri; anything else is a page and a 4xx, never a redirect."""

from __future__ import annotations

from html import unescape
from urllib.parse import urlencode, urlsplit

import pytest

from tests.conftest import csrf_token, sign_in
from tests.interop.conftest import (
    AUTRE_ORIGIN,
    PORTAIL_LOGIN,
    SIRET_SOPHIE,
    journal,
    local,
    query,
    register,
)
from tests.oidc.conftest import SOPHIE, verify

WANTED = "https://partenaire.example/declarations/2026-05?onglet=anomalies"


def connexion(issuer, target) -> str:
    return f"{issuer}/connexion?{urlencode({'cible': target})}"


def test_anonymous_signs_in_then_lands_on_the_partner_which_gets_a_code_at_once(
        issuer, portail, browser, demo):
    first = browser.get(connexion(issuer, WANTED), allow_redirects=False)
    assert first.status_code == 302
    login_page = local(first.headers["Location"])
    assert urlsplit(login_page).path == "/connexion"
    next_url = query(login_page)["next"]
    assert urlsplit(next_url).path == "/interop/cible"
    assert query(next_url) == {"cible": WANTED}

    signed = sign_in(browser, issuer + login_page, **SOPHIE)
    assert signed.status_code == 302
    assert local(signed.headers["Location"]) == query(login_page)["next"]
    sent = browser.get(issuer + local(signed.headers["Location"]), allow_redirects=False)
    assert sent.status_code == 302
    location = sent.headers["Location"]
    assert location.startswith(PORTAIL_LOGIN + "?")
    assert query(location) == {"iss": issuer, "login_hint": SIRET_SOPHIE,
                               "target_link_uri": WANTED}

    landed = portail.initiate(browser, location)
    claims = verify(landed["tokens"]["id_token"], issuer)[1]
    assert claims["siret"] == SIRET_SOPHIE
    events = journal(demo, "interop.target")
    assert [e.outcome for e in events] == ["success"]
    assert events[0].details == {"client_id": portail.partner.client_id, "target": WANTED}
    assert events[0].account_id is not None


def test_a_signed_in_person_goes_to_the_partner_at_once(issuer, portail, browser):
    assert sign_in(browser, f"{issuer}/connexion", **SOPHIE).status_code == 302
    response = browser.get(connexion(issuer, WANTED), allow_redirects=False)
    assert response.status_code == 302
    assert query(response.headers["Location"])["target_link_uri"] == WANTED
    portail.initiate(browser, response.headers["Location"])


def test_the_login_hint_prefills_the_siret_when_given(issuer, portail, browser):
    response = browser.get(f"{issuer}/connexion?" + urlencode(
        {"cible": WANTED, "siret": SIRET_SOPHIE}), allow_redirects=False)
    assert query(response.headers["Location"])["siret"] == SIRET_SOPHIE


def test_two_factor_sign_in_keeps_the_target(issuer, portail, browser, demo):
    import pyotp

    from idp.accounts.lookup import account_by_login
    from idp.extensions import db

    secret = pyotp.random_base32()
    with demo.app_context():
        account = account_by_login(db.session, SIRET_SOPHIE, "Lefèvre", "Sophie")
        account.totp_secret = secret
        db.session.commit()
    first = browser.get(connexion(issuer, WANTED), allow_redirects=False)
    step = sign_in(browser, issuer + local(first.headers["Location"]), **SOPHIE)
    assert urlsplit(step.headers["Location"]).path == "/connexion/code"
    page = browser.get(f"{issuer}/connexion/code")
    done = browser.post(f"{issuer}/connexion/code", allow_redirects=False, data={
        "csrf_token": csrf_token(page.text), "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    sent = browser.get(issuer + local(done.headers["Location"]), allow_redirects=False)
    assert query(sent.headers["Location"])["target_link_uri"] == WANTED


@pytest.mark.parametrize("target, reason", [
    ("javascript:alert(document.cookie)", "malformed"),
    ("data:text/html,<script>alert(1)</script>", "malformed"),
    ("//partenaire.example/declarations", "malformed"),
    ("/compte", "malformed"),
    ("", "malformed"),
    ("https://partenaire.example/\nSet-Cookie: x=1", "malformed"),
    ("https://partenaire.example\\@evil.example/", "malformed"),
    ("https://partenaire.example@evil.example/", "malformed"),
    ("https://evil.example@partenaire.example/", "malformed"),
    ("https://partenaire.example:99999/", "malformed"),
    ("https://partenaire.exemple.fr/déclarations", "malformed"),
    ("https://evil.example/declarations", "unowned"),
    ("https://partenaire.example.evil.example/", "unowned"),
    ("http://partenaire.example/declarations", "unowned"),  # another scheme, another origin
    ("https://partenaire.example:8443/declarations", "unowned"),
])
def test_targets_no_partner_owns_are_refused_with_a_page(issuer, portail, browser, demo,
                                                         target, reason):
    response = browser.get(connexion(issuer, target), allow_redirects=False)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "text/html" in response.headers["Content-Type"]
    assert "Net-entreprises ne conduit que vers les sites partenaires enregistrés" \
        in response.text
    assert [e.details["reason"] for e in journal(demo, "interop.target")] == [reason]


def test_a_refusal_is_the_same_when_signed_in(issuer, portail, browser):
    assert sign_in(browser, f"{issuer}/connexion", **SOPHIE).status_code == 302
    response = browser.get(connexion(issuer, "https://evil.example/"), allow_redirects=False)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Retour à votre compte" in response.text


def test_the_default_port_names_the_same_origin(issuer, portail, browser):
    assert sign_in(browser, f"{issuer}/connexion", **SOPHIE).status_code == 302
    target = "HTTPS://Partenaire.Example:443/declarations"
    response = browser.get(connexion(issuer, target), allow_redirects=False)
    assert response.status_code == 302
    assert query(response.headers["Location"])["target_link_uri"] == target


def test_a_partner_without_initiate_login_uri_cannot_receive_the_person(
        issuer, demo, browser):
    register(demo, "--name", "Sans initiation", "--redirect-uri", f"{AUTRE_ORIGIN}/retour")
    response = browser.get(connexion(issuer, f"{AUTRE_ORIGIN}/page"), allow_redirects=False)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "n'accepte pas encore que Net-entreprises vous y connecte" in unescape(
        response.text)
    assert journal(demo, "interop.target")[0].details == {"reason": "no_initiate_login_uri"}


def test_the_partner_whose_initiate_login_uri_is_on_the_origin_wins(issuer, demo, browser,
                                                                   portail):
    # Another partner also redirects to https://partenaire.example (the shared REDIRECT_URI)
    # and has its initiate_login_uri elsewhere: the Portail keeps the origin.
    register(demo, "--name", "Voisin", "--redirect-uri", "https://partenaire.example/retour",
             "--initiate-login-uri", f"{AUTRE_ORIGIN}/initier")
    assert sign_in(browser, f"{issuer}/connexion", **SOPHIE).status_code == 302
    response = browser.get(connexion(issuer, WANTED), allow_redirects=False)
    assert response.headers["Location"].startswith(PORTAIL_LOGIN + "?")


def test_two_partners_starting_logins_on_one_origin_is_ambiguous(issuer, demo, browser,
                                                                 portail):
    register(demo, "--name", "Jumeau", "--redirect-uri", "https://partenaire.example/autre",
             "--initiate-login-uri", "https://partenaire.example/autre-connexion")
    response = browser.get(connexion(issuer, WANTED), allow_redirects=False)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert journal(demo, "interop.target")[0].details == {"reason": "ambiguous"}


def test_the_interop_target_page_checks_again(issuer, portail, browser):
    # /interop/cible is where « Vous connecter » goes next: a forged target there is refused
    # the same way, and an anonymous visitor is sent to sign in with the target.
    forged = browser.get(f"{issuer}/interop/cible?cible=https://evil.example/",
                         allow_redirects=False)
    assert forged.status_code == 400
    anonymous = browser.get(f"{issuer}/interop/cible?" + urlencode({"cible": WANTED}),
                            allow_redirects=False)
    assert anonymous.status_code == 302
    back = query(local(anonymous.headers["Location"]))["next"]
    assert urlsplit(back).path == "/interop/cible"
    assert query(back) == {"cible": WANTED}


def test_a_plain_sign_in_is_untouched(issuer, portail, browser):
    page = browser.get(f"{issuer}/connexion", allow_redirects=False)
    assert page.status_code == 200
    response = sign_in(browser, f"{issuer}/connexion", **SOPHIE)
    assert local(response.headers["Location"]) == "/compte"


def form_action(response) -> str:
    policy = response.headers["Content-Security-Policy"]
    return next(d.strip() for d in policy.split(";") if d.strip().startswith("form-action"))


def test_the_sign_in_page_may_send_its_form_on_to_the_partner_only(issuer, portail, browser):
    # Browsers check each redirect after a form submission against form-action: the sign-in
    # page whose next leads to the Portail names its origin, and only then.
    first = browser.get(connexion(issuer, WANTED), allow_redirects=False)
    page = browser.get(issuer + local(first.headers["Location"]))
    assert form_action(page) == "form-action 'self' https://partenaire.example"
    failed = browser.post(f"{issuer}/connexion", data={
        "csrf_token": csrf_token(page.text),
        "siret": SIRET_SOPHIE, "last_name": "Lefèvre", "first_name": "Sophie",
        "password": "Faux2026", "next": query(local(first.headers["Location"]))["next"]})
    assert failed.status_code == 401
    assert form_action(failed) == "form-action 'self' https://partenaire.example"
    for next_url in ("/compte", "/interop/cible?cible=https://evil.example/",
                     "//evil.example/", "/interop/naviguer?vers=inconnu"):
        plain = browser.get(f"{issuer}/connexion?" + urlencode({"next": next_url}))
        assert form_action(plain) == "form-action 'self'"


def test_the_second_step_page_too(issuer, portail, browser, demo):
    import pyotp

    from idp.accounts.lookup import account_by_login
    from idp.extensions import db

    with demo.app_context():
        account = account_by_login(db.session, SIRET_SOPHIE, "Lefèvre", "Sophie")
        account.totp_secret = pyotp.random_base32()
        db.session.commit()
    first = browser.get(connexion(issuer, WANTED), allow_redirects=False)
    sign_in(browser, issuer + local(first.headers["Location"]), **SOPHIE)
    page = browser.get(f"{issuer}/connexion/code")
    assert form_action(page) == "form-action 'self' https://partenaire.example"
