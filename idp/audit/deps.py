"""The journal of the current app, writing in the request's database session."""

from __future__ import annotations

from idp.audit.service import AuditJournal
from idp.extensions import db


def audit_journal() -> AuditJournal:
    """The journal, writing in the current database session (the caller commits)."""
    return AuditJournal(db.session)
