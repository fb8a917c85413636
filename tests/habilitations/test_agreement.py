"""The check, the listing and the token claims agree on every case of the demo data.

For every demo account, every service of the catalogue and every SIRET of the directory (and
one establishment not created yet), ``rights_on`` equals the union of the listing entries
covering that SIRET (SIRET entries directly, SIREN entries for each establishment of the
SIREN); the claims list exactly what the listing lists. Each scenario changes the demo data
first: declarant link missing or too old, portfolio without the service, not yet effective.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from idp.accounts.models import Account, Status
from idp.demo import PARTNERS
from idp.directory.models import Establishment
from idp.extensions import db
from idp.habilitations.models import Habilitation, PortfolioService, Right
from idp.habilitations.service import HabilitationService
from idp.models_common import utcnow
from idp.oidc.claims import ClaimsBuilder
from tests.habilitations.test_rights import (
    CLIENT,
    FUTURE,
    GRENOBLE,
    NONE,
    VILLEURBANNE,
    C,
    D,
    P,
    portfolio_id,
    set_link,
)


def covering(entries: list[dict], service: str, siret: str) -> Right:
    """The rights the listing gives on ``service`` for ``siret``."""
    mask = Right(0)
    for entry in entries:
        if entry["service"] == service and (entry.get("siret") == siret
                                            or entry.get("siren") == siret[:9]):
            mask |= Right.from_names(entry["rights"])
    return mask


def assert_agreement(accounts: dict) -> dict:
    """Check, listing and claims agree everywhere; return the non-empty rights found."""
    rules = HabilitationService(db.session)
    codes = [service.code for service in rules.catalogue()]
    sirets = [*db.session.scalars(select(Establishment.siret)), FUTURE]
    claims = ClaimsBuilder(HabilitationService(db.session), "http://localhost/api/v1/habilitations",
                           1 << 20)
    found = {}
    for name, account_id in accounts.items():
        everything = rules.listing(account_id, codes)
        assert claims.habilitations(db.session.get(Account, account_id), codes) == everything
        for services in ([code] for code in codes), (p.services for p in PARTNERS):
            for subset in services:
                assert rules.listing(account_id, subset) == [
                    e for e in everything if e["service"] in subset], (name, subset)
        for code in codes:
            for siret in sirets:
                rights = rules.rights_on(account_id, code, siret)
                assert rights == covering(everything, code, siret), (name, code, siret)
                if rights:
                    found[name, code, siret] = rights
    return found


def no_change(accounts):
    pass


def link_missing(accounts):
    set_link(CLIENT, None)


def link_too_old(accounts):
    set_link(CLIENT, 120)


def portfolio_without_the_service(accounts):
    # Rows the rules would refuse (the portfolio does not hold MCF or DOETH), put there
    # directly, and DUCS granted, then withdrawn from the portfolio.
    for code in ("MCF", "DOETH"):
        db.session.add(Habilitation(account_id=accounts["Julie"], service_code=code,
                                    portfolio_id=portfolio_id(), rights=int(D | C),
                                    effective_from=utcnow() - timedelta(days=1)))
    HabilitationService(db.session).grant(accounts["Julie"], "DUCS", portfolio_id=portfolio_id(),
                                          rights=["declarer"],
                                          effective_from=utcnow() - timedelta(days=1))
    db.session.execute(delete(PortfolioService).where(PortfolioService.service_code == "DUCS"))
    db.session.commit()


def not_yet_effective(accounts):
    db.session.execute(update(Habilitation).where(
        Habilitation.account_id == accounts["Karim"], Habilitation.service_code == "DUCS")
        .values(effective_from=utcnow() + timedelta(hours=24)))
    db.session.commit()


SCENARIOS = {
    "demo": (no_change, {("Julie", "ATMP", CLIENT): C, ("Julie", "PPREV", CLIENT): C,
                         ("Julie", "DSN", CLIENT): D, ("Sophie", "DSN", FUTURE): D | P,
                         ("Sophie", "PPREV", GRENOBLE): D | C, ("Élodie", "PPREV", GRENOBLE): C,
                         ("Karim", "DUCS", VILLEURBANNE): D | P}),
    "link missing": (link_missing, {("Julie", "ATMP", CLIENT): NONE,
                                    ("Julie", "PPREV", CLIENT): NONE,
                                    ("Julie", "DSN", CLIENT): D}),
    "link too old": (link_too_old, {("Julie", "ATMP", CLIENT): NONE,
                                    ("Julie", "PPREV", CLIENT): NONE}),
    "portfolio without the service": (portfolio_without_the_service, {
        ("Julie", "MCF", CLIENT): NONE, ("Julie", "DOETH", CLIENT): NONE,
        ("Julie", "DUCS", CLIENT): NONE, ("Julie", "PPREV", CLIENT): C}),
    "not yet effective": (not_yet_effective, {("Karim", "DUCS", VILLEURBANNE): NONE,
                                              ("Karim", "DSN", VILLEURBANNE): D}),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_check_listing_and_claims_agree(accounts, scenario):
    change, expected = SCENARIOS[scenario]
    change(accounts)
    found = assert_agreement(accounts)
    for key, rights in expected.items():
        assert found.get(key, NONE) == rights, key
    assert {name for name, _, _ in found} == set(accounts)  # every demo person has rights


def test_listing_shows_implied_entries_as_such(accounts, rules):
    julie = rules.listing(accounts["Julie"], ["ATMP", "PPREV"])
    clients = sorted(e["siret"] for e in julie if e["service"] == "ATMP")
    assert len(clients) == 4
    assert julie == [{"service": "ATMP", "siret": s, "rights": ["consulter"]} for s in clients] + [
        {"service": "PPREV", "siret": s, "rights": ["consulter"], "implied_by": "ATMP"}
        for s in clients]
    assert rules.listing(accounts["Sophie"], ["PPREV"]) == [
        {"service": "PPREV", "siren": "528144322", "rights": ["consulter"],
         "implied_by": "ATMP"},
        {"service": "PPREV", "siren": "528144322", "rights": ["declarer", "consulter"],
         "implied_by": "MCF"}]
    assert rules.listing(accounts["Sophie"], []) == []
    # Only the implied entries are shown: the partner does not host ATMP or MCF.
    assert {e["service"] for e in rules.listing(accounts["Sophie"], ["PPREV"])} == {"PPREV"}


def test_claims_list_nothing_for_an_account_that_is_not_active(accounts):
    claims = ClaimsBuilder(HabilitationService(db.session), "http://localhost/api/v1/habilitations",
                           1 << 20)
    karim = db.session.get(Account, accounts["Karim"])
    assert claims.habilitations(karim, ["DSN"]) == [
        {"service": "DSN", "siret": VILLEURBANNE, "rights": ["declarer"]}]
    karim.status = Status.CANDIDATE_ADMIN
    db.session.commit()
    assert claims.habilitations(karim, ["DSN"]) == []
    # The check itself does not read accounts (a lower layer): its callers judge the status.
    assert HabilitationService(db.session).rights_on(karim.id, "DSN", VILLEURBANNE) == D
