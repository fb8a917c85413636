"""The habilitation check on every case of the demo data (docs/architecture.md §3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from idp.demo import CABINET_SIRET, PORTFOLIO_CLIENTS
from idp.extensions import db
from idp.habilitations.models import (
    DeclarantLink,
    Habilitation,
    Portfolio,
    PortfolioService,
    Right,
    Service,
)
from idp.habilitations.service import LINK_VALIDITY, HabilitationService
from idp.models_common import utcnow

SIEGE, VILLEURBANNE, GRENOBLE = "52814432200013", "52814432200021", "52814432200039"
CLOSED = "52814432200047"  # a closed establishment of Transports Lefèvre
FUTURE = "52814432200054"  # not in the directory yet: a SIREN habilitation covers it too
CLIENT = "44231785500017"  # a client of the cabinet's portfolio
OUTSIDER = "88102273500016"  # in the directory, nobody's client
D, P, C, NONE = Right.DECLARER, Right.PAYER, Right.CONSULTER, Right(0)


def portfolio_id() -> int:
    return db.session.scalar(select(Portfolio.id).where(Portfolio.owner_siret == CABINET_SIRET))


def set_link(siret: str, days_ago: int | None) -> None:
    """The cabinet's last DSN for ``siret``, ``days_ago`` days ago (None: no link at all)."""
    link = (DeclarantLink.declarant_siret == CABINET_SIRET) & (DeclarantLink.declared_siret
                                                               == siret)
    if days_ago is None:
        db.session.execute(delete(DeclarantLink).where(link))
    else:
        db.session.execute(update(DeclarantLink).where(link).values(
            last_dsn_at=utcnow() - timedelta(days=days_ago)))
    db.session.commit()


def test_siret_scope_covers_only_that_establishment(accounts, rules):
    assert rules.rights_on(accounts["Karim"], "DUCS", VILLEURBANNE) == D | P
    assert rules.rights_on(accounts["Karim"], "DSN", VILLEURBANNE) == D
    assert rules.rights_on(accounts["Karim"], "DUCS", SIEGE) == NONE
    assert rules.rights_on(accounts["Karim"], "ATMP", VILLEURBANNE) == NONE


def test_siren_scope_covers_every_establishment_present_and_future(accounts, rules):
    for siret in (SIEGE, VILLEURBANNE, GRENOBLE, CLOSED, FUTURE):
        assert rules.rights_on(accounts["Sophie"], "DSN", siret) == D | P
        assert rules.rights_on(accounts["Sophie"], "MCF", siret) == D | C
    assert rules.rights_on(accounts["Sophie"], "DSN", CLIENT) == NONE


def test_portfolio_scope_covers_its_clients_for_the_services_it_holds(accounts, rules):
    for siret in PORTFOLIO_CLIENTS:
        assert rules.rights_on(accounts["Julie"], "DSN", siret) == D
        assert rules.rights_on(accounts["Marc"], "DSN", siret) == D | P
        assert rules.rights_on(accounts["Julie"], "ATMP", siret) == C
    assert rules.rights_on(accounts["Julie"], "DSN", OUTSIDER) == NONE
    assert rules.rights_on(accounts["Julie"], "DSN", CABINET_SIRET) == NONE  # not a client
    assert rules.rights_on(accounts["Marc"], "DSN", CABINET_SIRET) == D | P  # his own SIRET


def test_portfolio_without_the_service_gives_nothing(accounts, rules):
    # MCF is not among the portfolio's services (DSN, DUCS, ATMP): the rules refuse to grant
    # it there, and a row put there anyway (or left after the service was withdrawn from the
    # portfolio) gives nothing, nor anything it would imply.
    db.session.add(Habilitation(account_id=accounts["Julie"], service_code="MCF",
                                portfolio_id=portfolio_id(), rights=int(D | C),
                                effective_from=utcnow() - timedelta(days=1)))
    db.session.commit()
    assert rules.rights_on(accounts["Julie"], "MCF", CLIENT) == NONE
    assert rules.rights_on(accounts["Julie"], "PPREV", CLIENT) == C  # from ATMP only

    rules.grant(accounts["Julie"], "DUCS", portfolio_id=portfolio_id(), rights=["declarer"],
                effective_from=utcnow() - timedelta(hours=1))
    db.session.commit()
    assert rules.rights_on(accounts["Julie"], "DUCS", CLIENT) == D
    db.session.execute(delete(PortfolioService).where(PortfolioService.service_code == "DUCS"))
    db.session.commit()
    assert rules.rights_on(accounts["Julie"], "DUCS", CLIENT) == NONE


