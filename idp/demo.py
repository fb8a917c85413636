"""Demo data: the sample directory, a service catalogue, accounts, a portfolio, habilitations.

Loading twice changes nothing but the demo passwords, which are set back to their values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.lookup import account_by_login
from idp.accounts.models import Account, Role, Status
from idp.accounts.names import name_key
from idp.accounts.passwords import PasswordHasher
from idp.accounts.security import answer_key
from idp.directory.importer import DirectoryImporter
from idp.habilitations.models import (
    DeclarantLink,
    Granularity,
    Portfolio,
    PortfolioClient,
    PortfolioClientService,
    PortfolioService,
)
from idp.habilitations.service import CatalogueEntry, HabilitationService
from idp.models_common import utcnow
from idp.notifications.publishing import Publisher, Publishing
from idp.oidc.clients import ClientRegistry

SAMPLE = Path(__file__).parent / "directory" / "sample"
ESTABLISHMENTS_FILE = SAMPLE / "StockEtablissement_sample.csv"
COMPANIES_FILE = SAMPLE / "StockUniteLegale_sample.csv"

CATALOGUE = [
    CatalogueEntry("DSN", "Déclaration sociale nominative", Granularity.SIRET,
                   ("declarer", "payer")),
    CatalogueEntry("DUCS", "Déclaration unifiée de cotisations sociales", Granularity.SIRET,
                   ("declarer", "payer")),
    CatalogueEntry("ATMP", "Compte AT/MP", Granularity.SIRET, ("consulter",),
                   requires_declarant_link=True),
    CatalogueEntry("MCF", "Mon Compte Formation", Granularity.SIREN, ("declarer", "consulter")),
    CatalogueEntry("PPREV", "Passeport de prévention", Granularity.SIREN,
                   ("declarer", "consulter"), implied_by=("ATMP", "MCF")),
    CatalogueEntry("DOETH", "Déclaration d'obligation d'emploi des travailleurs handicapés",
                   Granularity.SIREN, ("declarer", "consulter")),
]

TRANSPORTS_SIREN = "528144322"
TRANSPORTS_SIEGE = "52814432200013"
TRANSPORTS_VILLEURBANNE = "52814432200021"
TRANSPORTS_GRENOBLE = "52814432200039"
CABINET_SIRET = "43917721300014"
PORTFOLIO_CLIENTS = ["81234567600017", "82455210300015", "83016547800017", "44231785500017"]


@dataclass(frozen=True)
class DemoPerson:
    """A demo account and the credentials to sign in with."""

    siret: str
    last_name: str
    first_name: str
    password: str
    role: str
    email: str
    company: str
    secret_answer: str = "Gratin dauphinois"  # to « Quel est votre plat préféré ? »


PEOPLE = [
    DemoPerson(TRANSPORTS_SIEGE, "Lefèvre", "Sophie", "Camions2026", "administrator",
               "sophie.lefevre@transports-lefevre.example", "Transports Lefèvre (siège)"),
    DemoPerson(TRANSPORTS_VILLEURBANNE, "Benali", "Karim", "Benali2026", "declarant",
               "karim.benali@transports-lefevre.example", "Transports Lefèvre (Villeurbanne)"),
    DemoPerson(TRANSPORTS_GRENOBLE, "Roux", "Élodie", "Grenoble2026", "declarant",
               "elodie.roux@transports-lefevre.example", "Transports Lefèvre (Grenoble)"),
    DemoPerson(CABINET_SIRET, "Durand", "Marc", "Cabinet2026", "administrator",
               "marc.durand@cabinet-durand.example", "Cabinet Durand et associés"),
    DemoPerson(CABINET_SIRET, "Chevalier", "Julie", "Compta2026", "declarant",
               "julie.chevalier@cabinet-durand.example", "Cabinet Durand et associés"),
]

DEMO_QUESTION = "Quel est votre plat préféré ?"

# Who granted the declarants their habilitations: their company's administrator.
GRANTED_BY = {"Karim": "Sophie", "Élodie": "Sophie", "Julie": "Marc"}


@dataclass(frozen=True)
class DemoPartner:
    """A demo partner site (``clients/``) and its credentials (fixed, for local use only).

    Its addresses follow from ``site``: ``/callback``, ``/initier`` (third-party-initiated
    login), ``/backchannel-logout``, and the site's origin itself when it shows the widget.
    """

    client_id: str
    client_secret: str
    name: str
    site: str
    services: tuple[str, ...]
    widget: bool = False
    exchange_audiences: tuple[str, ...] = ()

    @property
    def redirect_uri(self) -> str:
        """Where the code comes back after a redirect."""
        return f"{self.site}/callback"


# On 127.0.0.1 while the IdP is on localhost: two different sites, as in production.
PARTNERS = [
    DemoPartner("demo-portail-dsn", "demo-secret-portail-dsn-2026", "Portail DSN (démo)",
                "http://127.0.0.1:5001", ("DSN", "DUCS")),
    DemoPartner("demo-compte-atmp", "demo-secret-compte-atmp-2026", "Compte AT/MP (démo)",
                "http://127.0.0.1:5002", ("ATMP", "PPREV"), widget=True,
                exchange_audiences=("demo-portail-dsn",)),
]


class DemoLoader:
    """Loads the demo data in the given database session."""

    def __init__(self, session: Session, hasher: PasswordHasher, importer: DirectoryImporter,
                 registry: ClientRegistry, rules: HabilitationService,
                 publishing: Publishing):
        self._session = session
        self._publishing = publishing
        self._hasher = hasher
        self._importer = importer
        self._registry = registry
        self._rules = rules

    def load(self) -> list[DemoPerson]:
        """Load everything; return the demo people and their credentials."""
        with COMPANIES_FILE.open("rb") as stream:
            self._importer.import_companies(stream, COMPANIES_FILE.name)
        with ESTABLISHMENTS_FILE.open("rb") as stream:
            self._importer.import_establishments(stream, ESTABLISHMENTS_FILE.name)
        self._catalogue()
        accounts = {person.first_name: self._account(person) for person in PEOPLE}
        self._session.flush()
        portfolio = self._portfolio()
        self._subscriptions()
        self._habilitations(accounts, portfolio)
        self._session.commit()
        self._partners()
        self._notifications()
        return PEOPLE

    def _notifications(self) -> None:
        # Published as the AT/MP partner would, under fixed keys (loading twice publishes
        # nothing more): a rate seen by the company's people, one seen by the accounting
        # firm (its portfolio and its DSN link), and a prevention notice.
        partner = PARTNERS[1]
        site = partner.site
        publisher = Publisher(partner.client_id, frozenset(partner.services),
                              lambda url: url.startswith(f"{site}/"))
        rate = "Le taux applicable au 1er janvier 2027 est de {} %."
        self._publishing.publish(publisher, [
            {"key": "demo-taux-2027-grenoble", "siret": TRANSPORTS_GRENOBLE, "service": "ATMP",
             "category": "taux_atmp", "title": "Votre taux AT/MP 2027",
             "body": rate.format("2,10"), "link": f"{site}/",
             "document": f"{site}/documents/taux-2027-grenoble.pdf"},
            {"key": "demo-taux-2027-client", "siret": PORTFOLIO_CLIENTS[0], "service": "ATMP",
             "category": "taux_atmp", "title": "Votre taux AT/MP 2027",
             "body": rate.format("1,45"), "link": f"{site}/",
             "document": f"{site}/documents/taux-2027-client.pdf"},
            {"key": "demo-prevention-siege", "siret": TRANSPORTS_SIEGE, "service": "PPREV",
             "title": "Nouveau programme de prévention des risques routiers",
             "body": "Un accompagnement est proposé aux entreprises de transport.",
             "link": f"{site}/"},
        ], batch=True)

    def _partners(self) -> None:
        for partner in PARTNERS:
            self._registry.delete(partner.client_id)  # re-created as described here
            self._registry.create(
                partner.name,
                [partner.redirect_uri, *([partner.site] if partner.widget else [])],
                post_logout_redirect_uris=[f"{partner.site}/"],
                backchannel_logout_uri=f"{partner.site}/backchannel-logout",
                initiate_login_uri=f"{partner.site}/initier",
                widget_origins=[partner.site] if partner.widget else [],
                exchange_audiences=partner.exchange_audiences,
                services=partner.services, client_id=partner.client_id,
                secret=partner.client_secret)

    def _catalogue(self) -> None:
        self._rules.load_catalogue(CATALOGUE)

    def _account(self, person: DemoPerson) -> Account:
        account = account_by_login(self._session, person.siret, person.last_name,
                                   person.first_name) or Account(siret=person.siret,
                                                                  created_at=utcnow())
        account.last_name = person.last_name
        account.first_name = person.first_name
        account.last_name_key = name_key(person.last_name)
        account.first_name_key = name_key(person.first_name)
        account.email = person.email
        account.email_verified = True
        account.role = Role(person.role)
        account.status = Status.ACTIVE
        account.password_hash = self._hasher.hash(person.password)
        account.secret_question = DEMO_QUESTION
        account.secret_answer_hash = self._hasher.hash(answer_key(person.secret_answer))
        account.password_changed_at = utcnow()
        self._session.add(account)
        return account

    def _portfolio(self) -> Portfolio:
        portfolio = self._session.scalar(select(Portfolio).where(
            Portfolio.owner_siret == CABINET_SIRET, Portfolio.name == "Clients lyonnais"))
        if portfolio is None:
            declarations = ("DSN", "DUCS", "ATMP")
            portfolio = Portfolio(owner_siret=CABINET_SIRET, name="Clients lyonnais")
            portfolio.services = [PortfolioService(service_code=c) for c in declarations]
            # Each client has its own declarations among the container's: here all of them.
            portfolio.clients = [
                PortfolioClient(siret=s, declarations=[
                    PortfolioClientService(service_code=c) for c in declarations])
                for s in PORTFOLIO_CLIENTS]
            self._session.add(portfolio)
            self._session.flush()
        for siret in PORTFOLIO_CLIENTS:
            link = self._session.get(DeclarantLink, (CABINET_SIRET, siret)) or DeclarantLink(
                declarant_siret=CABINET_SIRET, declared_siret=siret)
            link.last_dsn_at = utcnow() - timedelta(days=20)
            self._session.add(link)
        return portfolio

    def _subscriptions(self) -> None:
        since = utcnow() - timedelta(days=30)
        wanted = [(s, "DSN") for s in (TRANSPORTS_SIEGE, TRANSPORTS_VILLEURBANNE,
                                       TRANSPORTS_GRENOBLE, CABINET_SIRET, *PORTFOLIO_CLIENTS)]
        wanted += [(TRANSPORTS_SIEGE, "ATMP"), (TRANSPORTS_GRENOBLE, "ATMP"),
                   (TRANSPORTS_VILLEURBANNE, "DUCS")]
        for siret, code in wanted:
            self._rules.subscribe(code, siret=siret, effective_from=since)
        self._rules.subscribe("MCF", siren=TRANSPORTS_SIREN, effective_from=since)

    def _habilitations(self, accounts: dict[str, Account], portfolio: Portfolio) -> None:
        since = utcnow() - timedelta(days=2)
        admin = accounts["Sophie"]
        grants = [
            (admin, "DSN", {"siren": TRANSPORTS_SIREN}, ["declarer", "payer"]),
            (admin, "ATMP", {"siren": TRANSPORTS_SIREN}, ["consulter"]),
            (admin, "MCF", {"siren": TRANSPORTS_SIREN}, ["declarer", "consulter"]),
            (accounts["Karim"], "DSN", {"siret": TRANSPORTS_VILLEURBANNE}, ["declarer"]),
            (accounts["Karim"], "DUCS", {"siret": TRANSPORTS_VILLEURBANNE},
             ["declarer", "payer"]),
            (accounts["Élodie"], "DSN", {"siret": TRANSPORTS_GRENOBLE}, ["declarer"]),
            (accounts["Élodie"], "ATMP", {"siret": TRANSPORTS_GRENOBLE}, ["consulter"]),
            (accounts["Marc"], "DSN", {"siret": CABINET_SIRET}, ["declarer", "payer"]),
            (accounts["Marc"], "DSN", {"portfolio_id": portfolio.id}, ["declarer", "payer"]),
            (accounts["Julie"], "DSN", {"portfolio_id": portfolio.id}, ["declarer"]),
            (accounts["Julie"], "ATMP", {"portfolio_id": portfolio.id}, ["consulter"]),
        ]
        for account, code, scope, rights in grants:
            granter = accounts.get(GRANTED_BY.get(account.first_name, ""))
            # Already effective, as if granted two days ago (a reload changes nothing).
            self._rules.grant(account.id, code, **scope, rights=rights,
                              granted_by=granter.id if granter else None, effective_from=since)


def load_catalogue(session: Session) -> None:
    """Create or refresh the demo catalogue's services (not committed)."""
    HabilitationService(session).load_catalogue(CATALOGUE)


def as_json(people: list[DemoPerson]) -> dict:
    """The demo credentials, for scripts."""
    return {"accounts": [asdict(person) for person in people],
            "partners": [{**asdict(partner), "redirect_uri": partner.redirect_uri}
                         for partner in PARTNERS]}
