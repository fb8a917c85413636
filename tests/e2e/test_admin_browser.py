"""The arrival and departure journey of « Gestion » in a browser, by the visible labels:
an administrator adds a declarant, gives her rights in the grid, then radiates a leaver and
transfers his habilitations to her. A screenshot per step."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in_here

VILLEURBANNE = "52814432200021"


def activate(chromium, link: str) -> None:
    """The new declarant opens her welcome link and chooses a password and a question."""
    context = chromium.new_context(locale="fr-FR")
    welcome = context.new_page()
    welcome.goto(link)
    welcome.get_by_label("Nouveau mot de passe").fill("Arrivee2027")
    welcome.get_by_label("Confirmation du mot de passe").fill("Arrivee2027")
    welcome.get_by_label(re.compile(r"^Question secrète")).select_option(index=1)
    welcome.get_by_label("Réponse à la question secrète").fill("Tarte aux pommes")
    screenshot(welcome, "gestion-03b-activation")
    welcome.get_by_role("button", name="Activer mon compte").click()
    expect(welcome.get_by_text("Votre compte est activé")).to_be_visible()
    context.close()


def test_arrival_rights_and_departure_with_transfer(chromium, page, issuer, mailbox):
    page.goto(f"{issuer}/connexion")
    sign_in_here(page)
    page.goto(f"{issuer}/gestion")
    screenshot(page, "gestion-01-menu")

    # Arrival: « Ajouter un déclarant ».
    page.get_by_role("link", name="Gérer les déclarants").click()
    page.get_by_role("link", name="Ajouter un déclarant").click()
    page.get_by_label("Établissement").select_option(VILLEURBANNE)
    page.get_by_label(re.compile(r"^Nom\b")).fill("Moreau")
    page.get_by_label(re.compile(r"^Prénom\b")).fill("Inès")
    page.get_by_label("Adresse électronique").fill("ines.moreau@transports-lefevre.example")
    screenshot(page, "gestion-02-ajouter")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("row", name=re.compile("Moreau"))).to_contain_text(
        "En attente d'activation")
    screenshot(page, "gestion-03-liste")
    [welcome] = mailbox.to("ines.moreau@transports-lefevre.example")
    activate(chromium, mailbox.link(welcome))

    # Her rights: « Gérer les habilitations », « Rechercher », tick, « Valider ».
    page.goto(f"{issuer}/gestion")
    page.get_by_role("link", name="Gérer les habilitations").click()
    page.get_by_label("Déclarant").select_option(label=f"Moreau Inès ({VILLEURBANNE})")
    page.get_by_label("Service").select_option("DSN")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_label(f"DSN {VILLEURBANNE} declarer").check()
    screenshot(page, "gestion-04-grille")
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("status")).to_contain_text("1 habilitation(s) modifiée(s)")
    expect(page.get_by_label(f"DSN {VILLEURBANNE} declarer")).to_be_checked()

    # Departure: « Radier » Karim Benali, his habilitations to Inès in the same step.
    page.goto(f"{issuer}/gestion/declarants")
    page.get_by_role("row", name=re.compile("Benali")).get_by_role("link", name="Radier").click()
    page.get_by_label("Transférer ses habilitations à").select_option(
        label=f"Moreau Inès (SIRET {VILLEURBANNE})")
    screenshot(page, "gestion-05-radier")
    page.get_by_role("button", name="Radier").click()
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Benali"))).to_have_count(0)
    screenshot(page, "gestion-06-apres-radiation")

    page.goto(f"{issuer}/gestion/habilitations")
    page.get_by_label("Déclarant").select_option(label=f"Moreau Inès ({VILLEURBANNE})")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_label(f"DSN {VILLEURBANNE} payer")).not_to_be_checked()
    expect(page.get_by_label(f"DUCS {VILLEURBANNE} payer")).to_be_checked()  # Karim's
    expect(page.get_by_label(f"DUCS {VILLEURBANNE} declarer")).to_be_checked()
    screenshot(page, "gestion-07-droits-transferes")
