"""Server-side sessions: rotation at sign-in, cookie flags, sign-out everywhere, CSRF."""

from __future__ import annotations

from sqlalchemy import select

from idp import create_app
from idp.audit.models import AuditEvent
from idp.extensions import db, store
from idp.sessions import SESSION_KEY
from tests.conftest import csrf_token
from tests.conftest import sign_in as fill_login


def session_cookie(client):
    cookie = client.get_cookie("idp_session")
    return cookie.value if cookie else None


def set_cookie_header(response, name="idp_session"):
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "="))


def test_session_id_changes_at_sign_in_and_the_old_one_dies(client, account, app):
    client.get("/connexion")
    before = session_cookie(client)
    assert before
    fill_login(client)
    after = session_cookie(client)
    assert after and after != before
    store_ = store.get_from(app)
    assert store_.get(SESSION_KEY.format(before)) is None
    assert store_.get(SESSION_KEY.format(after)) is not None

    # An attacker who planted or read the pre-login id gets nothing with it.
    attacker = app.test_client()
    attacker.set_cookie("idp_session", before)
    assert attacker.get("/compte").status_code == 302


def test_cookie_is_httponly_and_samesite_lax(client, account):
    header = set_cookie_header(fill_login(client))
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Secure" not in header  # the test issuer is plain http


def test_cookie_is_secure_when_the_issuer_is_https(settings, account):
    settings.update(ISSUER="https://idp.example")
    client = create_app(settings).test_client()
    header = set_cookie_header(fill_login(client, base_url="https://idp.example"))
    assert "Secure" in header and "HttpOnly" in header


def test_the_browser_holds_only_a_random_id(client, account, app):
    fill_login(client)
    sid = session_cookie(client)
    assert len(sid) >= 43 and "Sophie" not in sid and "." not in sid
    assert str(account.id) in store.get_from(app).get(SESSION_KEY.format(sid))


def test_sign_out_asks_for_confirmation_then_ends_the_session_everywhere(signed_in, app,
                                                                         account):
    sid = session_cookie(signed_in)
    page = signed_in.get("/deconnexion")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Voulez-vous fermer votre session" in html
    assert signed_in.get("/compte").status_code == 200  # a GET alone signs nobody out

    done = signed_in.post("/deconnexion", data={"csrf_token": csrf_token(html)})
    assert done.status_code == 200
    assert "Vous êtes déconnecté" in done.get_data(as_text=True)
    assert store.get_from(app).get(SESSION_KEY.format(sid)) is None
    assert signed_in.get("/compte").status_code == 302

    replay = app.test_client()
    replay.set_cookie("idp_session", sid)
    assert replay.get("/compte").status_code == 302
    with app.app_context():
        outcomes = db.session.scalars(
            select(AuditEvent.outcome).where(AuditEvent.action == "logout",
                                             AuditEvent.account_id == account.id)).all()
    assert outcomes == ["success"]


def test_sign_out_without_csrf_token_is_refused(signed_in):
    response = signed_in.post("/deconnexion")
    assert response.status_code == 400
    assert "Formulaire expiré" in response.get_data(as_text=True)
    assert signed_in.get("/compte").status_code == 200


def test_sign_in_without_or_with_a_forged_csrf_token_is_refused(client, account):
    data = {"siret": "52814432200013", "last_name": "Lefèvre", "first_name": "Sophie",
            "password": "Camions2026"}
    missing = client.post("/connexion", data=data)
    assert missing.status_code == 400
    assert "Formulaire expiré" in missing.get_data(as_text=True)
    client.get("/connexion")
    forged = client.post("/connexion", data={**data, "csrf_token": "IjEyMyI.forged.token"})
    assert forged.status_code == 400
    assert client.get("/compte").status_code == 302


def test_csrf_token_of_another_session_is_refused(client, account, app):
    other = app.test_client()
    token = csrf_token(other.get("/connexion").get_data(as_text=True))
    client.get("/connexion")
    response = client.post("/connexion", data={
        "csrf_token": token, "siret": "52814432200013", "last_name": "Lefèvre",
        "first_name": "Sophie", "password": "Camions2026"})
    assert response.status_code == 400


def test_sign_out_when_not_signed_in_just_says_so(client):
    response = client.get("/deconnexion")
    assert response.status_code == 200
    assert "Vous êtes déconnecté" in response.get_data(as_text=True)
