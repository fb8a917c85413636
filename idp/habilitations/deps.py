"""Builds the habilitations package's services for the current app (no composition root)."""

from __future__ import annotations

from datetime import UTC, datetime

from idp.extensions import app_clock, db
from idp.habilitations.bulk import BulkHabilitations
from idp.habilitations.service import HabilitationService


def habilitation_service() -> HabilitationService:
    """The habilitation rules, in the current database session, on the app's clock."""
    return HabilitationService(db.session, clock=_now())


def bulk_habilitations() -> BulkHabilitations:
    """The bulk habilitation files, in the current database session, on the app's clock."""
    return BulkHabilitations(db.session, clock=_now())


def _now():
    clock = app_clock()
    return lambda: datetime.fromtimestamp(clock(), UTC)
