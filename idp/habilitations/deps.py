"""Builds the habilitations package's services for the current app (no composition root)."""

from __future__ import annotations

from datetime import UTC, datetime

from idp.extensions import app_clock, db
from idp.habilitations.service import HabilitationService


def habilitation_service() -> HabilitationService:
    """The habilitation rules, in the current database session, on the app's clock."""
    clock = app_clock()
    return HabilitationService(db.session, clock=lambda: datetime.fromtimestamp(clock(), UTC))
