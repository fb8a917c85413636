"""/gestion: every route is for active administrators only (candidates and declarants get a
403), and a candidate can no longer act on another person's password reset."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.accounts.models import PasswordResetRequest, ResetRequestStatus, Role, Status
from idp.extensions import db
from idp.registration.models import AdminCandidacy
from tests.conftest import SIRET_SIEGE, csrf_token, make_account, sign_in

PEOPLE = {
    "candidate": {"last_name": "Morel", "first_name": "Agnès", "role": Role.ADMINISTRATOR,
                  "status": Status.CANDIDATE_ADMIN},
    "declarant": {"last_name": "Petit", "first_name": "Luc", "role": Role.DECLARANT,
                  "status": Status.ACTIVE},
}


@pytest.fixture
def pending(app, account):
    """A password-reset request of a declarant and a candidacy, both waiting for a decision."""
    requester = make_account(app, last_name="Garnier", first_name="Paul", role=Role.DECLARANT)
    candidate = make_account(app, **PEOPLE["candidate"])
    declarant = make_account(app, **PEOPLE["declarant"])
    with app.app_context():
        request = PasswordResetRequest(account_id=requester.id, siret=SIRET_SIEGE)
        candidacy = AdminCandidacy(account_id=candidate.id, siren=SIRET_SIEGE[:9],
                                   activation_key_hash="unused")
        db.session.add_all([request, candidacy])
        db.session.commit()
        return {"request": request.id, "candidacy": candidacy.id, "declarant": declarant.id}


def gestion_routes(app, pending) -> list[tuple[str, str]]:
    """(method, path) of every /gestion route of the app, path arguments filled in."""
    values = {"request_id": pending["request"], "candidacy_id": pending["candidacy"],
              "account_id": pending["declarant"], "portfolio_id": 1, "siret": SIRET_SIEGE}
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/gestion"):
            continue
        arguments = {name: values[name] for name in rule.arguments if name in values}
        for name, converter in rule._converters.items():  # any(…): its first value
            if name not in arguments:
                arguments[name] = sorted(converter.items)[0]
        path = rule.build(arguments)[1]
        routes += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def test_every_gestion_route_is_listed(app, pending):
    paths = {path for _, path in gestion_routes(app, pending)}
    assert {"/gestion", "/gestion/demandes", "/gestion/administrateurs"} <= paths
    assert len(paths) >= 5


@pytest.mark.parametrize("who", sorted(PEOPLE))
def test_candidates_and_declarants_are_refused_everywhere(app, client, pending, who):
    sign_in(client, last_name=PEOPLE[who]["last_name"],
            first_name=PEOPLE[who]["first_name"])
    token = csrf_token(client.get("/compte/securite").get_data(as_text=True))
    for method, path in gestion_routes(app, pending):
        response = client.open(path, method=method, data={"csrf_token": token})
        assert response.status_code == 403, (who, method, path)
        assert "Accès refusé" in response.get_data(as_text=True)
    with app.app_context():  # nothing was decided
        request = db.session.get(PasswordResetRequest, pending["request"])
        assert request.status is ResetRequestStatus.PENDING


def test_anonymous_visitors_are_sent_to_sign_in(app, client, pending):
    for method, path in gestion_routes(app, pending):
        response = client.open(path, method=method)
        assert response.status_code in (302, 400), (method, path)
        if method == "GET":
            assert response.headers["Location"].startswith("/connexion?next=")


def test_active_administrator_sees_both_lists(app, signed_in, pending):
    menu = signed_in.get("/gestion").get_data(as_text=True)
    assert "/gestion/demandes" in menu and "/gestion/administrateurs" in menu
    resets = signed_in.get("/gestion/demandes").get_data(as_text=True)
    assert "Paul Garnier" in resets and "Envoyer un lien" in resets
    candidates = signed_in.get("/gestion/administrateurs").get_data(as_text=True)
    assert "Agnès Morel" in candidates and "Accord" in candidates


def test_unknown_ids_and_missing_csrf_are_clean_errors(signed_in, pending):
    token = csrf_token(signed_in.get("/gestion/demandes").get_data(as_text=True))
    for path in ("/gestion/demandes/999999999/lien", "/gestion/administrateurs/0/refus"):
        assert signed_in.post(path, data={"csrf_token": token}).status_code == 404
    assert signed_in.post("/gestion/demandes/99999999999999999999/lien",
                          data={"csrf_token": token}).status_code == 404
    assert signed_in.post(f"/gestion/demandes/{pending['request']}/lien").status_code == 400
    assert signed_in.post(f"/gestion/demandes/{pending['request']}/autre",
                          data={"csrf_token": token}).status_code == 404


def test_candidate_cannot_handle_a_reset_request_through_the_service(app, pending):
    from idp.accounts.deps import recovery
    from idp.audit.service import Origin

    with app.test_request_context():
        candidate = db.session.scalar(select(AdminCandidacy)).account
        service = recovery()
        assert service.pending_requests(candidate) == []
        assert not service.handle_request(candidate, pending["request"], True, Origin())
        assert db.session.get(PasswordResetRequest,
                              pending["request"]).status is ResetRequestStatus.PENDING


def test_candidate_account_page_does_not_say_administrator(client, pending):
    sign_in(client, last_name="Morel", first_name="Agnès")
    page = client.get("/compte").get_data(as_text=True)
    assert "Administrateur en attente d'activation" in page
    assert "/gestion" not in page
    assert "Saisir la clé d'activation" in page
