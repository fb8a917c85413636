"""A person adds a passkey in « Clés d'accès », signs in with it as the second step, then
removes it: Chromium's virtual authenticator (DevTools protocol, WebAuthn domain) stands in
for the phone or the security key."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from idp.accounts.models import Passkey
from idp.extensions import db
from tests.conftest import free_port
from tests.e2e.conftest import screenshot, sign_in_here, virtual_authenticator


@pytest.fixture
def settings(settings):
    settings["ISSUER"] = f"http://localhost:{free_port()}"  # an RP ID must be a host name
    return settings


def test_enrol_sign_in_and_remove_a_passkey(page, issuer, demo):
    virtual_authenticator(page)
    page.goto(f"{issuer}/connexion")
    sign_in_here(page)
    page.get_by_role("link", name="Sécurité de votre compte").click()
    page.get_by_role("link", name="Gérer les clés d'accès").click()
    expect(page.get_by_role("heading", name="Clés d'accès", exact=True)).to_be_visible()
    page.get_by_label("Nom de la clé").fill("Téléphone")
    page.get_by_label("Mot de passe actuel").fill("Camions2026")
    page.get_by_role("button", name="Ajouter une clé d'accès").click()
    expect(page.get_by_text("La clé d'accès « Téléphone » est ajoutée")).to_be_visible()
    expect(page.get_by_role("cell", name="Téléphone", exact=True)).to_be_visible()
    screenshot(page, "passkey-01-enrolled")

    page.goto(f"{issuer}/deconnexion")
    page.get_by_role("button", name="Vous déconnecter").click()
    page.goto(f"{issuer}/connexion")
    sign_in_here(page)
    expect(page.get_by_role("heading", name="Clé d'accès")).to_be_visible()
    screenshot(page, "passkey-02-second-step")
    page.get_by_role("button", name="Utiliser une clé d'accès").click()
    expect(page.get_by_role("heading", name="Votre compte")).to_be_visible()

    page.goto(f"{issuer}/compte/securite/cles")
    page.get_by_role("button", name="Supprimer Téléphone").click()
    expect(page.get_by_text("La clé d'accès « Téléphone » est supprimée.")).to_be_visible()
    expect(page.get_by_text("Vous n'avez ajouté aucune clé d'accès.")).to_be_visible()
    screenshot(page, "passkey-03-removed")
    with demo.app_context():
        assert db.session.scalar(select(func.count()).select_from(Passkey)) == 0


def test_a_wrong_password_does_not_start_the_ceremony(page, issuer):
    virtual_authenticator(page)
    page.goto(f"{issuer}/connexion")
    sign_in_here(page)
    page.goto(f"{issuer}/compte/securite/cles")
    page.get_by_label("Nom de la clé").fill("Téléphone")
    page.get_by_label("Mot de passe actuel").fill("Mauvais2026")
    page.get_by_role("button", name="Ajouter une clé d'accès").click()
    expect(page.locator("#passkey-error")).to_have_text("Le mot de passe actuel est incorrect.")
