"""The login widget in Debian's Chromium, across two sites as in production: the IdP on
``localhost:<port>``, the partner « Compte AT/MP » on ``127.0.0.1:<other port>``, and a third
site for what must fail. The partner's page embeds the contract's snippet; its back end makes
state, nonce and PKCE, then redeems the code the widget hands over and checks the ID token.

Each test runs in its own Chromium profile whose preference allows or blocks third-party
cookies (``profile.cookie_controls_mode``); a canary framed from the IdP shows which.
"""

from __future__ import annotations

import json
import re
import secrets
from contextlib import contextmanager

import pyotp
import pytest
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask, make_response, render_template_string, request
from playwright.sync_api import expect

from tests.accounts.test_two_factor import enrol, next_code
from tests.conftest import free_port, serve, sign_in
from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    enrol_passkey,
    screenshot,
    virtual_authenticator,
)
from tests.oidc.conftest import register, verify

MFA = "urn:netentreprises:acr:mfa"
SOPHIE = {"siret": "52814432200013", "last_name": "Lefèvre", "first_name": "Sophie",
          "password": "Camions2026"}

PARTNER_PAGE = """<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>Compte AT/MP</title></head>
<body>
  <h1>Compte AT/MP</h1>
  <div id="connexion-ne" style="max-width: 34rem"></div>
  <p id="resultat" role="status"></p>
  <p id="acr"></p>
  {% if attacker %}<iframe id="attaque" src="{{ attacker }}"></iframe>{% endif %}
  <script>
    window.messages = [];
    window.addEventListener("message", function (event) {
      window.messages.push({origin: event.origin, data: event.data});
    });
  </script>
  {% if no_popup %}<script>window.open = function () { return null; };</script>{% endif %}
  <script src="{{ idp }}/widget/v1/widget.js"></script>
  <script>
    var options = {{ options|tojson }};
    window.successes = 0;
    options.onSuccess = function (response) {
      window.successes += 1;
      fetch("/session", {method: "POST", headers: {"Content-Type": "application/json"},
                         body: JSON.stringify(response)})
        .then(function (answer) { return answer.json(); })
        .then(function (body) {
          document.getElementById("resultat").textContent = body.message;
          document.getElementById("acr").textContent = body.acr || "";
        });
    };
    options.onError = function (error) {
      document.getElementById("resultat").textContent = "Erreur : " + error.error;
    };
    window.widget = NetEntreprises.widget.mount(document.getElementById("connexion-ne"),
                                                options);
  </script>
</body>
</html>"""

CANARY_PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Canari</title>
</head><body><iframe id="canari" src="{{ idp }}/_test/canari"></iframe></body></html>"""

# A page of another site that forges what the IdP's frame would say, to its parent.
FORGERY = """<!doctype html><html><head><meta charset="utf-8"></head><body><script>
  var state = new URLSearchParams(location.search).get("state");
  var iss = new URLSearchParams(location.search).get("iss");
  [{type: "authorization_response", response: {code: "volé", state: state, iss: iss}},
   {type: "resize", state: state, height: 3999},
   {type: "interaction_required", state: state, message: "Piège", action: "Cliquez ici"},
   {type: "ready", state: state}].forEach(function (message) {
     parent.postMessage(message, "*");
   });
</script></body></html>"""


@pytest.fixture
def settings(settings):
    """The IdP on ``localhost``: another site than the partner's ``127.0.0.1``."""
    settings["ISSUER"] = f"http://localhost:{free_port()}"
    return settings


