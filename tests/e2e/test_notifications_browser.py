"""« Vos notifications » in Chromium: the badge of « Votre compte », the list, one notice,
« Archiver », by the labels a person reads."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.notifications.conftest import (
    GRENOBLE,
    notice,
    partner_token,
    published,
    rate,
    without_sample_notices,
)
from tests.oidc.conftest import register

SITE = "https://compte-atmp.example"


def test_badge_list_and_one_notice(page, issuer, demo):
    without_sample_notices(demo)
    partner = register(demo, "--name", "Compte AT/MP", "--redirect-uri", f"{SITE}/callback",
                       "--initiate-login-uri", f"{SITE}/initier", "--service", "ATMP",
                       "--service", "PPREV")
    token = partner_token(issuer, partner)
    published(issuer, token, rate(GRENOBLE, title="Votre taux AT/MP 2027"))
    published(issuer, token, notice(GRENOBLE, "PPREV", title="Passeport de prévention"))

    page.goto(f"{issuer}/connexion")
    page.get_by_label("SIRET").fill(GRENOBLE)
    page.get_by_label("Nom", exact=False).first.fill("Roux")
    page.get_by_label("Prénom").fill("Élodie")
    page.get_by_label("Mot de passe").fill("Grenoble2026")
    page.get_by_role("button", name="Vous connecter").click()
    expect(page.get_by_role("heading", name="Votre compte")).to_be_visible()
    badge = page.get_by_role("status", name="2 notifications non lues")
    expect(badge).to_have_text("2")
    screenshot(page, "notifications-01-badge")
    page.get_by_role("link", name="Consulter vos notifications").click()

    expect(page.get_by_role("heading", name="Vos notifications")).to_be_visible()
    expect(page.get_by_role("heading", name="2 notifications")).to_be_visible()
    screenshot(page, "notifications-02-list")
    page.get_by_role("link", name="Votre taux AT/MP 2027").click()
    expect(page.get_by_role("heading", name="Votre taux AT/MP 2027")).to_be_visible()
    expect(page.get_by_text("Le taux applicable est de 2,10 %.")).to_be_visible()
    expect(page.get_by_role("link", name="Télécharger le document officiel")).to_be_visible()
    screenshot(page, "notifications-03-notice")
    page.get_by_role("button", name="Archiver").click()

    expect(page.get_by_text("La notification est archivée")).to_be_visible()
    expect(page.get_by_role("link", name="Votre taux AT/MP 2027")).to_have_count(0)
    page.get_by_label("Statut").select_option(label="Archivées")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_role("link", name="Votre taux AT/MP 2027")).to_be_visible()
    page.goto(f"{issuer}/compte")
    expect(page.get_by_role("status", name="1 notification non lue")).to_have_text("1")
