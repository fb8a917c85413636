"""Per-client declarations and habilitations, and the portfolio writes the admin screens use."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from idp.demo import CABINET_SIRET, PORTFOLIO_CLIENTS
from idp.extensions import db
from idp.habilitations.models import (
    Habilitation,
    Portfolio,
    PortfolioClient,
    PortfolioClientService,
    PortfolioService,
)
from idp.habilitations.service import HabilitationRefused
from idp.models_common import utcnow
from tests.habilitations.test_rights import (
    CLIENT,
    NONE,
    OUTSIDER,
    SIEGE,
    C,
    D,
    P,
    portfolio_id,
    set_link,
)

EARLIER = timedelta(hours=1)


@pytest.fixture
def portfolio(accounts) -> Portfolio:
    """The cabinet's demo portfolio (DSN, DUCS, ATMP; four clients)."""
    return db.session.get(Portfolio, portfolio_id())


def declarations(portfolio_id: int, siret: str) -> set[str]:
    return set(db.session.scalars(select(PortfolioClientService.service_code).where(
        PortfolioClientService.portfolio_id == portfolio_id,
        PortfolioClientService.siret == siret)))


def refused(call, *args, **kwargs) -> str:
    with pytest.raises(HabilitationRefused) as refusal:
        call(*args, **kwargs)
    return refusal.value.reason


def test_a_per_client_habilitation_covers_that_client_only(accounts, rules, portfolio):
    karim = accounts["Élodie"]  # no DUCS anywhere yet
    rules.grant(karim, "DUCS", portfolio_id=portfolio.id, client_siret=CLIENT,
                rights=["declarer"], effective_from=utcnow() - EARLIER)
    other = next(s for s in PORTFOLIO_CLIENTS if s != CLIENT)
    assert rules.rights_on(karim, "DUCS", CLIENT) == D
    assert rules.rights_on(karim, "DUCS", other) == NONE
    assert rules.rights_on_many(karim, "DUCS", [CLIENT, other]) == {CLIENT: D, other: NONE}
    assert rules.listing(karim, ["DUCS"]) == [
        {"service": "DUCS", "siret": CLIENT, "rights": ["declarer"]}]
    page, after = rules.listing_after(karim, ["DUCS"], None, 10)
    assert (page, after) == (rules.listing(karim, ["DUCS"]), None)
    # The whole-portfolio and the per-client rows live side by side.
    rules.grant(karim, "DUCS", portfolio_id=portfolio.id, rights=["payer"],
                effective_from=utcnow() - EARLIER)
    assert rules.rights_on(karim, "DUCS", CLIENT) == D | P
    assert rules.rights_on(karim, "DUCS", other) == P
    assert rules.revoke(karim, "DUCS", portfolio_id=portfolio.id, client_siret=CLIENT)
    assert rules.rights_on(karim, "DUCS", CLIENT) == P


def test_the_client_must_have_the_declaration(accounts, rules, portfolio):
    julie = accounts["Julie"]
    rules.set_client_services(portfolio, CLIENT, ["DUCS", "ATMP"])  # no more DSN
    assert rules.rights_on(julie, "DSN", CLIENT) == NONE  # her whole-portfolio DSN
    assert CLIENT not in {e["siret"] for e in rules.listing(julie, ["DSN"])}
    assert rules.rights_on(julie, "ATMP", CLIENT) == C
    assert refused(rules.grant, julie, "DSN", portfolio_id=portfolio.id, client_siret=CLIENT,
                   rights=["declarer"]) == "client_service"
    assert refused(rules.grant, julie, "DSN", portfolio_id=portfolio.id, client_siret=OUTSIDER,
                   rights=["declarer"]) == "unknown_scope"
    assert refused(rules.grant, julie, "DSN", siret=SIEGE, client_siret=CLIENT,
                   rights=["declarer"]) == "scope"


def test_the_link_rule_applies_to_per_client_habilitations(accounts, rules, portfolio):
    karim = accounts["Karim"]
    rules.grant(karim, "ATMP", portfolio_id=portfolio.id, client_siret=CLIENT,
                rights=["consulter"], effective_from=utcnow() - EARLIER)
    assert rules.rights_on(karim, "ATMP", CLIENT) == C
    assert rules.rights_on(karim, "PPREV", CLIENT) == C
    set_link(CLIENT, 120)
    assert rules.rights_on(karim, "ATMP", CLIENT) == NONE
    assert rules.rights_on(karim, "PPREV", CLIENT) == NONE
    assert rules.listing(karim, ["ATMP", "PPREV"]) == []


def test_transfer_keeps_whole_and_per_client_rows_apart(accounts, rules, portfolio):
    julie, marc = accounts["Julie"], accounts["Marc"]
    since = utcnow() - EARLIER
    rules.grant(julie, "DUCS", portfolio_id=portfolio.id, client_siret=CLIENT,
                rights=["declarer"], effective_from=since)
    rules.grant(marc, "DUCS", portfolio_id=portfolio.id, rights=["payer"], effective_from=since)
    assert rules.transfer(julie, marc) == 3
    assert rules.rights_on(marc, "DUCS", CLIENT) == D | P
    assert db.session.scalar(select(func.count()).select_from(Habilitation).where(
        Habilitation.account_id == marc, Habilitation.service_code == "DUCS")) == 2


def test_composition_link_rule(accounts, rules, portfolio):
    set_link(CLIENT, 120)
    assert refused(rules.set_client_services, portfolio, CLIENT, []) == "no_service"
    rules.set_client_services(portfolio, CLIENT, ["DSN"])  # taking ATMP away is fine
    assert refused(rules.set_client_services, portfolio, CLIENT,
                   ["DSN", "ATMP"]) == "declarant_link"
    set_link(CLIENT, 10)
    rules.set_client_services(portfolio, CLIENT, ["DSN", "ATMP"])
    assert declarations(portfolio.id, CLIENT) == {"DSN", "ATMP"}