class PartnerSite:
    """« Compte AT/MP »: a page with the widget and the back end behind it."""

    def __init__(self, app, idp: str):
        self.idp = idp
        self.app = Flask("compte_atmp")
        self.app.config["ISSUER"] = f"http://127.0.0.1:{free_port()}"
        self.origin = self.app.config["ISSUER"]
        self.partner = register(app, "--name", "Compte AT/MP", "--redirect-uri", self.origin,
                                "--widget-origin", self.origin, "--service", "ATMP")
        self.pending: dict[str, dict] = {}  # the back end's sessions, by state
        self.attacker = None
        self.app.add_url_rule("/", view_func=self.page)
        self.app.add_url_rule("/session", view_func=self.session, methods=["POST"])
        self.app.add_url_rule("/canari", view_func=self.canary_page)

    def options(self, client_id=None, redirect_uri=None) -> dict:
        """What the back end gives the page: a fresh state, nonce and PKCE challenge."""
        verifier, state, nonce = (secrets.token_urlsafe(48), secrets.token_urlsafe(16),
                                  secrets.token_urlsafe(16))
        self.pending[state] = {"verifier": verifier, "nonce": nonce}
        options = {"clientId": client_id or self.partner.client_id,
                   "redirectUri": redirect_uri or self.origin,
                   "scope": "openid profile siret habilitations", "state": state,
                   "nonce": nonce, "codeChallenge": create_s256_code_challenge(verifier)}
        if request.args.get("acr"):
            options["acrValues"] = MFA
        if request.args.get("timeout"):
            options["timeout"] = int(request.args["timeout"])
        return options

    def render(self, options, **context):
        response = make_response(render_template_string(
            PARTNER_PAGE, idp=self.idp, options=options, **context))
        if request.args.get("bloquer"):  # this page's own policy forbids every frame
            response.headers["Content-Security-Policy"] = "frame-src 'none'"
        if request.args.get("sans_webauthn"):  # nor may its frames use passkeys
            response.headers["Permissions-Policy"] = "publickey-credentials-get=()"
        return response

    def page(self):
        options = self.options()
        attacker = None
        if request.args.get("attaque"):
            attacker = (f"{self.attacker}/forge?state={options['state']}&iss={self.idp}")
        return self.render(options, attacker=attacker,
                           no_popup=bool(request.args.get("sans_popup")))

    def session(self):
        """The code from the widget: redeemed with the verifier, the ID token checked."""
        body = request.get_json()
        pending = self.pending.pop(body.get("state"), None)
        if pending is None or body.get("iss") != self.idp:
            return {"message": "Réponse refusée"}, 400
        tokens = requests.post(f"{self.idp}/oidc/token", data={
            "grant_type": "authorization_code", "code": body.get("code"),
            "redirect_uri": self.origin, "code_verifier": pending["verifier"],
        }, auth=(self.partner.client_id, self.partner.client_secret))
        if tokens.status_code != 200:
            return {"message": f"Code refusé ({tokens.json().get('error')})"}, 400
        _, claims = verify(tokens.json()["id_token"], self.idp)
        if claims["nonce"] != pending["nonce"]:
            return {"message": "Nonce refusé"}, 400
        return {"message": f"Bienvenue {claims['given_name']} {claims['family_name']}",
                "acr": claims["acr"]}

    def canary_page(self):
        return render_template_string(CANARY_PAGE, idp=self.idp)


class OtherSite:
    """A site whose origin no partner registered: it tries to show the widget, and forges
    messages."""

    def __init__(self, partner: PartnerSite):
        self.partner = partner
        self.app = Flask("ailleurs")
        self.app.config["ISSUER"] = f"http://127.0.0.1:{free_port()}"
        self.origin = self.app.config["ISSUER"]
        self.app.add_url_rule("/", view_func=self.page)
        self.app.add_url_rule("/forge", view_func=lambda: FORGERY)

    def page(self):
        # The partner's client_id and its registered origin as redirect_uri: only the
        # framing page's origin differs.
        options = self.partner.options(redirect_uri=self.partner.origin)
        options["timeout"] = 4000
        return render_template_string(PARTNER_PAGE, idp=self.partner.idp, options=options)


@pytest.fixture
def sites(demo):
    """The IdP (with a test-only canary page), the partner and another site, served."""
    partner_holder = {}

    def canary():
        seen = request.cookies.get("canari")
        response = make_response(f'<p id="canari">{"envoyé" if seen else "absent"}</p>')
        response.set_cookie("canari", "1", samesite="None", secure=True)
        response.headers["Content-Security-Policy"] = (
            f"frame-ancestors {partner_holder['origin']}")
        return response

    demo.add_url_rule("/_test/canari", view_func=canary)
    with serve(demo) as idp:
        partner = PartnerSite(demo, idp)
        partner_holder["origin"] = partner.origin
        other = OtherSite(partner)
        partner.attacker = other.origin
        with serve(partner.app), serve(other.app):
            yield partner, other


