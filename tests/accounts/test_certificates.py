"""« Utiliser un certificat » over real TLS: the IdP asks the browser for a certificate, and
signs in the account that registered it if it chains to the accepted authority and is
within its dates. The tests build their own authorities and certificates."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace
from urllib.parse import quote

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.accounts.login import ACR_CERTIFICATE
from idp.accounts.models import Account, ClientCertificate, Status
from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.conftest import PASSWORD, csrf_token, free_port, sign_in
from tests.oidc.conftest import SOPHIE, Flow, query, register
from tests.pki import Authority, tls_server

PAGE = "/compte/securite/certificats"


@pytest.fixture
def pki(tmp_path):
    """The accepted authority (its bundle configured), a rogue one, and people's certificates."""
    accepted = Authority(tmp_path, "AC Test Net-entreprises")
    rogue = Authority(tmp_path, "AC Inconnue")
    return SimpleNamespace(
        accepted=accepted, rogue=rogue,
        server=accepted.issue("localhost", server=True),
        sophie=accepted.issue("Sophie Lefevre"),
        other=accepted.issue("Quelqu'un d'autre"),
        expired=accepted.issue("Sophie expiree", days_from=-30, days_to=-1),
        untrusted=rogue.issue("Sophie rogue"))


@pytest.fixture
def settings(settings, pki):
    settings["CERTIFICATE_CA_BUNDLE"] = str(pki.accepted.bundle)
    settings["ISSUER"] = f"https://localhost:{free_port()}"
    return settings


@pytest.fixture
def https(app, pki):
    """The IdP behind its own TLS, asking for client certificates of both authorities (so
    that the IdP itself has to refuse the rogue one)."""
    port = int(app.config["ISSUER"].rsplit(":", 1)[1])
    with tls_server(app, port, pki.server, [pki.accepted, pki.rogue]) as base:
        yield base


def browser_with(pki, base, issued=None) -> requests.Session:
    """A browser trusting the IdP's server certificate, presenting ``issued`` if given."""
    browser = requests.Session()
    # Browsers send the page's address with a form; Flask-WTF demands it over HTTPS.
    browser.headers["Referer"] = f"{base}/"
    browser.trust_env = False  # REQUESTS_CA_BUNDLE would replace the test authority
    browser.verify = str(pki.accepted.bundle)
    if issued is not None:
        browser.cert = (str(issued.cert_path), str(issued.key_path))
    return browser


def shown(answer) -> str:
    return html.unescape(answer.text)


def register_certificate(browser, base, pem: str, password=PASSWORD, presented=False):
    page = browser.get(base + PAGE)
    data = {"csrf_token": csrf_token(page.text), "pem": pem, "password": password}
    if presented:
        data["presented"] = "y"
    return browser.post(base + PAGE, data=data, allow_redirects=False)


def signed_in_browser(pki, base, issued=None) -> requests.Session:
    browser = browser_with(pki, base, issued)
    assert sign_in(browser, f"{base}/connexion").status_code == 302
    return browser


def sign_in_with_certificate(browser, base, next_url=""):
    page = browser.get(f"{base}/connexion/certificat", params={"next": next_url} if next_url
                       else None)
    return browser.post(f"{base}/connexion/certificat", allow_redirects=False, data={
        "csrf_token": csrf_token(page.text), "next": next_url})


def test_registered_then_signs_in_over_tls(https, pki, account, app):
    owner = signed_in_browser(pki, https)
    answer = register_certificate(owner, https, pki.sophie.pem)
    assert answer.status_code == 302
    listing = shown(owner.get(https + PAGE))
    assert "CN=Sophie Lefevre,C=FR" in listing and "CN=AC Test Net-entreprises,C=FR" in listing
    assert "Jamais" in listing

    browser = browser_with(pki, https, pki.sophie)
    page = shown(browser.get(f"{https}/connexion/certificat"))
    assert "Votre navigateur présente ce certificat" in page and "CN=Sophie Lefevre" in page
    answer = sign_in_with_certificate(browser, https)
    assert answer.status_code == 302 and answer.headers["Location"] == "/compte"
    assert "Lefèvre" in browser.get(f"{https}/compte").text
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login")
                                   .order_by(AuditEvent.id.desc())).first()
        assert (event.outcome, event.details["vector"]) == ("success", "certificate")
        assert db.session.scalars(select(ClientCertificate)).one().last_used_at is not None


def test_the_certificate_the_browser_presents_can_be_registered(https, pki, account):
    browser = signed_in_browser(pki, https, pki.sophie)
    assert "Votre navigateur présente le certificat" in shown(browser.get(https + PAGE))
    assert register_certificate(browser, https, "", presented=True).status_code == 302
    assert sign_in_with_certificate(browser_with(pki, https, pki.sophie), https).status_code == 302


def test_a_certificate_file_can_be_uploaded(https, pki, account):
    browser = signed_in_browser(pki, https)
    page = browser.get(https + PAGE)
    answer = browser.post(https + PAGE, allow_redirects=False, data={
        "csrf_token": csrf_token(page.text), "password": PASSWORD},
        files={"file": ("sophie.crt", pki.sophie.pem.encode())})
    assert answer.status_code == 302, re.findall(r'class="error"[^>]*>([^<]+)', answer.text)


@pytest.mark.parametrize("which, message", [
    ("expired", "Ce certificat a expiré."),
    ("untrusted", "Ce certificat n'a pas été délivré par une autorité acceptée."),
    ("other", "Ce certificat n'est enregistré sur aucun compte."),
])
def test_refused_certificates_over_tls(https, pki, account, which, message):
    register_certificate(signed_in_browser(pki, https), https, pki.sophie.pem)
    browser = browser_with(pki, https, getattr(pki, which))
    answer = sign_in_with_certificate(browser, https)
    assert answer.status_code == 401 and message in shown(answer)
    assert browser.get(f"{https}/compte", allow_redirects=False).status_code == 302


