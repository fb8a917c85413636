"""POST /authentifier/1.0/ over real HTTP: every status, real XML, the jeton verified."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import requests
from sqlalchemy import select

from idp.accounts.models import Account, Status
from idp.audit.models import AuditEvent
from idp.extensions import db
from tests.conftest import sign_in
from tests.machine.conftest import KARIM, SOPHIE, identifiants
from tests.oidc.conftest import verify

REALM = 'Basic realm="net-entreprises.fr"'


def set_status(app, first_name: str, status: Status) -> None:
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.first_name == first_name))
        account.status = status
        db.session.commit()


def test_a_jeton_for_the_service_with_its_habilitations(software, issuer, demo):
    answer = software(identifiants(KARIM))
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Type"].startswith("text/plain")
    header, claims = verify(answer.text, issuer, typ="at+jwt")  # the body is the jeton
    assert claims["iss"] == issuer and claims["aud"] == "DSN"
    assert claims["client_id"] == "urn:netentreprises:authentifier"
    assert claims["siret"] == KARIM["siret"] and claims["amr"] == ["pwd"]
    assert claims["habilitations"] == [
        {"service": "DSN", "siret": "52814432200021", "rights": ["declarer"]}]
    with demo.app_context():
        karim = db.session.scalar(select(Account).where(Account.first_name == "Karim"))
        assert claims["sub"] == str(karim.id)
    expires = parsedate_to_datetime(answer.headers["Expires"]).timestamp()
    assert expires == claims["exp"] and claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 60


def test_another_service_gives_another_audience_and_only_its_rights(software, issuer):
    answer = software(identifiants(KARIM, service="DUCS"))
    assert answer.status_code == 200, answer.text
    claims = verify(answer.text, issuer)[1]
    assert claims["aud"] == "DUCS"
    assert {entry["service"] for entry in claims["habilitations"]} == {"DUCS"}


def refusal(answer) -> tuple:
    return answer.status_code, answer.headers.get("WWW-Authenticate"), answer.text


def test_wrong_password_unknown_account_and_no_right_answer_alike(software):
    wrong = software(identifiants({**KARIM, "motdepasse": "Mauvais2026"}))
    unknown = software(identifiants({**KARIM, "nom": "Inconnu"}))
    no_right = software(identifiants(KARIM, service="ATMP"))  # Karim has none on ATMP
    assert refusal(wrong) == refusal(unknown) == refusal(no_right)
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == REALM
    assert "Identifiants refusés" in wrong.text


def test_unknown_service_is_422_before_any_check(software):
    answer = software(identifiants(KARIM, service="NOPE"))
    assert answer.status_code == 422 and "Service inconnu : NOPE." in answer.text


def test_a_blocked_account_is_403_only_with_the_right_password(software, demo):
    set_status(demo, "Karim", Status.LOCKED)
    assert software(identifiants(KARIM)).status_code == 403
    assert software(identifiants({**KARIM, "motdepasse": "Mauvais2026"})).status_code == 401


def test_a_removed_account_is_unknown(software, demo):
    set_status(demo, "Karim", Status.REMOVED)
    assert software(identifiants(KARIM)).status_code == 401


def test_a_candidate_administrator_has_no_right_yet(software, demo):
    set_status(demo, "Sophie", Status.CANDIDATE_ADMIN)
    assert software(identifiants(SOPHIE)).status_code == 401


def test_other_content_types_are_415(software):
    for content_type in ("application/json", "application/x-www-form-urlencoded",
                         "text/plain"):
        answer = software(identifiants(KARIM), content_type=content_type)
        assert answer.status_code == 415, content_type
        assert "application/xml" in answer.text
    assert software(identifiants(KARIM), content_type="text/xml; charset=utf-8") \
        .status_code == 200


def test_a_large_body_is_413_announced_or_streamed(software, issuer):
    large = identifiants({**KARIM, "nom": "x" * 5000})
    assert software(large).status_code == 413

    def chunks():  # no Content-Length: the endpoint reads no further than its limit
        yield b"<identifiants>"
        for _ in range(100):
            yield b" " * 1000

    streamed = requests.post(f"{issuer}/authentifier/1.0/", data=chunks(), timeout=30,
                             headers={"Content-Type": "application/xml"})
    assert streamed.status_code == 413


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE identifiants [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<identifiants><siret>52814432200021</siret><nom>&secret;</nom><prenom>Karim</prenom>
<motdepasse>Benali2026</motdepasse><service>DSN</service></identifiants>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<identifiants><siret>52814432200021</siret><nom>&lol3;</nom><prenom>Karim</prenom>
<motdepasse>Benali2026</motdepasse><service>DSN</service></identifiants>"""