def test_add_client_rules(accounts, rules, portfolio):
    assert refused(rules.add_client, portfolio, "52814432200099") == "unknown_scope"
    assert refused(rules.add_client, portfolio, "52814432200047") == "unknown_scope"  # closed
    assert refused(rules.add_client, portfolio, CLIENT) == "already_client"
    assert refused(rules.add_client, portfolio, OUTSIDER, ["MCF"]) == "not_in_container"
    assert refused(rules.add_client, portfolio, OUTSIDER, []) == "no_service"
    # All the container's by default, ATMP included: the cabinet never filed for it.
    assert refused(rules.add_client, portfolio, OUTSIDER) == "declarant_link"
    rules.add_client(portfolio, OUTSIDER, ["DSN", "DUCS"])
    assert declarations(portfolio.id, OUTSIDER) == {"DSN", "DUCS"}
    assert rules.rights_on(accounts["Julie"], "DSN", OUTSIDER) == D
    assert rules.client_count(portfolio) == 5
    assert rules.client_sirets(portfolio, [OUTSIDER, SIEGE]) == {OUTSIDER}


def test_clients_page_is_keyset(accounts, rules, portfolio):
    first = rules.clients_page(portfolio, limit=3)
    rest = rules.clients_page(portfolio, after_siret=first[-1].siret, limit=3)
    assert [c.siret for c in first + rest] == sorted(PORTFOLIO_CLIENTS)
    assert first[0].declarations == ("ATMP", "DSN", "DUCS")


def test_container_removal_cascades(accounts, rules, portfolio):
    julie = accounts["Julie"]
    rules.grant(julie, "ATMP", portfolio_id=portfolio.id, client_siret=CLIENT,
                rights=["consulter"], effective_from=utcnow() - EARLIER)
    rules.set_portfolio_services(portfolio, ["DSN", "DUCS"])
    assert rules.rights_on(julie, "ATMP", CLIENT) == NONE
    assert not db.session.scalar(select(func.count()).select_from(Habilitation).where(
        Habilitation.portfolio_id == portfolio.id, Habilitation.service_code == "ATMP"))
    assert not db.session.scalar(select(func.count()).select_from(PortfolioClientService)
                                 .where(PortfolioClientService.service_code == "ATMP"))
    rules.set_portfolio_services(portfolio, ["DSN", "DUCS", "MCF"])
    assert declarations(portfolio.id, CLIENT) == {"DSN", "DUCS"}  # a new one is not given
    assert refused(rules.set_portfolio_services, portfolio, ["NOPE"]) == "unknown_service"


def test_remove_client_and_delete_portfolio(accounts, rules, portfolio):
    karim = accounts["Karim"]
    rules.grant(karim, "DSN", portfolio_id=portfolio.id, client_siret=CLIENT,
                rights=["declarer"], effective_from=utcnow() - EARLIER)
    assert rules.remove_client(portfolio, CLIENT) is True
    assert rules.remove_client(portfolio, CLIENT) is False
    assert rules.rights_on(karim, "DSN", CLIENT) == NONE
    assert rules.rights_on(accounts["Julie"], "DSN", CLIENT) == NONE
    assert not db.session.scalar(select(func.count()).select_from(Habilitation).where(
        Habilitation.client_siret == CLIENT))
    rules.add_client(portfolio, CLIENT)  # back, with every declaration again
    assert declarations(portfolio.id, CLIENT) == {"DSN", "DUCS", "ATMP"}
    rules.delete_portfolio(portfolio)
    db.session.commit()
    for model in (Portfolio, PortfolioService, PortfolioClient, PortfolioClientService):
        assert not db.session.scalar(select(func.count()).select_from(model))
    assert not db.session.scalar(select(func.count()).select_from(Habilitation).where(
        Habilitation.portfolio_id.is_not(None)))


def test_portfolios_of_a_company(accounts, rules, portfolio):
    assert rules.portfolios_of(CABINET_SIRET[:9]) == [portfolio]
    assert rules.portfolio_of(portfolio.id, CABINET_SIRET[:9]) is portfolio
    assert rules.portfolio_of(portfolio.id, SIEGE[:9]) is None  # another company's
    assert rules.portfolio_of(999_999, CABINET_SIRET[:9]) is None
    created = rules.create_portfolio(SIEGE, "  Filiales   du groupe ")
    assert created.name == "Filiales du groupe" and rules.portfolios_of(SIEGE[:9]) == [created]
    rules.rename_portfolio(created, "Filiales")
    assert created.name == "Filiales"
    assert refused(rules.rename_portfolio, created, "  ") == "name"
    assert refused(rules.create_portfolio, "52814432200099", "X") == "unknown_scope"


def test_subscriptions_of_a_company(accounts, rules):
    siren = SIEGE[:9]
    assert {(s.service_code, s.siret, s.siren) for s in rules.subscriptions_for(siren)} == {
        ("ATMP", "52814432200013", None), ("ATMP", "52814432200039", None),
        ("DSN", "52814432200013", None), ("DSN", "52814432200021", None),
        ("DSN", "52814432200039", None), ("DUCS", "52814432200021", None),
        ("MCF", None, siren)}
    assert rules.subscribed_codes(SIEGE) == {"ATMP", "DSN", "MCF"}
    assert rules.unsubscribe("ATMP", siret=SIEGE) is True
    assert rules.unsubscribe("ATMP", siret=SIEGE) is False
    assert rules.unsubscribe("MCF", siren=siren) is True
    assert rules.subscribed_codes(SIEGE) == {"DSN"}
    assert refused(rules.unsubscribe, "DSN") == "scope"
