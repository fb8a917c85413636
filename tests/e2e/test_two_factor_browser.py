"""A person enrols TOTP by reading the key on the page, signs in with a code, and sees the
strength gauge change colour as they type."""

from __future__ import annotations

import time

import pyotp
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in_here

RED, ORANGE, GREEN = "rgb(201, 25, 30)", "rgb(179, 64, 0)", "rgb(24, 117, 60)"


def test_gauge_colours_then_totp_enrolment_and_sign_in(page, issuer):
    page.goto(f"{issuer}/connexion")
    sign_in_here(page)
    expect(page.get_by_role("heading", name="Votre compte")).to_be_visible()
    page.get_by_role("link", name="Sécurité de votre compte").click()

    new_password = page.get_by_label("Nouveau mot de passe")
    bar = page.locator("#gauge .gauge-bar")
    for typed, level, colour in (("camions", "weak", RED), ("Camions26", "medium", ORANGE),
                                 ("Camions2026-Lyon", "strong", GREEN)):
        new_password.fill(typed)
        expect(page.locator("#gauge")).to_have_attribute("data-level", level)
        expect(bar).to_have_css("background-color", colour)
    expect(page.locator("#gauge .gauge-text")).to_have_text(
        "Qualité de votre mot de passe : fort")
    screenshot(page, "2fa-01-gauge")

    page.get_by_role("link", name="Activer la double authentification").click()
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code de vérification").fill(pyotp.TOTP(secret).now())
    screenshot(page, "2fa-02-enrolment")
    page.get_by_role("button", name="Activer").click()
    expect(page.get_by_role("heading", name="Double authentification activée")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    screenshot(page, "2fa-03-recovery-codes")

    page.goto(f"{issuer}/deconnexion")
    page.get_by_role("button", name="Vous déconnecter").click()
    expect(page.get_by_role("heading", name="Vous êtes déconnecté")).to_be_visible()

    page.goto(f"{issuer}/connexion")
    sign_in_here(page)
    expect(page.get_by_role("heading", name="Code de vérification")).to_be_visible()
    # The current step's code was spent at enrolment: the app shows the next one soon.
    page.get_by_label("Code de vérification").fill(
        pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("heading", name="Votre compte")).to_be_visible()
    screenshot(page, "2fa-04-signed-in")