def test_implied_service_counts_within_its_own_rights(accounts, rules):
    # PPREV (declarer, consulter) is implied by ATMP (consulter) and MCF (declarer, consulter).
    for siret in (SIEGE, GRENOBLE, FUTURE):
        assert rules.rights_on(accounts["Sophie"], "PPREV", siret) == D | C
    assert rules.rights_on(accounts["Élodie"], "PPREV", GRENOBLE) == C  # her ATMP on Grenoble
    assert rules.rights_on(accounts["Élodie"], "PPREV", SIEGE) == NONE
    assert rules.rights_on(accounts["Julie"], "PPREV", CLIENT) == C  # ATMP through the portfolio
    assert rules.rights_on(accounts["Karim"], "PPREV", VILLEURBANNE) == NONE  # DSN implies nothing
    # Implication is one way: PPREV implies neither ATMP nor MCF.
    rules.grant(accounts["Karim"], "PPREV", siren="528144322", rights=["declarer"],
                effective_from=utcnow() - timedelta(hours=1))
    assert rules.rights_on(accounts["Karim"], "MCF", VILLEURBANNE) == NONE


def test_implying_rights_the_implied_service_does_not_know_are_dropped(accounts):
    # Make DOETH (declarer, consulter) implied by DUCS (declarer, payer).
    db.session.get(Service, "DOETH").implied_by = ["DUCS"]
    db.session.commit()
    rules = HabilitationService(db.session)  # reads the changed catalogue
    assert rules.rights_on(accounts["Karim"], "DOETH", VILLEURBANNE) == D  # payer is dropped
    assert rules.listing(accounts["Karim"], ["DOETH"]) == [
        {"service": "DOETH", "siret": VILLEURBANNE, "rights": ["declarer"],
         "implied_by": "DUCS"}]
    rules.grant(accounts["Karim"], "DUCS", siret=VILLEURBANNE, rights=["payer"])
    assert rules.rights_on(accounts["Karim"], "DOETH", VILLEURBANNE) == NONE
    assert rules.listing(accounts["Karim"], ["DOETH"]) == []  # an empty entry is left out


@pytest.mark.parametrize(("days_ago", "expected"), [
    (20, C),  # the demo's link
    (LINK_VALIDITY.days - 1, C),
    (120, NONE),  # older than three months
    (None, NONE),  # no link at all
])
def test_atmp_through_a_portfolio_needs_a_recent_declarant_link(accounts, rules, days_ago,
                                                                 expected):
    set_link(CLIENT, days_ago)
    assert rules.rights_on(accounts["Julie"], "ATMP", CLIENT) == expected
    assert rules.rights_on(accounts["Julie"], "PPREV", CLIENT) == expected  # implied by ATMP
    assert rules.rights_on(accounts["Julie"], "DSN", CLIENT) == D  # DSN needs no link
    other = next(s for s in PORTFOLIO_CLIENTS if s != CLIENT)
    assert rules.rights_on(accounts["Julie"], "ATMP", other) == C


def test_direct_habilitations_need_no_declarant_link(accounts, rules):
    db.session.execute(delete(DeclarantLink))
    db.session.commit()
    assert rules.rights_on(accounts["Élodie"], "ATMP", GRENOBLE) == C
    assert rules.rights_on(accounts["Sophie"], "ATMP", VILLEURBANNE) == C


def test_habilitation_not_yet_effective_counts_from_its_start(accounts, rules):
    start = utcnow() + timedelta(hours=24)
    db.session.execute(update(Habilitation).where(
        Habilitation.account_id == accounts["Karim"], Habilitation.service_code == "DUCS")
        .values(effective_from=start))
    db.session.commit()
    assert rules.rights_on(accounts["Karim"], "DUCS", VILLEURBANNE) == NONE
    assert rules.rights_on(accounts["Karim"], "DUCS", VILLEURBANNE, at=start) == D | P
    assert rules.rights_on(accounts["Karim"], "DSN", VILLEURBANNE) == D  # the other one is not


def test_link_age_is_judged_at_the_time_asked(accounts, rules):
    later = utcnow() + LINK_VALIDITY  # the demo's link (20 days old) has expired by then
    assert rules.rights_on(accounts["Julie"], "ATMP", CLIENT, at=later) == NONE
    assert rules.rights_on(accounts["Julie"], "DSN", CLIENT, at=later) == D


def test_unknown_service_gives_nothing(accounts, rules):
    assert rules.rights_on(accounts["Sophie"], "NOPE", SIEGE) == NONE


def test_right_names_round_trip():
    mask = Right.from_names(["payer", "declarer"])
    assert mask.names() == ["declarer", "payer"]