def test_xml_attacks_are_refused_without_being_expanded(software):
    for body in (XXE, LAUGHS):
        answer = software(body)
        assert answer.status_code == 422
        assert "DOCTYPE" in answer.text and "root:" not in answer.text


def test_malformed_bodies_are_422_with_the_reason(software):
    cases = {
        b"": "XML mal formé",
        b"<identifiants><siret>1</siret>": "XML mal formé",
        b"siret=52814432200021": "XML mal formé (ligne 1, colonne 5)",
        b"<connexion/>": "L'élément racine doit être <identifiants>.",
        identifiants({k: v for k, v in KARIM.items() if k != "prenom"}):
            "Élément <prenom> manquant.",
        identifiants({**KARIM, "nom": ""}): "Élément <nom> vide.",
        identifiants({**KARIM, "siret": "5281443220002"}): "Le SIRET doit compter 14 chiffres.",
        identifiants({**KARIM, "siret": "5281443220002١"}): "Le SIRET doit compter 14 chiffres.",
        identifiants({**KARIM, "nom": "<b>Benali</b>"}):
            "L'élément <nom> ne doit contenir que du texte.",
        identifiants({**KARIM, "login": "x"}): "Élément <login> inattendu.",
        identifiants({**KARIM, "nom": "x" * 101}): "Élément <nom> trop long",
        identifiants(KARIM).replace(b"</identifiants>", b"<nom>Benali</nom></identifiants>"):
            "Élément <nom> en double.",
    }
    for body, reason in cases.items():
        answer = software(body)
        assert answer.status_code == 422, (body, answer.text)
        assert reason in answer.text, (body, answer.text)


def test_reasons_in_english_when_asked(issuer):
    answer = requests.post(f"{issuer}/authentifier/1.0/?lang=en", data=b"<connexion/>",
                           headers={"Content-Type": "application/xml"}, timeout=30)
    assert answer.status_code == 422 and "root element" in answer.text


def test_spaces_around_values_are_layout_but_part_of_the_password(software):
    body = (b"<identifiants>\n  <siret> 52814432200021 </siret>\n  <nom>\n Benali </nom>"
            b"<prenom>Karim</prenom><motdepasse>Benali2026</motdepasse>"
            b"<service>DSN</service>\n</identifiants>")
    assert software(body).status_code == 200
    assert software(identifiants({**KARIM, "motdepasse": " Benali2026"})).status_code == 401


def test_one_throttle_for_software_and_the_form(software, demo, issuer):
    wrong = identifiants({**KARIM, "motdepasse": "Mauvais2026"})
    answers = [software(wrong) for _ in range(demo.config["LOGIN_FREE_ATTEMPTS"])]
    assert [a.status_code for a in answers] == [401] * len(answers)
    assert int(answers[-1].headers["Retry-After"]) > 0  # the last failure started a wait
    throttled = software(identifiants(KARIM))  # even the right password waits
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    # The form sees the same wait for the same person.
    page = sign_in(requests.Session(), f"{issuer}/connexion", siret=KARIM["siret"],
                   last_name="Benali", first_name="Karim", password="Benali2026")
    assert page.status_code == 429


def test_every_attempt_is_journaled_like_a_sign_in(software, demo):
    software(identifiants(KARIM))
    software(identifiants({**KARIM, "motdepasse": "Mauvais2026"}))
    software(identifiants(KARIM, service="ATMP"))
    with demo.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action.in_(["login", "jeton"])).order_by(AuditEvent.id)).all()
        seen = [(e.action, e.outcome, e.details.get("vector"), e.details.get("reason"),
                 e.details.get("service")) for e in events]
    assert seen == [
        ("login", "success", "authentifier", None, "DSN"),
        ("login", "failure", "authentifier", "invalid_credentials", "DSN"),
        ("login", "success", "authentifier", None, "ATMP"),
        ("jeton", "failure", None, "no_habilitation", "ATMP"),
    ]
    assert all("Benali2026" not in str(e.details) for e in events)


def test_get_is_refused_without_a_5xx(issuer):
    assert requests.get(f"{issuer}/authentifier/1.0/", timeout=30).status_code == 405


def test_a_long_list_of_rights_leaves_the_jeton_for_the_verifier(software, issuer, demo):
    demo.config["OIDC_INLINE_HABILITATIONS_MAX_BYTES"] = 10  # a firm's thousands of clients
    claims = verify(software(identifiants(KARIM)).text, issuer)[1]
    assert "habilitations" not in claims
    assert claims["habilitations_verifier"] == f"{issuer}/api/v1/habilitations/verifier"