@contextmanager
def profile(chromium, tmp_path, third_party_cookies: str):
    """A browser with its own profile, third-party cookies ``allowed`` or ``blocked`` by the
    profile's preference (as a person sets it in Chromium's settings)."""
    data = tmp_path / f"profil-{third_party_cookies}"
    (data / "Default").mkdir(parents=True)
    mode = {"allowed": 0, "blocked": 1}[third_party_cookies]
    (data / "Default" / "Preferences").write_text(
        json.dumps({"profile": {"cookie_controls_mode": mode}}))
    context = chromium.browser_type.launch_persistent_context(
        str(data), executable_path=CHROMIUM, args=CHROMIUM_ARGS, locale="fr-FR",
        viewport={"width": 1100, "height": 900})
    try:
        yield context.pages[0] if context.pages else context.new_page()
    finally:
        context.close()


def canary(page, partner: PartnerSite) -> str:
    """Frame the IdP's canary twice: "envoyé" if the cookie it set came back."""
    for _ in range(2):
        page.goto(f"{partner.origin}/canari")
        text = page.frame_locator("#canari").locator("#canari")
        expect(text).to_have_text(re.compile("envoyé|absent"))
    return text.inner_text()


def frame(page):
    return page.frame_locator("iframe.ne-widget-frame")


def wait_for_message(page, kind: str):
    page.wait_for_function(
        f"window.messages.some(m => m.data && m.data.type === {json.dumps(kind)})")


def fill_credentials(where, person=SOPHIE):
    where.get_by_label("SIRET").fill(person["siret"])
    where.get_by_label("Nom", exact=False).first.fill(person["last_name"])
    where.get_by_label("Prénom").fill(person["first_name"])
    where.get_by_label("Mot de passe").fill(person["password"])


WELCOME = "Bienvenue Sophie Lefèvre"


@pytest.mark.parametrize("cookies", ["allowed", "blocked"])
def test_widget_sign_in(chromium, tmp_path, sites, cookies):
    partner, _ = sites
    with profile(chromium, tmp_path, cookies) as page:
        # The canary: a cookie the framed IdP page sets comes back only when allowed.
        assert canary(page, partner) == ("envoyé" if cookies == "allowed" else "absent")

        page.goto(partner.origin)
        wait_for_message(page, "ready")
        widget = frame(page)
        expect(widget.get_by_role("heading", name="Vous connecter")).to_be_visible()
        expect(widget.get_by_role("link", name="Mot de passe oublié ?")).to_have_attribute(
            "target", "_blank")
        expect(widget.get_by_role("link", name="Vous inscrire")).to_have_attribute(
            "target", "_blank")
        screenshot(page, f"widget-{cookies}-01-form")

        fill_credentials(widget, {**SOPHIE, "password": "Mauvais2026"})
        widget.get_by_role("button", name="Vous connecter").click()
        alert = widget.get_by_role("alert")
        expect(alert).to_contain_text("ne permettent pas de vous identifier")
        expect(alert).to_be_focused()
        # The taller page told its new height: the loader fitted the frame to it.
        page.wait_for_function("window.messages.filter(m => m.data.type === 'resize')"
                               ".length >= 2")
        height = page.evaluate("document.querySelector('iframe.ne-widget-frame')"
                               ".getBoundingClientRect().height")
        assert height > 700
        screenshot(page, f"widget-{cookies}-02-error")

        fill_credentials(widget)
        widget.get_by_role("button", name="Vous connecter").click()
        expect(page.locator("#resultat")).to_have_text(WELCOME)
        expect(page.locator("#acr")).to_have_text("urn:netentreprises:acr:pwd")
        expect(page.locator("iframe.ne-widget-frame")).to_have_count(0)
        assert page.evaluate("window.successes") == 1
        assert page.evaluate(
            f"window.messages.every(m => m.origin === {json.dumps(partner.idp)} "
            f"|| m.origin === {json.dumps(partner.origin)})")
        screenshot(page, f"widget-{cookies}-03-signed-in")


