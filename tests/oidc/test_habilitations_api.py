"""The habilitations APIs for partners: the check (``/api/v1/habilitations/verifier``, GET for
one SIRET, POST for up to 1,000) with a partner's client-credentials token, and the claim's
listing (``/api/v1/habilitations``) by keyset cursor. Over real HTTP, on both storage modes.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest
import requests
from sqlalchemy import event, select

from idp.accounts.models import Account, Status
from idp.demo import CABINET_SIRET, PEOPLE, PORTFOLIO_CLIENTS
from idp.directory.models import Company, Establishment
from idp.extensions import db
from idp.habilitations.deps import habilitation_service
from idp.habilitations.models import DeclarantLink, Portfolio, PortfolioClient
from idp.models_common import utcnow
from tests.habilitations.test_agreement import SCENARIOS
from tests.oidc.conftest import JULIE, REDIRECT_URI, SOPHIE, Flow, register

VERIFIER = "/api/v1/habilitations/verifier"
LISTING = "/api/v1/habilitations"
SIEGE, VILLEURBANNE, GRENOBLE = "52814432200013", "52814432200021", "52814432200039"
FUTURE = "52814432200054"  # not in the directory: a SIREN-wide right covers it anyway
CLIENT = "44231785500017"  # a client of the cabinet's portfolio


@pytest.fixture
def partners(demo):
    """Two partners as in the demo: DSN + DUCS, and ATMP + PPREV (PPREV implied by ATMP)."""
    return {"dsn": register(demo, "--name", "Portail DSN", "--redirect-uri", REDIRECT_URI,
                            "--service", "DSN", "--service", "DUCS"),
            "atmp": register(demo, "--name", "Compte AT/MP", "--redirect-uri", REDIRECT_URI,
                             "--service", "ATMP", "--service", "PPREV")}


@pytest.fixture
def accounts(demo) -> dict[str, uuid.UUID]:
    with demo.app_context():
        return {a.first_name: a.id for a in db.session.scalars(select(Account))}


def client_token(issuer, partner, scope="habilitations") -> str:
    response = requests.post(f"{issuer}/oidc/token",
                             data={"grant_type": "client_credentials", "scope": scope},
                             auth=(partner.client_id, partner.client_secret))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def person_token(issuer, partner, person=SOPHIE) -> str:
    flow = Flow(issuer, partner, requests.Session())
    return flow.redeem(flow.authorize(person))["access_token"]


def expected_rights(app, account_id, service, siret) -> list[str]:
    with app.app_context():
        return habilitation_service().rights_on(account_id, service, siret).names()


# --- the check: who may ask ---------------------------------------------------------------

def assert_refused(response, status, error):
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.text
    if status in (401, 403):
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_check_needs_a_partners_own_token(demo, issuer, partners, accounts):
    dsn = partners["dsn"]
    query = {"sub": str(accounts["Sophie"]), "service": "DSN", "siret": SIEGE}
    body = {"sub": str(accounts["Sophie"]), "service": "DSN", "sirets": [SIEGE]}
    # No token, a forged one, a person's token (even the partner's own flow), a token without
    # the habilitations scope.
    assert requests.get(issuer + VERIFIER, params=query).status_code == 401
    assert requests.post(issuer + VERIFIER, json=body).status_code == 401
    for headers in (bearer("x.y.z"), {"Authorization": "Basic eDp5"}):
        assert requests.get(issuer + VERIFIER, params=query, headers=headers).status_code == 401
    person = bearer(person_token(issuer, dsn))
    assert_refused(requests.get(issuer + VERIFIER, params=query, headers=person),
                   401, "invalid_token")
    assert_refused(requests.post(issuer + VERIFIER, json=body, headers=person),
                   401, "invalid_token")
    narrow = bearer(client_token(issuer, dsn, "openid"))
    assert_refused(requests.get(issuer + VERIFIER, params=query, headers=narrow),
                   403, "insufficient_scope")
    # A partner asks only about the services it hosts, known or not.
    own = bearer(client_token(issuer, dsn))
    for service in ("ATMP", "PPREV", "UNKNOWN"):
        assert_refused(requests.get(issuer + VERIFIER, params={**query, "service": service},
                                    headers=own), 403, "insufficient_scope")
        assert_refused(requests.post(issuer + VERIFIER, json={**body, "service": service},
                                     headers=own), 403, "insufficient_scope")
    ok = requests.get(issuer + VERIFIER, params=query, headers=own)
    assert ok.status_code == 200
    assert ok.json() == {**query, "rights": ["declarer", "payer"]}
    # A partner deleted since its token was issued.
    result = demo.test_cli_runner().invoke(args=["idp", "client", "delete", dsn.client_id])
    assert result.exit_code == 0, result.output
    with demo.app_context():
        demo.extensions["idp_client_cache"].clear()
    assert_refused(requests.get(issuer + VERIFIER, params=query, headers=own),
                   401, "invalid_token")


@pytest.mark.parametrize(("name", "value"), [
    ("sub", None), ("sub", "not-a-uuid"), ("sub", "1"), ("sub", str(uuid.uuid4()).upper()),
    ("sub", "{" + str(uuid.uuid4()) + "}"), ("sub", str(uuid.uuid4()).replace("-", "")),
    ("service", None), ("service", "dsn"), ("service", ""), ("service", "D" * 17),
    ("service", "DSN "), ("service", "DSN\x00"),
    ("siret", None), ("siret", "5281443220001"), ("siret", "528144322000130"),
    ("siret", "5281443220001a"), ("siret", "١٢٣٤٥٦٧٨٩٠١٢٣٤"), ("siret", " 52814432200013"),
    ("siret", "52814432200013\x00"), ("siret", "x" * 5000),
])
def test_the_get_check_validates_every_parameter(issuer, partners, accounts, name, value):
    query = {"sub": str(accounts["Sophie"]), "service": "DSN", "siret": SIEGE, name: value}
    response = requests.get(issuer + VERIFIER, params=query,
                            headers=bearer(client_token(issuer, partners["dsn"])))
    assert_refused(response, 400, "invalid_request")
    assert response.json()["error_description"].isascii()


def test_the_get_check_refuses_unknown_and_repeated_parameters(issuer, partners, accounts):
    own = bearer(client_token(issuer, partners["dsn"]))
    base = f"{issuer}{VERIFIER}?sub={accounts['Sophie']}&service=DSN&siret={SIEGE}"
    for url in (base + "&extra=1", base + f"&siret={VILLEURBANNE}", base + "&service=DSN",
                base + "&a%22b%5C=1"):
        response = requests.get(url, headers=own)
        assert_refused(response, 400, "invalid_request")
        assert not {'"', "\\"} & set(response.json()["error_description"])
    assert requests.get(base, headers=own).status_code == 200


def bad_bodies(sophie: str):
    good = {"sub": sophie, "service": "DSN", "sirets": [SIEGE]}
    yield [good]  # an array
    yield "DSN"
    yield {**good, "extra": 1}
    yield {"sub": sophie, "service": "DSN"}
    yield {**good, "sub": 12}
    yield {**good, "sub": "not-a-uuid"}
    yield {**good, "service": ["DSN"]}
    yield {**good, "service": "dsn"}
    yield {**good, "sirets": SIEGE}
    yield {**good, "sirets": []}
    yield {**good, "sirets": [int(SIEGE)]}
    yield {**good, "sirets": [SIEGE, "123"]}
    yield {**good, "sirets": [SIEGE, None]}
    yield {**good, "sirets": [[SIEGE]]}
    yield {**good, "sirets": [SIEGE] * 1001}


def test_the_post_check_validates_its_json_body(issuer, partners, accounts):
    own = bearer(client_token(issuer, partners["dsn"]))
    for body in bad_bodies(str(accounts["Sophie"])):
        response = requests.post(issuer + VERIFIER, json=body, headers=own)
        assert_refused(response, 400, "invalid_request")
    good = json.dumps({"sub": str(accounts["Sophie"]), "service": "DSN", "sirets": [SIEGE]})
    for raw, content_type in [
            (good, "text/plain"), (good, "application/x-www-form-urlencoded"),
            ("{", "application/json"), ("", "application/json"),
            ("[" * 20_000 + "]" * 20_000, "application/json"),
            ('{"sub": NaN}', "application/json"), (b"\xff\xfe{}", "application/json"),
            (good.replace("DSN", "D\\u0000"), "application/json")]:
        response = requests.post(issuer + VERIFIER, data=raw,
                                 headers={**own, "Content-Type": content_type})
        assert_refused(response, 400, "invalid_request")
    # Past the size limit (1,000 SIRETs fit well within it): 413, never read whole.
    padded = good[:-1] + ", " + " " * 70_000 + "}"
    response = requests.post(issuer + VERIFIER, data=padded,
                             headers={**own, "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"] == "invalid_request"
    assert requests.post(issuer + VERIFIER, data=good, headers={
        **own, "Content-Type": "application/json"}).status_code == 200


# --- the check: what it answers -----------------------------------------------------------

def test_the_check_answers_what_rights_on_says(demo, issuer, partners, accounts):
    with demo.app_context():
        sirets = [*db.session.scalars(select(Establishment.siret).order_by(Establishment.siret)),
                  FUTURE]
    http = requests.Session()
    for partner in partners.values():
        own = bearer(client_token(issuer, partner))
        for person in PEOPLE:
            sub = str(accounts[person.first_name])
            for service in sorted(partner.services):
                expected = {s: expected_rights(demo, accounts[person.first_name], service, s)
                            for s in sirets}
                for siret in sirets:
                    answer = http.get(issuer + VERIFIER, headers=own, params={
                        "sub": sub, "service": service, "siret": siret})
                    assert answer.status_code == 200
                    assert answer.json() == {"sub": sub, "service": service, "siret": siret,
                                             "rights": expected[siret]}
                batch = http.post(issuer + VERIFIER, headers=own, json={
                    "sub": sub, "service": service, "sirets": [*sirets, sirets[0]]})
                assert batch.status_code == 200
                assert batch.json() == {"sub": sub, "service": service, "results": [
                    {"siret": s, "rights": expected[s]} for s in [*sirets, sirets[0]]]}


@pytest.mark.parametrize(("person", "service", "siret", "rights"), [
    ("Karim", "DUCS", VILLEURBANNE, ["declarer", "payer"]),  # on the SIRET itself
    ("Karim", "DUCS", SIEGE, []),
    ("Sophie", "DSN", FUTURE, ["declarer", "payer"]),  # the SIREN, establishments to come
    ("Sophie", "DSN", GRENOBLE, ["declarer", "payer"]),
    ("Julie", "DSN", CLIENT, ["declarer"]),  # a portfolio's client
    ("Julie", "DSN", CABINET_SIRET, []),  # the firm itself is no client
    ("Julie", "PPREV", CLIENT, ["consulter"]),  # implied by ATMP, through the portfolio
    ("Sophie", "PPREV", SIEGE, ["declarer", "consulter"]),  # implied by ATMP and MCF
])
def test_the_check_on_each_path(issuer, partners, accounts, person, service, siret, rights):
    partner = partners["dsn" if service in ("DSN", "DUCS") else "atmp"]
    answer = requests.get(issuer + VERIFIER, headers=bearer(client_token(issuer, partner)),
                          params={"sub": str(accounts[person]), "service": service,
                                  "siret": siret})
    assert answer.json()["rights"] == rights


def test_no_rights_for_unknown_or_inactive_accounts(demo, issuer, partners, accounts):
    own = bearer(client_token(issuer, partners["dsn"]))

    def ask(sub):
        one = requests.get(issuer + VERIFIER, headers=own,
                           params={"sub": sub, "service": "DSN", "siret": VILLEURBANNE})
        many = requests.post(issuer + VERIFIER, headers=own, json={
            "sub": sub, "service": "DSN", "sirets": [VILLEURBANNE, SIEGE]})
        assert one.status_code == many.status_code == 200
        return one.json()["rights"], [r["rights"] for r in many.json()["results"]]

    assert ask(str(accounts["Karim"])) == (["declarer"], [["declarer"], []])
    assert ask(str(uuid.uuid4())) == ([], [[], []])  # the same answer as a rightless account
    for status in (Status.CANDIDATE_ADMIN, Status.PENDING_EMAIL, Status.LOCKED,
                   Status.REMOVED):
        with demo.app_context():
            db.session.get(Account, accounts["Karim"]).status = status
            db.session.commit()
        assert ask(str(accounts["Karim"])) == ([], [[], []]), status


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rights_on_many_agrees_with_rights_on(demo, accounts, scenario):
    with demo.app_context():
        SCENARIOS[scenario][0](accounts)
        rules = habilitation_service()
        sirets = [*db.session.scalars(select(Establishment.siret)), FUTURE]
        for account_id in accounts.values():
            for service in [s.code for s in rules.catalogue()]:
                many = rules.rights_on_many(account_id, service, sirets)
                assert many == {s: rules.rights_on(account_id, service, s) for s in sirets}


# --- the listing, by keyset cursor --------------------------------------------------------

def walk(issuer, token, per_page) -> list[list[dict]]:
    """Every page of the listing, following ``next``."""
    pages = []
    url = f"{issuer}{LISTING}?per_page={per_page}"
    while url:
        response = requests.get(url, headers=bearer(token))
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) <= {"habilitations", "next_cursor", "next"}
        assert ("next" in body) == ("next_cursor" in body)
        pages.append(body["habilitations"])
        url = issuer + body["next"] if "next" in body else None
        if url:
            assert body["next_cursor"] in url
            assert len(body["habilitations"]) == per_page
        assert len(pages) < 1000
    return pages


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_listing_after_pages_through_the_listing(demo, accounts, scenario):
    with demo.app_context():
        SCENARIOS[scenario][0](accounts)
        rules = habilitation_service()
        codes = [s.code for s in rules.catalogue()]
        for account_id in accounts.values():
            for services in (codes, ["DSN", "DUCS"], ["ATMP", "PPREV"], ["PPREV"], []):
                expected = rules.listing(account_id, services)
                for limit in (1, 2, 3, 1000):
                    seen, after = [], None
                    while True:
                        page, after = rules.listing_after(account_id, services, after, limit)
                        seen += page
                        if after is None:
                            break
                        assert len(page) == limit
                    assert seen == expected, (scenario, services, limit)


@pytest.fixture
def big_portfolio(demo, accounts):
    """The cabinet's portfolio with 300 more clients (a recent DSN for every third one):
    Julie's DSN and ATMP habilitations reach them; returns the new SIRETs."""
    with demo.app_context():
        sirets = []
        for n in range(300):
            siren = f"9{n:08d}"
            db.session.add(Company(siren=siren, name=f"Client {n}"))
            db.session.add(Establishment(siret=siren + "00012", siren=siren, nic="00012",
                                         is_headquarters=True, name=f"Client {n}"))
            sirets.append(siren + "00012")
        db.session.flush()
        portfolio_id = db.session.scalar(select(Portfolio.id).where(
            Portfolio.owner_siret == CABINET_SIRET))
        db.session.add_all(PortfolioClient(portfolio_id=portfolio_id, siret=s) for s in sirets)
        db.session.add_all(DeclarantLink(declarant_siret=CABINET_SIRET, declared_siret=s,
                                         last_dsn_at=utcnow() - timedelta(days=10))
                           for s in sirets[::3])
        db.session.commit()
    return sirets


