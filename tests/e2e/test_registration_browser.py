"""A new user completes the « inscription » by the visible labels, with a screenshot of each
step, then validates the e-mail and signs in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from idp.demo import load_catalogue
from idp.extensions import db
from tests.conftest import serve
from tests.e2e.conftest import screenshot

PASSWORD = "Boulange2026"


def field(page, label: str):
    """The input whose label is exactly ``label`` (a required field's label ends with *)."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


@pytest.fixture
def directory_issuer(directory):
    """The IdP with the sample directory and the catalogue, but nobody registered."""
    with directory.app_context():
        load_catalogue(db.session)
        db.session.commit()
    with serve(directory) as base:
        yield base


def test_registration_journey_in_a_browser(page, directory_issuer, mailbox):
    base = directory_issuer
    page.goto(f"{base}/connexion")
    page.get_by_role("link", name="Vous inscrire").click()

    expect(page.get_by_role("heading", name="Vos coordonnées")).to_be_visible()
    field(page, "SIRET").fill("812 345 676 00017")
    field(page, "Nom").fill("Martin")
    field(page, "Prénom").fill("Paul")
    field(page, "Téléphone").fill("04 72 00 00 01")
    field(page, "Courriel").fill("paul.martin@boulangerie.example")
    field(page, "Confirmation du courriel").fill("paul.martin@boulangerie.example")
    screenshot(page, "inscription-1-coordonnees")
    page.get_by_role("button", name="Continuer").click()

    expect(page.get_by_role("heading", name="Conditions générales")).to_be_visible()
    screenshot(page, "inscription-2-conditions")
    page.get_by_role("button", name="J'accepte").click()

    expect(page.get_by_role("heading", name="Identification de votre établissement")) \
        .to_be_visible()
    expect(page.get_by_text("BOULANGERIE MARTIN")).to_be_visible()
    expect(page.get_by_text("Centre de Formalités des Entreprises")).to_be_visible()
    screenshot(page, "inscription-3-etablissement")
    page.get_by_role("button", name="Continuer").click()

    expect(page.get_by_role("heading", name="Mot de passe et question secrète")).to_be_visible()
    field(page, "Nouveau mot de passe").fill(PASSWORD)
    expect(page.locator("#gauge")).to_have_attribute("data-level", "strong")
    field(page, "Confirmation du mot de passe").fill(PASSWORD)
    field(page, "Question secrète").select_option("Quel est votre plat préféré ?")
    field(page, "Réponse à la question secrète").fill("Quenelles")
    screenshot(page, "inscription-4-mot-de-passe")
    page.get_by_role("button", name="Continuer").click()

    expect(page.get_by_role("heading", name="Récapitulatif")).to_be_visible()
    screenshot(page, "inscription-5-recapitulatif")
    page.get_by_role("button", name="S'inscrire aux services").click()

    expect(page.get_by_role("heading", name="Profil et services")).to_be_visible()
    field(page, "Votre entreprise").check()
    page.get_by_label("Déclaration unifiée de cotisations sociales").check()
    screenshot(page, "inscription-6-services")
    page.get_by_role("button", name="Valider").click()

    expect(page.get_by_role("heading", name="Validation de l'inscription")).to_be_visible()
    screenshot(page, "inscription-7-habilitations")
    page.get_by_role("button", name="Valider l'inscription").click()

    expect(page.get_by_role("heading", name="Compte rendu")).to_be_visible()
    expect(page.get_by_role("link", name="Télécharger le compte rendu (PDF)")).to_be_visible()
    screenshot(page, "inscription-8-compte-rendu")

    [message] = mailbox.to("paul.martin@boulangerie.example")
    page.goto(mailbox.link(message).replace("http://localhost", base))
    expect(page.get_by_text("vous pouvez vous connecter")).to_be_visible()
    page.goto(f"{base}/connexion")
    field(page, "SIRET").fill("81234567600017")
    field(page, "Nom").fill("MARTIN")
    field(page, "Prénom").fill("Paul")
    field(page, "Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Vous connecter").click()
    expect(page.get_by_role("heading", name="Votre compte")).to_be_visible()
    screenshot(page, "inscription-9-connecte")
