"""Database statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert(session: Session, table: Table, rows: list[dict], key: list[str],
           update: dict | None = None) -> None:
    """INSERT ``rows`` into ``table``; on a ``key`` conflict apply ``update`` (or do nothing).

    ``update`` maps a column to the value it takes, built from ``excluded`` (see
    ``excluded_columns``); both dialects spell this ``ON CONFLICT … DO UPDATE``.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(rows)
    if update is None:
        statement = statement.on_conflict_do_nothing(index_elements=key)
    else:
        statement = statement.on_conflict_do_update(
            index_elements=key, set_=update(statement.excluded)
        )
    session.execute(statement)
