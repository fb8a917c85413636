"""Writing to the security journal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.audit.models import AuditEvent


@dataclass(frozen=True)
class Origin:
    """Where a request came from, as the journal records it."""

    ip: str | None = None
    user_agent: str | None = None


class AuditJournal:
    """Appends events to the journal in the caller's transaction."""

    def __init__(self, session: Session):
        self._session = session

    def record(
        self,
        action: str,
        outcome: str,
        *,
        account_id: uuid.UUID | None = None,
        origin: Origin | None = None,
        details: dict | None = None,
    ) -> AuditEvent:
        """Add one event; the caller commits it with the change it describes."""
        origin = origin or Origin()
        event = AuditEvent(
            action=action,
            outcome=outcome,
            account_id=account_id,
            ip=origin.ip,
            user_agent=(origin.user_agent or "")[:300] or None,
            details=details or {},
        )
        self._session.add(event)
        return event