def test_widget_second_step(chromium, tmp_path, sites, demo, mailbox):
    partner, _ = sites
    client = demo.test_client()
    assert sign_in(client).status_code == 302
    secret, _ = enrol(client)
    with profile(chromium, tmp_path, "blocked") as page:
        page.goto(partner.origin)
        widget = frame(page)
        fill_credentials(widget)
        widget.get_by_role("button", name="Vous connecter").click()
        expect(widget.get_by_role("heading", name="Code de vérification")).to_be_visible()
        expect(widget.get_by_label("Code de vérification")).to_be_focused()
        screenshot(page, "widget-2fa-01-code")
        widget.get_by_label("Code de vérification").fill(next_code(secret))
        widget.get_by_role("button", name="Valider").click()
        expect(page.locator("#resultat")).to_have_text(WELCOME)
        expect(page.locator("#acr")).to_have_text(MFA)
        screenshot(page, "widget-2fa-02-signed-in")


def password_then_passkey(page, partner: PartnerSite, query: str):
    """Enrol a passkey top-level, then give the password in the widget of ``query``'s page;
    the frame."""
    virtual_authenticator(page)
    enrol_passkey(page, partner.idp)
    page.goto(f"{partner.origin}/?{query}")
    widget = frame(page)
    fill_credentials(widget)
    widget.get_by_role("button", name="Vous connecter").click()
    return widget


def test_widget_passkey_step(chromium, tmp_path, sites):
    partner, _ = sites
    with profile(chromium, tmp_path, "blocked") as page:
        widget = password_then_passkey(page, partner, "acr=mfa")
        expect(widget.get_by_role("heading", name="Clé d'accès")).to_be_visible()
        use = widget.get_by_role("button", name="Utiliser une clé d'accès")
        expect(use).to_be_focused()
        screenshot(page, "widget-passkey-01-step")
        use.click()  # the ceremony runs in the IdP's frame, inside the partner's page
        expect(page.locator("#resultat")).to_have_text(WELCOME)
        expect(page.locator("#acr")).to_have_text(MFA)
        assert page.evaluate("window.successes") == 1
        screenshot(page, "widget-passkey-02-signed-in")


def test_widget_passkey_goes_top_level_where_the_page_keeps_webauthn_out(chromium, tmp_path,
                                                                          sites):
    partner, _ = sites
    with profile(chromium, tmp_path, "blocked") as page:
        password_then_passkey(page, partner, "sans_webauthn=1")
        wait_for_message(page, "interaction_required")
        expect(page.locator(".ne-widget-panel")).to_contain_text(
            "Votre clé d'accès vous est demandée")
        expect(page.get_by_role("button", name="Continuer dans une nouvelle fenêtre")
               ).to_be_visible()
        assert page.evaluate("window.successes") == 0
        screenshot(page, "widget-passkey-03-top-level")


def test_an_unregistered_origin_cannot_frame_the_widget(chromium, tmp_path, sites):
    partner, other = sites
    with profile(chromium, tmp_path, "allowed") as page:
        page.goto(partner.origin)  # the same snippet on the registered origin: ready
        wait_for_message(page, "ready")
        page.evaluate("widget.unmount()")
        expect(page.locator("#connexion-ne")).to_be_empty()

        page.goto(other.origin)
        page.wait_for_timeout(1000)
        screenshot(page, "widget-unregistered-01-blocked")
        # The loader gives up waiting (4 s here) and offers a window instead.
        button = page.get_by_role("button", name="Continuer dans une nouvelle fenêtre")
        expect(button).to_be_visible(timeout=10_000)
        assert page.evaluate("window.messages.length") == 0  # the frame never spoke
        screenshot(page, "widget-unregistered-02-offer")

        # Nor does the window: its answer is posted to the registered origin only, which
        # this page is not.
        with page.expect_popup() as opened:
            button.click()
        popup = opened.value
        fill_credentials(popup)
        with popup.expect_event("close"):
            popup.get_by_role("button", name="Vous connecter").click()
        page.wait_for_timeout(500)
        assert page.evaluate("window.messages.length") == 0
        assert page.evaluate("window.successes") == 0
        expect(page.locator("#resultat")).to_have_text("")


