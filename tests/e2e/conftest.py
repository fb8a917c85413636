"""Browser tests: Playwright driving Debian's Chromium against a live IdP on loopback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.oidc import conftest as oidc_fixtures

# The live IdP of the OIDC tests: an issuer on a loopback port, the demo served there.
settings = oidc_fixtures.settings
issuer = oidc_fixtures.issuer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
# The closed network here refuses Chromium's background connections; these flags stop them.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, installed by the test command (never a downloaded browser)."""
    assert Path(CHROMIUM).exists(), "Chromium is missing: scripts/test installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser tab with its own cookies, in French."""
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1100, "height": 900})
    yield context.new_page()
    context.close()


def screenshot(page, name: str) -> None:
    """Keep a picture of the page under test-output/screenshots/."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def sign_in_here(page) -> None:
    """Fill « Vous connecter » on the current page as Sophie."""
    page.get_by_label("SIRET").fill("52814432200013")
    page.get_by_label("Nom", exact=False).first.fill("Lefèvre")
    page.get_by_label("Prénom").fill("Sophie")
    page.get_by_label("Mot de passe").fill("Camions2026")
    page.get_by_role("button", name="Vous connecter").click()


def virtual_authenticator(page) -> None:
    """A platform authenticator that verifies the person and answers at once (DevTools
    protocol, WebAuthn domain), for the page and the frames in it."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    devtools.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})


def enrol_passkey(page, issuer: str, name: str = "Téléphone") -> None:
    """Sign in top-level and add a passkey in « Clés d'accès », as a person does."""
    page.goto(f"{issuer}/connexion")
    sign_in_here(page)
    page.goto(f"{issuer}/compte/securite/cles")
    page.get_by_label("Nom de la clé").fill(name)
    page.get_by_label("Mot de passe actuel").fill("Camions2026")
    page.get_by_role("button", name="Ajouter une clé d'accès").click()
    page.get_by_text(f"La clé d'accès « {name} » est ajoutée").wait_for()
