"""``/interop/naviguer?vers=<client_id>&cible=<url>`` and « Vos services » on ``/compte``."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlencode, urlsplit

import pytest

from tests.conftest import sign_in
from tests.interop.conftest import AUTRE_ORIGIN, SIRET_SOPHIE, journal, local, query, register
from tests.oidc.conftest import JULIE, SOPHIE, verify


def naviguer(issuer, **params) -> str:
    return f"{issuer}/interop/naviguer?{urlencode(params)}"


def test_a_signed_in_person_reaches_the_other_portal_without_a_password(
        issuer, portail, autre, browser, demo):
    assert sign_in(browser, f"{issuer}/connexion", **SOPHIE).status_code == 302
    target = f"{AUTRE_ORIGIN}/sinistres?annee=2026"
    response = browser.get(naviguer(issuer, vers=autre.partner.client_id, cible=target),
                           allow_redirects=False)
    assert response.status_code == 302
    location = response.headers["Location"]
    # Its own query is kept; OIDC Core §4's parameters are added.
    assert query(location) == {"depuis": "ne", "iss": issuer, "login_hint": SIRET_SOPHIE,
                               "target_link_uri": target}
    landed = autre.initiate(browser, location)
    assert verify(landed["tokens"]["id_token"], issuer)[1]["siret"] == SIRET_SOPHIE
    events = journal(demo, "interop.navigate")
    assert [(e.outcome, e.details) for e in events] == [
        ("success", {"client_id": autre.partner.client_id, "target": target})]


def test_without_a_target_the_partner_chooses_its_page(issuer, autre, browser):
    assert sign_in(browser, f"{issuer}/connexion", **SOPHIE).status_code == 302
    response = browser.get(naviguer(issuer, vers=autre.partner.client_id),
                           allow_redirects=False)
    params = query(response.headers["Location"])
    assert "target_link_uri" not in params
    assert params["login_hint"] == SIRET_SOPHIE


def test_an_anonymous_visitor_signs_in_first_then_continues(issuer, autre, browser):
    target = f"{AUTRE_ORIGIN}/sinistres"
    url = naviguer(issuer, vers=autre.partner.client_id, cible=target)
    first = browser.get(url, allow_redirects=False)
    assert first.status_code == 302
    login_page = local(first.headers["Location"])
    assert urlsplit(login_page).path == "/connexion"
    back = query(login_page)["next"]
    assert query(back) == {"vers": autre.partner.client_id, "cible": target}

    signed = sign_in(browser, issuer + login_page, **SOPHIE)
    assert local(signed.headers["Location"]) == back
    sent = browser.get(issuer + back, allow_redirects=False)
    assert query(sent.headers["Location"])["target_link_uri"] == target
    autre.initiate(browser, sent.headers["Location"])


@pytest.mark.parametrize("signed_in", [False, True])
@pytest.mark.parametrize("params, status, reason", [
    ({"vers": "inconnu"}, 404, "unknown_partner"),
    ({"vers": "x" * 65}, 404, "unknown_partner"),
    ({}, 400, "missing_partner"),
    ({"vers": "@autre", "cible": "https://evil.example/"}, 400, "not_owned_by_partner"),
    ({"vers": "@autre", "cible": "https://partenaire.example/declarations"}, 400,
     "not_owned_by_partner"),
    ({"vers": "@autre", "cible": "javascript:alert(1)"}, 400, "malformed"),
    ({"vers": "@autre", "cible": "data:text/html;base64,PHNjcmlwdD4="}, 400, "malformed"),
    ({"vers": "@autre", "cible": "https://autre.example/\x01"}, 400, "malformed"),
    ({"vers": "@sans", "cible": "https://sans.example/"}, 400, "no_initiate_login_uri"),
])
def test_refusals_are_pages_with_a_4xx(issuer, demo, portail, autre, browser, params, status,
                                       reason, signed_in):
    sans = register(demo, "--name", "Sans initiation", "--redirect-uri",
                    "https://sans.example/retour", "--service", "DSN")
    names = {"@autre": autre.partner.client_id, "@sans": sans.client_id}
    params = {key: names.get(value, value) for key, value in params.items()}
    if signed_in:
        assert sign_in(browser, f"{issuer}/connexion", **SOPHIE).status_code == 302
    response = browser.get(naviguer(issuer, **params), allow_redirects=False)
    assert response.status_code == status
    assert "Location" not in response.headers
    assert "Net-entreprises ne conduit que vers les sites partenaires enregistrés" \
        in response.text
    events = journal(demo, "interop.navigate")
    assert [(e.outcome, e.details["reason"]) for e in events] == [("failure", reason)]
    assert (events[0].account_id is not None) == signed_in


# --- « Vos services » ----------------------------------------------------------------------

def services_section(page: str) -> str:
    match = re.search(r'<section class="card" aria-labelledby="vos-services">.*?</section>',
                      page, re.S)
    assert match, "no « Vos services » on the page"
    return unescape(match.group(0))


def test_vos_services_lists_the_habilitated_services_with_their_portals(
        issuer, portail, autre, browser):
    assert sign_in(browser, f"{issuer}/connexion", **SOPHIE).status_code == 302
    section = services_section(browser.get(f"{issuer}/compte").text)
    # Sophie: DSN, ATMP and MCF by SIREN; PPREV implied by ATMP and MCF. Not DUCS nor DOETH.
    labels = re.findall(r"<strong>(.*?)</strong>", section)
    assert labels == ["Compte AT/MP", "Déclaration sociale nominative", "Mon Compte Formation",
                      "Passeport de prévention"]
    links = dict((text, href) for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>',
                                                          section))
    # This test's partners and the demo's (which start logins too); none hosts MCF.
    assert set(links) == {"Compte AT/MP sur Compte AT/MP", "Déclaration sociale nominative "
                          "sur Portail DSN", "Passeport de prévention sur Compte AT/MP",
                          "Compte AT/MP sur Compte AT/MP (démo)",
                          "Déclaration sociale nominative sur Portail DSN (démo)",
                          "Passeport de prévention sur Compte AT/MP (démo)"}
    assert section.count("Aucun site partenaire ne propose encore l'accès direct") == 1
    dsn = links["Déclaration sociale nominative sur Portail DSN"]
    assert urlsplit(dsn).path == "/interop/naviguer"
    assert query(dsn) == {"vers": portail.partner.client_id,
                          "cible": "https://partenaire.example/"}

    response = browser.get(issuer + dsn, allow_redirects=False)
    assert query(response.headers["Location"])["target_link_uri"] == \
        "https://partenaire.example/"
    portail.initiate(browser, response.headers["Location"])


def test_vos_services_shows_a_portfolio_s_services(issuer, portail, browser):
    assert sign_in(browser, f"{issuer}/connexion", **JULIE).status_code == 302
    section = services_section(browser.get(f"{issuer}/compte").text)
    assert "Déclaration sociale nominative" in section
    assert "Déclaration sociale nominative sur Portail DSN" in section


def test_vos_services_without_any_habilitation(demo, client):
    from tests.conftest import make_account

    make_account(demo, siret="52814432200039", last_name="Nouveau", first_name="Paul",
                 password="Nouveau2026")
    response = sign_in(client, siret="52814432200039", last_name="Nouveau",
                       first_name="Paul", password="Nouveau2026")
    assert response.status_code == 302
    section = services_section(client.get("/compte").get_data(as_text=True))
    assert "Vous n'êtes habilité à aucun service pour le moment." in section
    assert "<ul" not in section
