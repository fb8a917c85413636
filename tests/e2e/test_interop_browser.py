"""« Sign in, then go to the wanted resource » and portal-to-portal navigation in Chromium,
across different sites: the IdP on ``localhost``, two tiny partner sites on ``127.0.0.1``,
each with an ``initiate_login_uri`` that starts an authorization request with
``prompt=none`` (OpenID Connect Core §4) and a callback that redeems the code."""

from __future__ import annotations

import html
import secrets
from contextlib import ExitStack
from urllib.parse import quote, urlsplit

import pytest
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask, abort, redirect, request, session
from playwright.sync_api import expect

from tests.conftest import free_port, serve
from tests.e2e.conftest import screenshot, sign_in_here
from tests.oidc.conftest import register, verify


@pytest.fixture
def settings(settings):
    """The IdP on localhost: another site than the partners on 127.0.0.1."""
    settings["ISSUER"] = f"http://localhost:{free_port()}"
    return settings


def partner_site(name: str, idp: str, base: str, client_id: str, secret: str) -> Flask:
    """A partner site: ``/initier`` (third-party-initiated login), ``/callback``, and any
    other page, which says who is signed in."""
    app = Flask(name)
    app.secret_key = secrets.token_hex(16)

    @app.get("/initier")
    def initiate():
        if request.args.get("iss") != idp:  # OIDC Core §4: only our IdP may start a login
            abort(400)
        target = request.args.get("target_link_uri") or f"{base}/"
        if urlsplit(target).netloc != urlsplit(base).netloc:
            target = f"{base}/"  # never follow a target that is not ours
        oauth = OAuth2Session(client_id, secret, scope="openid profile siret",
                              redirect_uri=f"{base}/callback", code_challenge_method="S256")
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(12)
        url, state = oauth.create_authorization_url(
            f"{idp}/oidc/authorize", code_verifier=verifier, nonce=nonce, prompt="none",
            login_hint=request.args.get("login_hint", ""))
        session["pending"] = {"state": state, "verifier": verifier, "target": target}
        return redirect(url)

    @app.get("/callback")
    def callback():
        pending = session.pop("pending", None)
        if pending is None or request.args.get("state") != pending["state"]:
            abort(400)
        if "error" in request.args:
            return f"<h1>Connexion refusée : {html.escape(request.args['error'])}</h1>", 401
        oauth = OAuth2Session(client_id, secret, redirect_uri=f"{base}/callback",
                              state=pending["state"])
        tokens = oauth.fetch_token(f"{idp}/oidc/token", authorization_response=request.url,
                                   code_verifier=pending["verifier"])
        claims = verify(tokens["id_token"], idp)[1]
        session["person"] = f"{claims['given_name']} {claims['family_name']}"
        return redirect(pending["target"])

    @app.get("/", defaults={"page": ""})
    @app.get("/<path:page>")
    def any_page(page):
        person = session.get("person")
        who = f"Bonjour {html.escape(person)}" if person else "Non connecté"
        query = request.query_string.decode()
        here = html.escape(f"/{page}" + (f"?{query}" if query else ""))
        return (f"<!doctype html><html lang='fr'><title>{name}</title><h1>{name}</h1>"
                f"<p id='qui'>{who}</p><p id='page'>{here}</p></html>")

    return app


@pytest.fixture
def sites(demo):
    """The IdP and two partner sites (DSN and ATMP), registered and served."""
    idp = demo.config["ISSUER"]
    found = {"idp": idp}
    with ExitStack() as stack:
        stack.enter_context(serve(demo))
        for key, name, service in (("dsn", "Portail des déclarations", "DSN"),
                                   ("atmp", "Espace AT/MP", "ATMP")):
            base = f"http://127.0.0.1:{free_port()}"
            partner = register(demo, "--name", name, "--redirect-uri", f"{base}/callback",
                               "--initiate-login-uri", f"{base}/initier", "--service", service)
            stack.enter_context(serve(
                partner_site(name, idp, base, partner.client_id, partner.client_secret), base))
            found[key], found[f"{key}_id"] = base, partner.client_id
        yield found


