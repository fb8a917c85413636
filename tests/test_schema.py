"""The migrated schema: in step with the models, append-only journal, scope constraints."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError, IntegrityError

from idp.audit.models import AuditEvent
from idp.audit.service import AuditJournal
from idp.extensions import db
from tests.conftest import make_account


def test_migrations_match_the_models(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, db.metadata) == []


def test_journal_rows_cannot_be_changed_or_deleted(app):
    with app.app_context():
        AuditJournal(db.session).record("test", "success", details={"n": 1})
        db.session.commit()
        for statement in ("UPDATE audit_events SET outcome = 'failure'",
                          "DELETE FROM audit_events"):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        event = db.session.query(AuditEvent).one()
        event.outcome = "failure"
        with pytest.raises(PermissionError):
            db.session.commit()
        db.session.rollback()


def test_habilitation_needs_exactly_one_scope(account, app):
    with app.app_context():
        db.session.execute(text(
            "INSERT INTO services (code, label, granularity, rights, access_delay_hours, "
            "implied_by, requires_declarant_link) VALUES ('DSN', 'DSN', 'siret', 3, 24, '[]', "
            "false)"))
        insert = text(
            "INSERT INTO habilitations (account_id, service_code, siret, siren, rights, "
            "effective_from, granted_at) VALUES (:a, 'DSN', :siret, :siren, 1, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        account_id = account.id.hex if db.engine.dialect.name == "sqlite" else account.id
        for siret, siren in (("52814432200013", "528144322"), (None, None)):
            with pytest.raises(IntegrityError):
                db.session.execute(insert, {"a": account_id, "siret": siret, "siren": siren})
            db.session.rollback()


def test_login_triple_is_unique_unless_removed(directory):
    make_account(directory)
    with pytest.raises(IntegrityError):
        make_account(directory, last_name="LEFEVRE", first_name="sophie")
    with directory.app_context():
        db.session.rollback()
    from idp.accounts.models import Status

    make_account(directory, status=Status.REMOVED)  # a removed twin is allowed


def test_account_id_is_a_uuid(account):
    assert isinstance(account.id, uuid.UUID)
