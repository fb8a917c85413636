"""Services, subscriptions, habilitations and portfolios (docs/architecture.md §3).

Habilitations are the big table (~400 million effective rights in the real service): a row
grants rights on one SIRET, on a whole SIREN ("all establishments, now and future") or on a
portfolio, so the stored rows stay far fewer than the effective rights. Rights are a bit mask
(``Right``) in a SMALLINT to keep each row narrow.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Uuid,
    event,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from idp.extensions import db
from idp.models_common import BigId, UTCDateTime, utcnow


class Right(enum.IntFlag):
    """A right on a declarative service."""

    DECLARER = 1
    PAYER = 2
    CONSULTER = 4

    @classmethod
    def from_names(cls, names) -> Right:
        """The mask for rights named like ``["declarer", "payer"]``."""
        mask = cls(0)
        for name in names:
            mask |= cls[name.upper()]
        return mask

    def names(self) -> list[str]:
        """The rights in this mask, by name, in a stable order."""
        return [right.name.lower() for right in Right if right in self]


class Granularity(enum.StrEnum):
    """Whether a service is granted per establishment or per company."""

    SIRET = "siret"
    SIREN = "siren"


def _exactly_one(*columns: str) -> str:
    """SQL that is true when exactly one of ``columns`` is not null (portable)."""
    return " + ".join(f"(CASE WHEN {c} IS NOT NULL THEN 1 ELSE 0 END)" for c in columns) + " = 1"


# The rows of a habilitation on a whole portfolio (every client having the declaration).
PORTFOLIO_WIDE = "portfolio_id IS NOT NULL AND client_siret IS NULL"


def _partial(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index restricted to the rows matching ``where``, on SQLite and PostgreSQL alike."""
    return Index(
        name,
        *columns,
        unique=unique,
        sqlite_where=text(where),
        postgresql_where=text(where),
    )


class Service(db.Model):
    """A declaration or online service of the catalogue (DSN, DUCS, ATMP…)."""

    __tablename__ = "services"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    granularity: Mapped[Granularity] = mapped_column(
        Enum(
            Granularity,
            name="service_granularity",
            native_enum=False,
            create_constraint=True,
            length=8,
            values_callable=lambda members: [m.value for m in members],
        )
    )
    rights: Mapped[int] = mapped_column(SmallInteger)  # the Right mask this service knows
    access_delay_hours: Mapped[int] = mapped_column(Integer, default=24)
    implied_by: Mapped[list[str]] = mapped_column(JSON, default=list)  # service codes
    requires_declarant_link: Mapped[bool] = mapped_column(default=False)

    @property
    def known_rights(self) -> Right:
        """The rights this service knows, as a mask."""
        return Right(self.rights)


class Subscription(db.Model):
    """An establishment (or a whole company) subscribed to a service."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(_exactly_one("siret", "siren"), name="ck_subscriptions_scope"),
        _partial("uq_subscriptions_siret", "siret", "service_code",
                 where="siret IS NOT NULL", unique=True),
        _partial("uq_subscriptions_siren", "siren", "service_code",
                 where="siren IS NOT NULL", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"))
    siret: Mapped[str | None] = mapped_column(ForeignKey("establishments.siret"))
    siren: Mapped[str | None] = mapped_column(ForeignKey("companies.siren"))
    subscribed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    subscribed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Portfolio(db.Model):
    """A third-party declarant's portfolio: its services (container) and clients (content)."""

    __tablename__ = "portfolios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_siret: Mapped[str] = mapped_column(ForeignKey("establishments.siret"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the last bulk habilitation file was applied: one upload per 48 hours, claimed by
    # a conditional UPDATE (see idp/habilitations/bulk.py).
    last_bulk_upload_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    services: Mapped[list[PortfolioService]] = relationship(cascade="all, delete-orphan")
    clients: Mapped[list[PortfolioClient]] = relationship(cascade="all, delete-orphan")


class PortfolioService(db.Model):
    """A service a portfolio holds: its clients can only get services listed here."""

    __tablename__ = "portfolio_services"

    portfolio_id: Mapped[int] = mapped_column(
        ForeignKey("portfolios.id", ondelete="CASCADE"), primary_key=True
    )
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"), primary_key=True)


