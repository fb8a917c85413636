"""The demo partner sites of clients/, run for real beside the IdP (IdP on localhost, the
partners on 127.0.0.1: three different sites), driven by Chromium: sign-in by redirect,
portal-to-portal navigation without a password, token exchange between the partners' back
ends, logout from one ending the other (back-channel), and the widget."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from clients import compte_atmp, portail_dsn
from tests.conftest import free_port, run_deliveries, serve
from tests.e2e.conftest import screenshot
from tests.oidc.conftest import register

SOPHIE = {"SIRET": "52814432200013", "Nom": "Lefèvre", "Prénom": "Sophie",
          "Mot de passe": "Camions2026"}


@pytest.fixture
def settings(settings):
    """The IdP is served on localhost (the partners on 127.0.0.1)."""
    settings["ISSUER"] = f"http://localhost:{free_port()}"
    return settings


@pytest.fixture
def sites(demo):
    """The IdP and both partner sites, registered and served; yields their addresses."""
    dsn, atmp = (f"http://127.0.0.1:{free_port()}" for _ in range(2))
    dsn_client = register(
        demo, "--name", "Portail DSN", "--redirect-uri", f"{dsn}/callback",
        "--post-logout-redirect-uri", f"{dsn}/", "--initiate-login-uri", f"{dsn}/initier",
        "--backchannel-logout-uri", f"{dsn}/backchannel-logout", "--service", "DSN",
        "--service", "DUCS")
    atmp_client = register(
        demo, "--name", "Compte AT/MP", "--redirect-uri", f"{atmp}/callback",
        "--redirect-uri", atmp, "--widget-origin", atmp, "--post-logout-redirect-uri",
        f"{atmp}/", "--initiate-login-uri", f"{atmp}/initier", "--backchannel-logout-uri",
        f"{atmp}/backchannel-logout", "--service", "ATMP", "--service", "PPREV",
        "--may-exchange-for", dsn_client.client_id)
    with serve(demo) as idp:
        common = {"IDP_ISSUER": idp, "SECRET_KEY": "test"}
        dsn_app = portail_dsn.create_app({
            **common, "BASE_URL": dsn, "CLIENT_ID": dsn_client.client_id,
            "CLIENT_SECRET": dsn_client.client_secret, "OTHER_PORTAL_ID": atmp_client.client_id,
            "OTHER_PORTAL_URL": f"{atmp}/"})
        atmp_app = compte_atmp.create_app({
            **common, "BASE_URL": atmp, "CLIENT_ID": atmp_client.client_id,
            "CLIENT_SECRET": atmp_client.client_secret, "OTHER_PORTAL_ID": dsn_client.client_id,
            "OTHER_PORTAL_URL": f"{dsn}/", "OTHER_PORTAL_API": f"{dsn}/api/declarations"})
        with serve(dsn_app, dsn), serve(atmp_app, atmp):
            yield {"idp": idp, "dsn": dsn, "atmp": atmp, "atmp_id": atmp_client.client_id}


def fill_sign_in(page_or_frame) -> None:
    for label, value in SOPHIE.items():
        page_or_frame.get_by_label(label).first.fill(value)  # « Nom » comes before « Prénom »
    page_or_frame.get_by_role("button", name="Vous connecter").click()


def test_two_portals_one_sign_in_and_one_logout(page, sites, demo):
    page.goto(sites["dsn"] + "/")
    page.get_by_role("link", name="Se connecter avec Net-entreprises").click()
    expect(page).to_have_url(re.compile(re.escape(sites["idp"] + "/connexion")))
    screenshot(page, "partners-01-idp-sign-in")
    fill_sign_in(page)
    expect(page.get_by_role("heading", name="Bonjour Sophie Lefèvre")).to_be_visible()
    expect(page.locator("td", has_text="DSN").first).to_be_visible()
    screenshot(page, "partners-02-portail-dsn")

    # To the other portal through the IdP: no password asked.
    page.get_by_role("link", name="Aller au Compte AT/MP").click()
    expect(page).to_have_url(sites["atmp"] + "/")
    expect(page.get_by_role("heading", name="Bonjour Sophie Lefèvre")).to_be_visible()
    screenshot(page, "partners-03-compte-atmp")

    # The Compte AT/MP's back end calls the Portail DSN's API with an exchanged token.
    page.get_by_role("link", name="Vos déclarations DSN").click()
    expect(page.locator("#act")).to_have_text(sites["atmp_id"])
    screenshot(page, "partners-04-token-exchange")

    # Logging out from the Portail DSN ends the Compte AT/MP's session too.
    page.goto(sites["dsn"] + "/")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("link", name="Se connecter avec Net-entreprises")).to_be_visible()
    run_deliveries(demo)  # the delivery worker tells the Compte AT/MP (back-channel)
    page.goto(sites["atmp"] + "/")
    expect(page.get_by_role("heading", name="Connectez-vous avec Net-entreprises")).to_be_visible()
    screenshot(page, "partners-05-logged-out-everywhere")


def test_the_widget_signs_in_on_the_partner_page(page, sites):
    page.goto(sites["atmp"] + "/")
    frame = page.frame_locator("#connexion-ne iframe")
    expect(frame.get_by_role("button", name="Vous connecter")).to_be_visible()
    screenshot(page, "partners-06-widget-on-the-partner-page")
    fill_sign_in(frame)
    expect(page.get_by_role("heading", name="Bonjour Sophie Lefèvre")).to_be_visible()
    screenshot(page, "partners-07-signed-in-by-the-widget")
