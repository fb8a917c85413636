"""``acr_values`` demanding two factors, and amr/acr in the tokens of a 2FA sign-in."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pyotp

from tests.conftest import csrf_token, sign_in
from tests.oidc.conftest import REDIRECT_URI, SOPHIE, Flow, verify

MFA = "urn:netentreprises:acr:mfa"


def follow(browser, issuer, response):
    location = response.headers["Location"]
    return browser.get(location if location.startswith("http") else issuer + location,
                       allow_redirects=False)


def test_a_password_only_user_enrols_before_the_code_is_issued(issuer, partner, browser):
    flow = Flow(issuer, partner, browser, acr_values=MFA)
    response = browser.get(flow.url, allow_redirects=False)
    response = sign_in(browser, issuer + response.headers["Location"], **SOPHIE)
    response = follow(browser, issuer, response)  # back to authorize, which asks for 2FA
    assert urlsplit(response.headers["Location"]).path == \
        "/compte/securite/double-authentification"
    page = follow(browser, issuer, response)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page.text).group(1)
    next_url = re.search(r'name="next" type="hidden" value="([^"]*)"', page.text).group(1)
    done = browser.post(f"{issuer}/compte/securite/double-authentification", data={
        "csrf_token": csrf_token(page.text), "next": next_url.replace("&amp;", "&"),
        "code": pyotp.TOTP(secret.replace(" ", "")).now()})
    back = re.search(r'<a class="button primary" href="([^"]+)"', done.text).group(1)
    callback = browser.get(issuer + back.replace("&amp;", "&"), allow_redirects=False)
    assert callback.headers["Location"].startswith(REDIRECT_URI)
    claims = verify(flow.redeem(callback.headers["Location"])["id_token"], issuer)[1]
    assert claims["acr"] == MFA
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_a_2fa_sign_in_says_so_in_the_tokens(issuer, partner, browser):
    # Enrol first, through the security page of a signed-in session.
    first = Flow(issuer, partner, browser)
    first.authorize()
    page = browser.get(f"{issuer}/compte/securite/double-authentification")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page.text).group(1)
    totp = pyotp.TOTP(secret.replace(" ", ""))
    browser.post(f"{issuer}/compte/securite/double-authentification",
                 data={"csrf_token": csrf_token(page.text), "code": totp.now()})
    fresh = Flow(issuer, partner, browser, prompt="login")
    response = browser.get(fresh.url, allow_redirects=False)
    response = sign_in(browser, issuer + response.headers["Location"], **SOPHIE)
    assert response.headers["Location"] == "/connexion/code"
    code_page = browser.get(f"{issuer}/connexion/code")
    response = browser.post(f"{issuer}/connexion/code", data={
        "csrf_token": csrf_token(code_page.text), "code": totp.at(time.time() + 30)},
        allow_redirects=False)
    callback = follow(browser, issuer, response)
    claims = verify(fresh.redeem(callback.headers["Location"])["id_token"], issuer)[1]
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == MFA
