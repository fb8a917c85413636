"""The directory (RCD): companies by SIREN and their establishments by SIRET."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Boolean, ForeignKey, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.extensions import db
from idp.models_common import UTCDateTime, utcnow


class Company(db.Model):
    """A legal unit (unité légale), identified by its SIREN."""

    __tablename__ = "companies"

    siren: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    legal_representative: Mapped[str | None] = mapped_column(String(200))
    # False for a unit whose data INSEE does not publish (statutDiffusion P): no name is
    # kept for it, and pages say so rather than show the open data's « [ND] ».
    diffusible: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    establishments: Mapped[list[Establishment]] = relationship(back_populates="company")


class Establishment(db.Model):
    """An establishment (établissement), identified by its SIRET = SIREN + NIC."""

    __tablename__ = "establishments"
    __table_args__ = (Index("ix_establishments_siren", "siren"),)

    siret: Mapped[str] = mapped_column(String(14), primary_key=True)
    siren: Mapped[str] = mapped_column(ForeignKey("companies.siren"))
    nic: Mapped[str] = mapped_column(String(5))
    is_headquarters: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str | None] = mapped_column(String(200))
    street_number: Mapped[str | None] = mapped_column(String(20))
    street_type: Mapped[str | None] = mapped_column(String(20))
    street_name: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    diffusible: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    company: Mapped[Company] = relationship(back_populates="establishments")

    @property
    def display_name(self) -> str:
        """The establishment's name, else its company's, else « Informations non
        diffusibles » for a non-diffusible unit, else its SIRET."""
        named = self.name or (self.company.name if self.company else None)
        if named:
            return named
        if not self.diffusible or (self.company is not None and not self.company.diffusible):
            return _("Informations non diffusibles")
        return self.siret

    @property
    def address(self) -> str:
        """The postal address on one line."""
        street = " ".join(p for p in (self.street_number, self.street_type, self.street_name) if p)
        town = " ".join(p for p in (self.postal_code, self.city) if p)
        return ", ".join(p for p in (street, town) if p)