def test_the_cursor_walks_a_big_portfolio_once_in_order(demo, issuer, partners, accounts,
                                                        big_portfolio):
    for partner, sirets in ((partners["dsn"], [*PORTFOLIO_CLIENTS, *big_portfolio]),
                            (partners["atmp"], [*PORTFOLIO_CLIENTS, *big_portfolio[::3]])):
        token = person_token(issuer, partner, JULIE)
        with demo.app_context():
            expected = habilitation_service().listing(accounts["Julie"], partner.services)
        assert len(expected) == len(sirets) * (2 if partner is partners["atmp"] else 1)
        assert sorted(e["siret"] for e in expected if e["service"] in ("DSN", "ATMP")) == \
            sorted(sirets)
        for per_page in (1000, 7, 1) if partner is partners["dsn"] else (50,):
            pages = walk(issuer, token, per_page)
            entries = [entry for page in pages for entry in page]
            assert entries == expected, per_page
            assert len(pages) == -(-len(expected) // per_page)  # no empty last page


def test_a_page_reads_no_more_than_it_serves(demo, accounts, big_portfolio):
    # A 300-client portfolio is not expanded whole for a page of 5: every query on its
    # clients is limited, and few rows come back.
    with demo.app_context():
        rules = habilitation_service()
        statements = []

        def record(conn, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters))

        engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            first, after = rules.listing_after(accounts["Julie"], ["DSN"], None, 5)
            second, after = rules.listing_after(accounts["Julie"], ["DSN"], after, 5)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        expected = rules.listing(accounts["Julie"], ["DSN"])
        assert first + second == expected[:10]
        client_queries = [s for s, _ in statements if "portfolio_clients" in s]
        assert client_queries and all("LIMIT" in s for s in client_queries)
        # SQLAlchemy writes « LIMIT ? OFFSET ? » on SQLite, with an offset of 0.
        assert all("OFFSET" not in s or parameters[-1] == 0 for s, parameters in statements)