def test_forged_messages_are_ignored(chromium, tmp_path, sites):
    partner, other = sites
    with profile(chromium, tmp_path, "allowed") as page:
        page.goto(f"{partner.origin}/?attaque=1")
        wait_for_message(page, "ready")
        # The other site's frame posted a code, a resize, an interaction_required…
        page.wait_for_function(f"window.messages.filter(m => m.origin === "
                               f"{json.dumps(other.origin)}).length === 4")
        # …and so does a script of the page itself, from the same window.
        state = page.evaluate("options.state")
        page.evaluate("""state => window.postMessage({type: "authorization_response",
            response: {code: "volé", state: state}}, "*")""", state)
        page.wait_for_timeout(500)
        assert page.evaluate("window.successes") == 0
        expect(page.locator("#resultat")).to_have_text("")
        expect(page.locator(".ne-widget-panel")).to_have_count(0)
        height = page.evaluate("document.querySelector('iframe.ne-widget-frame').style.height")
        assert height != "3999px"
        screenshot(page, "widget-forged-ignored")

        widget = frame(page)
        fill_credentials(widget)
        widget.get_by_role("button", name="Vous connecter").click()
        expect(page.locator("#resultat")).to_have_text(WELCOME)  # the real code, redeemed
        assert page.evaluate("window.successes") == 1


def test_popup_when_the_page_cannot_show_the_frame(chromium, tmp_path, sites):
    partner, _ = sites
    with profile(chromium, tmp_path, "blocked") as page:
        page.goto(f"{partner.origin}/?bloquer=1&timeout=1500")
        button = page.get_by_role("button", name="Continuer dans une nouvelle fenêtre")
        expect(button).to_be_visible()
        expect(button).to_be_focused()
        screenshot(page, "widget-popup-01-offer")
        with page.expect_popup() as opened:
            button.click()
        popup = opened.value
        expect(popup.get_by_role("heading", name="Vous connecter")).to_be_visible()
        assert popup.url.startswith(f"{partner.idp}/connexion")
        fill_credentials(popup)
        screenshot(popup, "widget-popup-02-window")
        with popup.expect_event("close"):  # the answer posted, the window closes itself
            popup.get_by_role("button", name="Vous connecter").click()
        expect(page.locator("#resultat")).to_have_text(WELCOME)
        screenshot(page, "widget-popup-03-signed-in")


def test_interaction_required_then_enrolment_in_the_popup(chromium, tmp_path, sites):
    partner, _ = sites
    with profile(chromium, tmp_path, "blocked") as page:
        page.goto(f"{partner.origin}/?acr=mfa")
        widget = frame(page)
        fill_credentials(widget)
        widget.get_by_role("button", name="Vous connecter").click()
        wait_for_message(page, "interaction_required")
        button = page.get_by_role("button", name="Continuer dans une nouvelle fenêtre")
        expect(button).to_be_visible()
        expect(page.locator(".ne-widget-panel")).to_contain_text("double authentification")
        screenshot(page, "widget-mfa-01-offer")
        with page.expect_popup() as opened:
            button.click()
        popup = opened.value
        fill_credentials(popup)
        popup.get_by_role("button", name="Vous connecter").click()
        expect(popup.get_by_role("heading", name="Activer la double authentification")
               ).to_be_visible()
        secret = popup.locator("#totp-secret").inner_text().replace(" ", "")
        popup.get_by_label("Code de vérification").fill(pyotp.TOTP(secret).now())
        screenshot(popup, "widget-mfa-02-enrolment")
        popup.get_by_role("button", name="Activer").click()
        popup.get_by_role("link", name="J'ai noté mes codes, continuer").click()
        expect(page.locator("#resultat")).to_have_text(WELCOME)
        expect(page.locator("#acr")).to_have_text(MFA)
        screenshot(page, "widget-mfa-03-signed-in")


def test_full_page_redirect_when_the_popup_is_blocked(chromium, tmp_path, sites):
    partner, _ = sites
    with profile(chromium, tmp_path, "blocked") as page:
        page.goto(f"{partner.origin}/?bloquer=1&timeout=1500&sans_popup=1")
        page.get_by_role("button", name="Continuer dans une nouvelle fenêtre").click()
        expect(page.get_by_role("heading", name="Vous connecter")).to_be_visible()
        assert page.url.startswith(f"{partner.idp}/connexion")
        screenshot(page, "widget-redirect-01-idp")
        fill_credentials(page)
        page.get_by_role("button", name="Vous connecter").click()
        # Back on the partner's page with the answer in its address: the loader hands it
        # to onSuccess (its state is the one this tab sent) and cleans the address.
        expect(page.locator("#resultat")).to_have_text(WELCOME)
        assert page.url.rstrip("/") == partner.origin
        assert page.evaluate("window.successes") == 1
        screenshot(page, "widget-redirect-02-signed-in")
