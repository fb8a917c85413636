"""Writes go through the rules: grant, revoke, transfer, subscribe, the catalogue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from idp.directory.models import Establishment
from idp.extensions import db
from idp.habilitations.deps import habilitation_service
from idp.habilitations.models import Granularity, Habilitation, Right, Service, Subscription
from idp.habilitations.service import CatalogueEntry, HabilitationRefused, HabilitationService
from idp.models_common import utcnow
from tests.habilitations.test_rights import (
    CLIENT,
    GRENOBLE,
    SIEGE,
    VILLEURBANNE,
    C,
    D,
    P,
    portfolio_id,
)

NOW = utcnow()  # the stopped clock of ``at_now`` (the demo data is loaded a bit later)
DAY = timedelta(hours=24)


@pytest.fixture
def at_now(accounts) -> HabilitationService:
    """The rules with their clock stopped at ``NOW``."""
    return HabilitationService(db.session, clock=lambda: NOW)


def rows_of(account_id) -> list[tuple]:
    rows = db.session.execute(select(
        Habilitation.service_code, Habilitation.siret, Habilitation.siren,
        Habilitation.portfolio_id, Habilitation.rights).where(
        Habilitation.account_id == account_id))
    return sorted((tuple(row) for row in rows), key=repr)


def test_a_grant_starts_after_the_access_delay(accounts, at_now):
    grant = at_now.grant(accounts["Karim"], "ATMP", siret=VILLEURBANNE, rights=["consulter"],
                         granted_by=accounts["Sophie"])
    assert grant.id and grant.effective_from == NOW + DAY and grant.granted_at == NOW
    assert grant.granted_by == accounts["Sophie"]
    assert at_now.rights_on(accounts["Karim"], "ATMP", VILLEURBANNE) == Right(0)
    assert at_now.rights_on(accounts["Karim"], "ATMP", VILLEURBANNE, at=NOW + DAY) == C
    explicit = at_now.grant(accounts["Karim"], "DSN", siret=SIEGE, rights=D, effective_from=NOW)
    assert explicit.effective_from == NOW


def test_one_row_per_scope_whose_rights_are_replaced(accounts, at_now):
    before = db.session.scalar(select(func.count()).select_from(Habilitation))
    karim = accounts["Karim"]
    first = db.session.scalar(select(Habilitation).where(
        Habilitation.account_id == karim, Habilitation.service_code == "DUCS"))
    started, granted_at = first.effective_from, first.granted_at

    assert at_now.grant(karim, "DUCS", siret=VILLEURBANNE, rights=D | P) is first
    assert (first.effective_from, first.granted_at) == (started, granted_at)  # same rights
    at_now.grant(karim, "DUCS", siret=VILLEURBANNE, rights=["payer"])
    assert first.rights == P and first.effective_from == started  # less: nothing waits
    at_now.grant(karim, "DUCS", siret=VILLEURBANNE, rights=["declarer", "payer"])
    assert first.effective_from == NOW + DAY  # more: the row waits like a new one
    assert db.session.scalar(select(func.count()).select_from(Habilitation)) == before


@pytest.mark.parametrize(("code", "scope", "rights", "reason"), [
    ("NOPE", {"siret": SIEGE}, ["declarer"], "unknown_service"),
    ("DSN", {"siret": SIEGE}, ["signer"], "unknown_right"),
    ("ATMP", {"siret": SIEGE}, ["payer"], "unknown_right"),  # ATMP only knows consulter
    ("DSN", {"siret": SIEGE}, 8, "unknown_right"),
    ("DSN", {"siret": SIEGE}, [], "no_right"),
    ("DSN", {}, ["declarer"], "scope"),
    ("DSN", {"siret": SIEGE, "siren": SIEGE[:9]}, ["declarer"], "scope"),
    ("MCF", {"siret": SIEGE}, ["declarer"], "granularity"),  # MCF is per company
    ("DSN", {"siret": "52814432200099"}, ["declarer"], "unknown_scope"),
    ("DSN", {"siren": "999999999"}, ["declarer"], "unknown_scope"),
    ("DSN", {"portfolio_id": 999}, ["declarer"], "unknown_scope"),
    ("MCF", {"portfolio_id": "cabinet"}, ["declarer"], "portfolio_service"),
])
def test_grants_the_rules_refuse(accounts, rules, code, scope, rights, reason):
    if scope.get("portfolio_id") == "cabinet":
        scope = {"portfolio_id": portfolio_id()}  # holds DSN, DUCS, ATMP: not MCF
    with pytest.raises(HabilitationRefused) as refused:
        rules.grant(accounts["Karim"], code, **scope, rights=rights)
    assert refused.value.reason == reason


def test_siren_and_portfolio_grants(accounts, rules):
    rules.grant(accounts["Karim"], "MCF", siren="528144322", rights=["consulter"],
                effective_from=utcnow())
    rules.grant(accounts["Marc"], "ATMP", portfolio_id=portfolio_id(), rights=["consulter"],
                effective_from=utcnow())
    assert rules.rights_on(accounts["Karim"], "MCF", GRENOBLE) == C
    assert rules.rights_on(accounts["Marc"], "ATMP", CLIENT) == C


def test_revoke(accounts, rules):
    assert rules.revoke(accounts["Karim"], "DUCS", siret=VILLEURBANNE) is True
    assert rules.rights_on(accounts["Karim"], "DUCS", VILLEURBANNE) == Right(0)
    assert rules.revoke(accounts["Karim"], "DUCS", siret=VILLEURBANNE) is False
    assert rules.revoke(accounts["Julie"], "ATMP", portfolio_id=portfolio_id()) is True
    assert rules.rights_on(accounts["Julie"], "ATMP", CLIENT) == Right(0)
    with pytest.raises(HabilitationRefused):
        rules.revoke(accounts["Julie"], "ATMP")


def test_transfer_moves_everything_and_merges_rights(accounts, at_now):
    elodie, karim, sophie = accounts["Élodie"], accounts["Karim"], accounts["Sophie"]
    # Karim already has DSN « payer » on Grenoble, where Élodie has « declarer ».
    at_now.grant(karim, "DSN", siret=GRENOBLE, rights=["payer"], effective_from=NOW - DAY)
    moved = at_now.transfer(elodie, karim, granted_by=sophie)
    assert moved == 2
    assert rows_of(elodie) == []
    assert rows_of(karim) == sorted([
        ("DSN", GRENOBLE, None, None, int(D | P)), ("ATMP", GRENOBLE, None, None, int(C)),
        ("DSN", VILLEURBANNE, None, None, int(D)), ("DUCS", VILLEURBANNE, None, None, int(D | P)),
    ], key=repr)
    merged = db.session.scalar(select(Habilitation).where(
        Habilitation.account_id == karim, Habilitation.siret == GRENOBLE,
        Habilitation.service_code == "DSN"))
    assert merged.granted_by == sophie and merged.granted_at == NOW
    db.session.commit()
    assert at_now.rights_on(karim, "ATMP", GRENOBLE, at=utcnow()) == C
    assert at_now.rights_on(elodie, "DSN", GRENOBLE, at=utcnow()) == Right(0)


def test_transfer_of_portfolio_habilitations(accounts, rules):
    julie, marc = accounts["Julie"], accounts["Marc"]
    assert rules.transfer(julie, marc) == 2
    assert rules.rights_on(marc, "DSN", CLIENT) == D | P  # already had more
    assert rules.rights_on(marc, "ATMP", CLIENT) == C  # moved, still effective
    assert rules.listing(julie, ["DSN", "ATMP"]) == []


def test_transfer_keeps_the_later_start(accounts, at_now):
    karim, elodie = accounts["Karim"], accounts["Élodie"]
    at_now.grant(elodie, "DUCS", siret=VILLEURBANNE, rights=["declarer"])  # starts NOW + DAY
    at_now.grant(karim, "DUCS", siret=VILLEURBANNE, rights=["payer"])  # narrower: no wait
    at_now.transfer(elodie, karim)
    merged = db.session.scalar(select(Habilitation).where(
        Habilitation.account_id == karim, Habilitation.service_code == "DUCS"))
    assert merged.rights == D | P and merged.effective_from == NOW + DAY


def test_transfer_to_oneself_is_refused(accounts, rules):
    with pytest.raises(HabilitationRefused) as refused:
        rules.transfer(accounts["Karim"], accounts["Karim"])
    assert refused.value.reason == "same_account"


def test_subscribe_is_idempotent_and_starts_after_the_delay(accounts, at_now):
    count = db.session.scalar(select(func.count()).select_from(Subscription))
    existing = at_now.subscribe("DSN", siret=SIEGE)
    assert existing.effective_from < NOW  # the demo's, unchanged
    new = at_now.subscribe("DUCS", siret=GRENOBLE, subscribed_by=accounts["Sophie"])
    assert new.effective_from == NOW + DAY and new.subscribed_by == accounts["Sophie"]
    assert at_now.subscribe("DUCS", siret=GRENOBLE) is new
    company = at_now.subscribe("DOETH", siren="528144322")
    assert company.siren == "528144322" and company.siret is None
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == count + 2
    for code, scope, reason in (("DOETH", {"siret": SIEGE}, "granularity"),
                                ("DSN", {"siret": SIEGE, "siren": "528144322"}, "scope"),
                                ("NOPE", {"siret": SIEGE}, "unknown_service")):
        with pytest.raises(HabilitationRefused) as refused:
            at_now.subscribe(code, **scope)
        assert refused.value.reason == reason


def test_scope_for_follows_the_granularity(accounts, rules):
    assert rules.scope_for("DSN", SIEGE) == {"siret": SIEGE}
    assert rules.scope_for("MCF", SIEGE) == {"siren": "528144322"}


def test_catalogue_load_and_refresh(accounts, rules):
    assert [s.code for s in rules.catalogue()] == ["ATMP", "DOETH", "DSN", "DUCS", "MCF",
                                                   "PPREV"]
    rules.load_catalogue([CatalogueEntry("NET", "Net-entreprises", Granularity.SIREN,
                                         ("consulter",), implied_by=("DSN",),
                                         access_delay_hours=1)])
    rules.grant(accounts["Karim"], "DSN", siret=GRENOBLE, rights=["declarer"])
    grant = rules.grant(accounts["Karim"], "NET", siren="528144322", rights=["consulter"])
    assert grant.effective_from - utcnow() <= timedelta(hours=1)  # the service's own delay
    assert rules.rights_on(accounts["Karim"], "NET", VILLEURBANNE) == Right(0)  # DSN: declarer
    service = db.session.get(Service, "NET")
    assert (service.rights, service.implied_by) == (int(C), ["DSN"])
    with pytest.raises(HabilitationRefused):
        rules.load_catalogue([CatalogueEntry("BAD", "Bad", Granularity.SIRET, ("declarer",),
                                             implied_by=("NOPE",))])


def test_factory_uses_the_apps_session_and_clock(accounts, clock):
    rules = habilitation_service()
    assert rules.rights_on(accounts["Karim"], "DUCS", VILLEURBANNE) == D | P
    rules.grant(accounts["Karim"], "ATMP", siret=VILLEURBANNE, rights=["consulter"])
    assert habilitation_service().rights_on(accounts["Karim"], "ATMP", VILLEURBANNE) == Right(0)
    clock.advance(25 * 3600)  # past ATMP's access delay
    assert habilitation_service().rights_on(accounts["Karim"], "ATMP", VILLEURBANNE) == C


def test_registration_grants_per_company_services_on_the_company(directory, client):
    from tests.registration.conftest import walk

    with directory.app_context():
        HabilitationService(db.session).load_catalogue([
            CatalogueEntry("DSN", "DSN", Granularity.SIRET, ("declarer", "payer")),
            CatalogueEntry("MCF", "Mon Compte Formation", Granularity.SIREN,
                           ("declarer", "consulter"))])
        db.session.commit()
    done = walk(client, services=("DSN", "MCF"), siret=VILLEURBANNE, last_name="Dupont",
                first_name="Jean", email="jean.dupont@transports.example")
    assert done.status_code == 200
    with directory.app_context():
        sites = list(db.session.scalars(select(Establishment.siret).where(
            Establishment.siren == "528144322", Establishment.active)))
        grants = db.session.execute(select(Habilitation.service_code, Habilitation.siret,
                                           Habilitation.siren, Habilitation.rights,
                                           Habilitation.effective_from)).all()
        assert sorted((g[0], g[1], g[2], g[3]) for g in grants) == sorted(
            [("DSN", s, None, int(D | P)) for s in sites]
            + [("MCF", None, "528144322", int(D))])  # the journey offers declarer, payer
        for grant in grants:  # after the access delay
            assert DAY - timedelta(hours=1) < grant.effective_from - utcnow() <= DAY
        subscriptions = db.session.execute(select(
            Subscription.service_code, Subscription.siret, Subscription.siren)).all()
        assert sorted(subscriptions) == [("DSN", VILLEURBANNE, None),
                                         ("MCF", None, "528144322")]