class PortfolioClient(db.Model):
    """An establishment in a portfolio."""

    __tablename__ = "portfolio_clients"
    # "Which portfolios hold this SIRET?" (the admin screens; the check goes by the PK).
    __table_args__ = (Index("ix_portfolio_clients_siret", "siret", "portfolio_id"),)

    portfolio_id: Mapped[int] = mapped_column(
        ForeignKey("portfolios.id", ondelete="CASCADE"), primary_key=True
    )
    siret: Mapped[str] = mapped_column(ForeignKey("establishments.siret"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    declarations: Mapped[list[PortfolioClientService]] = relationship(
        cascade="all, delete-orphan")


class PortfolioClientService(db.Model):
    """A declaration a client of a portfolio has, among those of the portfolio's container."""

    __tablename__ = "portfolio_client_services"
    __table_args__ = (
        ForeignKeyConstraint(["portfolio_id", "siret"],
                             ["portfolio_clients.portfolio_id", "portfolio_clients.siret"],
                             ondelete="CASCADE"),
        # ⊆ the container: withdrawing a service from a portfolio withdraws it from its clients.
        ForeignKeyConstraint(["portfolio_id", "service_code"],
                             ["portfolio_services.portfolio_id",
                              "portfolio_services.service_code"], ondelete="CASCADE"),
    )

    portfolio_id: Mapped[int] = mapped_column(primary_key=True)
    siret: Mapped[str] = mapped_column(String(14), primary_key=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"), primary_key=True)


@event.listens_for(Session, "after_flush")
def _every_declaration_by_default(session: Session, context) -> None:
    """A client added without its declarations gets every declaration of the container, as
    every client did before clients had their own (code that adds a bare client keeps that).

    After the flush: the container's rows of the same flush are in the database by then.
    """
    for client in session.new:
        if isinstance(client, PortfolioClient) and not client.__dict__.get("declarations"):
            session.connection().execute(insert(PortfolioClientService).from_select(
                ["portfolio_id", "siret", "service_code"],
                select(PortfolioService.portfolio_id, literal(client.siret, String(14)),
                       PortfolioService.service_code)
                .where(PortfolioService.portfolio_id == client.portfolio_id)))


class DeclarantLink(db.Model):
    """Declarant–declared link: the firm filed a DSN for that client (ATMP needs one < 3 months)."""

    __tablename__ = "declarant_links"
    # « Which firm filed this establishment's latest DSN? » (the AT/MP rates' firm).
    __table_args__ = (Index("ix_declarant_links_declared", "declared_siret", "last_dsn_at"),)

    declarant_siret: Mapped[str] = mapped_column(
        ForeignKey("establishments.siret"), primary_key=True
    )
    declared_siret: Mapped[str] = mapped_column(
        ForeignKey("establishments.siret"), primary_key=True
    )
    last_dsn_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Habilitation(db.Model):
    """Rights of an account on a service, for one SIRET, one SIREN, one portfolio or one
    client of a portfolio."""

    __tablename__ = "habilitations"
    __table_args__ = (
        CheckConstraint(_exactly_one("siret", "siren", "portfolio_id"),
                        name="ck_habilitations_scope"),
        CheckConstraint("client_siret IS NULL OR portfolio_id IS NOT NULL",
                        name="ck_habilitations_client"),
        CheckConstraint("rights > 0", name="ck_habilitations_rights"),
        # One row per (account, service, scope); each index also answers the check
        # « which rights does this account have on this service for this SIRET? »
        # for its kind of scope in one index probe.
        _partial("uq_habilitations_siret", "account_id", "service_code", "siret",
                 where="siret IS NOT NULL", unique=True),
        _partial("uq_habilitations_siren", "account_id", "service_code", "siren",
                 where="siren IS NOT NULL", unique=True),
        _partial("uq_habilitations_portfolio", "account_id", "service_code", "portfolio_id",
                 where=PORTFOLIO_WIDE, unique=True),
        _partial("uq_habilitations_client", "account_id", "service_code", "client_siret",
                 "portfolio_id", where="client_siret IS NOT NULL", unique=True),
        # « Who is habilitated on this establishment / company / portfolio / client? »
        _partial("ix_habilitations_siret", "siret", where="siret IS NOT NULL"),
        _partial("ix_habilitations_siren", "siren", where="siren IS NOT NULL"),
        _partial("ix_habilitations_portfolio", "portfolio_id", where="portfolio_id IS NOT NULL"),
        _partial("ix_habilitations_client", "client_siret", "portfolio_id",
                 where="client_siret IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"))
    siret: Mapped[str | None] = mapped_column(ForeignKey("establishments.siret"))
    siren: Mapped[str | None] = mapped_column(ForeignKey("companies.siren"))
    portfolio_id: Mapped[int | None] = mapped_column(
        ForeignKey("portfolios.id", ondelete="CASCADE")
    )
    # With portfolio_id: that one client of the portfolio (NULL: every client).
    client_siret: Mapped[str | None] = mapped_column(
        String(14), ForeignKey("establishments.siret", name="fk_habilitations_client_siret"))
    rights: Mapped[int] = mapped_column(SmallInteger)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    granted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