def test_a_siren_wide_right_is_one_entry(issuer, partners):
    pages = walk(issuer, person_token(issuer, partners["dsn"]), 1)
    assert [entry for page in pages for entry in page] == [
        {"service": "DSN", "siren": "528144322", "rights": ["declarer", "payer"]}]


def cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("value", [
    "", "!!!", "a" * 201, "é", "AAAA", cursor({"service": "DSN"}), cursor(["DSN", 0, 1]),
    cursor(["DSN", 0, 1, "", 5]), cursor(["dsn", 0, 1, ""]), cursor(["DSN", 2, 1, ""]),
    cursor(["DSN", True, 1, ""]), cursor(["DSN", 0, 0, ""]), cursor(["DSN", 0, 2**63, ""]),
    cursor(["DSN", 0, 1.5, ""]), cursor(["DSN", 0, "1", ""]), cursor(["DSN", 0, 1, "123"]),
    cursor(["DSN", 0, 1, None]), cursor(["D" * 17, 0, 1, ""]), cursor("DSN"),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(), cursor(["DSN", 0, 1, ""]) + "=",
])
def test_a_bad_cursor_is_an_invalid_request(issuer, partners, value):
    token = person_token(issuer, partners["dsn"], JULIE)
    response = requests.get(issuer + LISTING, params={"cursor": value}, headers=bearer(token))
    assert_refused(response, 400, "invalid_request")


def test_page_sizes_and_the_old_page_parameter(issuer, partners):
    token = bearer(person_token(issuer, partners["dsn"], JULIE))
    for per_page in ("0", "1001", "-1", "1e3", " 5", "٥", "9" * 5000, ""):
        response = requests.get(issuer + LISTING, params={"per_page": per_page}, headers=token)
        assert_refused(response, 400, "invalid_request")
    for query in ({"page": "2"}, {"page": "1", "per_page": "10"}, {"offset": "3"}):
        response = requests.get(issuer + LISTING, params=query, headers=token)
        assert_refused(response, 400, "invalid_request")
    full = requests.get(issuer + LISTING, params={"per_page": "1000"}, headers=token).json()
    assert len(full["habilitations"]) == 4 and "next" not in full
    one = requests.get(issuer + LISTING, params={"per_page": "1"}, headers=token).json()
    assert one["habilitations"] == full["habilitations"][:1] and "next_cursor" in one
    assert requests.get(issuer + LISTING, headers=token).json() == full  # 500 by default
    # A partner's own token speaks for nobody: there is no person to list for.
    own = bearer(client_token(issuer, partners["dsn"]))
    assert_refused(requests.get(issuer + LISTING, headers=own), 401, "invalid_token")
