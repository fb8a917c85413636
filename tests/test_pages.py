"""Every page carries the footer's information pages; every signed-in page offers
« Vous déconnecter »."""

from __future__ import annotations

import html

import pytest

from tests.conftest import csrf_token

FOOTER = {"/mentions-legales": "Mentions légales",
          "/accessibilite": "Déclaration d'accessibilité",
          "/donnees-personnelles": "Données personnelles"}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize("path", ["/connexion", "/inscription", "/mot-de-passe-oublie"])
def test_footer_links_to_the_information_pages(client, path):
    page = text(client.get(path))
    for target in FOOTER:
        assert f'href="{target}"' in page
    assert "Accessibilité : non conforme" in page  # the RGAA asks the footer to say so
    assert "Vous déconnecter" not in page


@pytest.mark.parametrize(("path", "heading"), FOOTER.items())
def test_information_pages_answer_in_french_and_english(client, path, heading):
    page = text(client.get(path))
    assert f"<h1>{heading}</h1>" in page
    english = text(client.get(f"{path}?lang=en"))
    assert "<h1>" in english and heading not in english.split("<h1>")[1]


def test_personal_data_page_gives_the_configured_durations(client):
    page = text(client.get("/donnees-personnelles"))
    assert "après 48 heures" in page and "après 15 jours" in page and "60 minutes" in page


@pytest.mark.parametrize("path", ["/compte", "/compte/securite", "/gestion",
                                  "/gestion/declarants", "/mentions-legales"])
def test_signed_in_pages_offer_to_sign_out(signed_in, path):
    page = text(signed_in.get(path))
    assert "Vous déconnecter" in page and 'action="/deconnexion"' in page


def test_the_header_button_signs_out(signed_in):
    token = csrf_token(signed_in.get("/compte/securite").get_data(as_text=True))
    response = signed_in.post("/deconnexion", data={"csrf_token": token})
    page = text(response)
    assert "Vous êtes déconnecté" in page and "Vous déconnecter" not in page
    assert signed_in.get("/compte").status_code == 302