def visited(page) -> list[str]:
    """Every address the tab's main frame goes through from now on."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url)
            if r.is_navigation_request() and r.frame == page.main_frame else None)
    return seen


def test_sign_in_then_land_on_the_wanted_partner_page(page, sites):
    wanted = f"{sites['dsn']}/declarations/2026-05?onglet=anomalies"
    page.goto(f"{sites['idp']}/connexion?cible={quote(wanted, safe='')}")
    expect(page.get_by_role("heading", name="Vous connecter")).to_be_visible()
    screenshot(page, "interop-01-connexion-cible")
    sign_in_here(page)
    expect(page.get_by_role("heading", name="Portail des déclarations")).to_be_visible()
    assert page.url == wanted
    expect(page.locator("#qui")).to_have_text("Bonjour Sophie Lefèvre")
    expect(page.locator("#page")).to_have_text("/declarations/2026-05?onglet=anomalies")
    screenshot(page, "interop-02-page-partenaire")

    # Signed in now: another link from a notification goes there at once.
    journey = visited(page)
    page.goto(f"{sites['idp']}/connexion?cible={quote(sites['dsn'] + '/attestations')}")
    expect(page.locator("#page")).to_have_text("/attestations")
    assert not [url for url in journey if urlsplit(url).path == "/connexion"
                and "cible" not in url]


def test_an_unregistered_target_is_a_refusal_page(page, sites):
    response = page.goto(f"{sites['idp']}/connexion?cible="
                         + quote("https://evil.example/piege", safe=""))
    assert response.status == 400
    expect(page.get_by_role("heading", name="Site non reconnu")).to_be_visible()
    assert urlsplit(page.url).netloc == urlsplit(sites["idp"]).netloc
    screenshot(page, "interop-03-cible-refusee")


def test_vos_services_and_naviguer_reach_the_partners_without_a_password(page, sites):
    page.goto(f"{sites['idp']}/connexion")
    sign_in_here(page)
    expect(page.get_by_role("heading", name="Votre compte")).to_be_visible()
    services = page.get_by_role("region", name="Vos services")
    expect(services.get_by_role("link", name="Compte AT/MP sur Espace AT/MP")).to_be_visible()
    screenshot(page, "interop-04-vos-services")

    journey = visited(page)
    services.get_by_role("link", name="Compte AT/MP sur Espace AT/MP").click()
    expect(page.get_by_role("heading", name="Espace AT/MP")).to_be_visible()
    expect(page.locator("#qui")).to_have_text("Bonjour Sophie Lefèvre")
    assert not [url for url in journey if urlsplit(url).path == "/connexion"]
    assert any(urlsplit(url).path == "/interop/naviguer" for url in journey)
    screenshot(page, "interop-05-espace-atmp")

    # From that portal to the other one, by /interop/naviguer: no password either.
    journey.clear()
    page.goto(f"{sites['idp']}/interop/naviguer?vers={sites['dsn_id']}"
              f"&cible={quote(sites['dsn'] + '/declarations', safe='')}")
    expect(page.get_by_role("heading", name="Portail des déclarations")).to_be_visible()
    expect(page.locator("#page")).to_have_text("/declarations")
    expect(page.locator("#qui")).to_have_text("Bonjour Sophie Lefèvre")
    assert not [url for url in journey if urlsplit(url).path == "/connexion"]
    screenshot(page, "interop-06-portail-dsn")


def test_naviguer_signs_an_anonymous_visitor_in_first(page, sites):
    page.goto(f"{sites['idp']}/interop/naviguer?vers={sites['atmp_id']}")
    expect(page.get_by_role("heading", name="Vous connecter")).to_be_visible()
    sign_in_here(page)
    expect(page.get_by_role("heading", name="Espace AT/MP")).to_be_visible()
    expect(page.locator("#qui")).to_have_text("Bonjour Sophie Lefèvre")
    screenshot(page, "interop-07-naviguer-apres-connexion")