def test_registration_refuses_expired_untrusted_garbage_and_duplicates(https, pki, account):
    browser = signed_in_browser(pki, https)
    cases = [(pki.expired.pem, "Ce certificat a expiré."),
             (pki.untrusted.pem, "n'a pas été délivré par une autorité acceptée"),
             ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
              "n'est pas un certificat X.509"),
             ("", "Collez un certificat")]
    for pem, message in cases:
        answer = register_certificate(browser, https, pem)
        assert answer.status_code == 400 and message in shown(answer), pem[:40]
    wrong = register_certificate(browser, https, pki.sophie.pem, password="Mauvais2026")
    assert wrong.status_code == 400 and "Le mot de passe actuel est incorrect." in shown(wrong)
    assert register_certificate(browser, https, pki.sophie.pem).status_code == 302
    again = register_certificate(browser, https, pki.sophie.pem)
    assert again.status_code == 400 and "déjà enregistré" in shown(again)


def test_removed_it_no_longer_signs_in(https, pki, account):
    owner = signed_in_browser(pki, https)
    register_certificate(owner, https, pki.sophie.pem)
    page = owner.get(https + PAGE).text
    action = re.search(r'action="(/compte/securite/certificats/\d+/supprimer)"', page).group(1)
    answer = owner.post(https + action, data={"csrf_token": csrf_token(page)})
    assert "est supprimé" in shown(answer)
    refused = sign_in_with_certificate(browser_with(pki, https, pki.sophie), https)
    assert refused.status_code == 401


def test_without_a_certificate_the_page_says_so(https, pki, account):
    browser = browser_with(pki, https)
    assert "n'a présenté aucun certificat" in shown(browser.get(f"{https}/connexion/certificat"))
    token = csrf_token(browser.get(f"{https}/connexion").text)  # no button here: a forged post
    answer = browser.post(f"{https}/connexion/certificat", data={"csrf_token": token})
    assert answer.status_code == 400 and "n'a présenté aucun certificat" in shown(answer)


def test_a_blocked_account_is_refused(https, pki, account, app):
    register_certificate(signed_in_browser(pki, https), https, pki.sophie.pem)
    with app.app_context():
        db.session.get(Account, account.id).status = Status.LOCKED
        db.session.commit()
    answer = sign_in_with_certificate(browser_with(pki, https, pki.sophie), https)
    assert answer.status_code == 403 and "bloqué" in shown(answer)


def test_with_two_factor_the_code_is_still_asked(https, pki, account, app):
    register_certificate(signed_in_browser(pki, https), https, pki.sophie.pem)
    with app.app_context():
        db.session.get(Account, account.id).totp_secret = "JBSWY3DPEHPK3PXP"
        db.session.commit()
    answer = sign_in_with_certificate(browser_with(pki, https, pki.sophie), https)
    assert answer.status_code == 302 and answer.headers["Location"] == "/connexion/code"


def test_the_login_page_offers_it(https, pki):
    page = shown(browser_with(pki, https).get(f"{https}/connexion?next=/compte"))
    assert 'href="/connexion/certificat?next=/compte"' in page
    assert "Utiliser un certificat" in page


def test_a_partner_can_demand_a_certificate_sign_in(https, pki, demo):
    partner = register(demo, "--name", "Portail", "--redirect-uri",
                       "https://partenaire.example/retour", "--service", "DSN")
    browser = signed_in_browser(pki, https, pki.sophie)  # a password sign-in
    register_certificate(browser, https, pki.sophie.pem, password=SOPHIE["password"])
    flow = Flow(https, partner, browser, acr_values=ACR_CERTIFICATE)
    demanded = browser.get(flow.url, allow_redirects=False)
    assert demanded.headers["Location"].startswith("/connexion/certificat?next=")
    next_url = query(demanded.headers["Location"])["next"]
    answer = sign_in_with_certificate(browser, https, next_url)
    assert answer.status_code == 302 and answer.headers["Location"] == next_url
    callback = flow.authorize()
    tokens = flow.redeem(callback, verify=str(pki.accepted.bundle))
    claims = verify_with(tokens["id_token"], https, pki)
    assert claims["acr"] == ACR_CERTIFICATE and claims["amr"] == ["swk"]


def verify_with(token, base, pki) -> dict:
    """The ID token's claims, verified with the JWKS fetched over the test TLS."""
    keys = browser_with(pki, base).get(f"{base}/oidc/jwks").json()
    return jwt.decode(token, KeySet.import_key_set(keys), algorithms=["RS256", "ES256"]).claims


def test_a_trusted_proxy_passes_the_certificate_in_a_header(https, app, pki, account):
    register_certificate(signed_in_browser(pki, https), https, pki.sophie.pem)
    app.config["TRUSTED_PROXIES"] = 1  # the proxy terminates TLS and presents no certificate
    proxied = browser_with(pki, https)
    proxied.headers["X-SSL-Client-Cert"] = quote(pki.sophie.pem)  # nginx's escaped form
    assert sign_in_with_certificate(proxied, https).status_code == 302
    app.config["TRUSTED_PROXIES"] = 0  # no proxy in front: the header is anyone's
    forged = browser_with(pki, https)
    forged.headers["X-SSL-Client-Cert"] = quote(pki.sophie.pem)
    assert "n'a présenté aucun certificat" in shown(forged.get(f"{https}/connexion/certificat"))


def test_not_offered_without_a_bundle(app, client):
    app.config["CERTIFICATE_CA_BUNDLE"] = None
    assert client.get("/connexion/certificat").status_code == 404
    assert "Utiliser un certificat" not in client.get("/connexion").get_data(as_text=True)
