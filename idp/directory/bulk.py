"""The PostgreSQL path of the directory import: valid rows streamed by ``COPY`` into a
temporary table, then merged into ``companies`` / ``establishments`` by set-based statements
that write only the rows that changed, in the file's transaction.

Row by row, an upsert costs a round trip and a plan per batch; ``COPY`` takes rows at the
speed of the wire and the merge is one statement the server runs in bulk.
"""

# Every SQL string here is built from the model's own table and column names, never from
# the file's contents (which travel as COPY data).
# ruff: noqa: S608

from __future__ import annotations

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

STAGING = "directory_import"


class StagedMerge:
    """One file's rows into ``table`` by ``key``: ``add`` each valid row, then ``merge``."""

    def __init__(self, session: Session, table: Table, key: str, columns: list[str]):
        self._session = session
        self._table = table
        self._key = key
        self._columns = columns
        session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{STAGING}"))
        # The temporary table lives as long as the file's transaction; ``line`` orders the
        # rows of one key (the last one wins, as in the batched path).
        session.execute(text(
            f"CREATE TEMPORARY TABLE {STAGING} ON COMMIT DROP AS SELECT "
            f"{', '.join(columns)}, 0::bigint AS line FROM {table.name} WITH NO DATA"))
        self._cursor = session.connection().connection.driver_connection.cursor()
        self._copy = self._cursor.copy(
            f"COPY {STAGING} ({', '.join(columns)}, line) FROM STDIN")
        self._writer = self._copy.__enter__()

    def add(self, line: int, record: dict) -> None:
        """Stream one valid row to the server."""
        self._writer.write_row([*(record[c] for c in self._columns), line])

    def close(self) -> None:
        """End the COPY (before the merge, or when the file is refused)."""
        if self._writer is not None:
            self._copy.__exit__(None, None, None)
            self._cursor.close()
            self._writer = None

    def merge(self, report) -> None:
        """Write new and changed rows; count created / updated / closed / unchanged."""
        self.close()
        key, table = self._key, self._table.name
        compared = [c for c in self._columns if c not in (key, "updated_at")]
        latest = (f"SELECT DISTINCT ON ({key}) * FROM {STAGING} "
                  f"ORDER BY {key}, line DESC")
        mine = ", ".join(f"t.{c}" for c in compared)
        theirs = ", ".join(f"s.{c}" for c in compared)
        closing = "t.active AND NOT s.active" if "active" in compared else "false"
        counts = self._session.execute(text(
            f"SELECT count(*) FILTER (WHERE t.{key} IS NULL), "
            f"count(*) FILTER (WHERE t.{key} IS NOT NULL AND ROW({mine}) IS NOT DISTINCT "
            f"FROM ROW({theirs})), "
            f"count(*) FILTER (WHERE t.{key} IS NOT NULL AND ({closing})), count(*) "
            f"FROM ({latest}) s LEFT JOIN {table} t ON t.{key} = s.{key}")).one()
        created, unchanged, closed, total = counts
        report.created += created
        report.unchanged += unchanged
        report.closed += closed
        report.updated += total - created - unchanged - closed
        columns = ", ".join(self._columns)
        assignments = ", ".join(f"{c} = excluded.{c}" for c in self._columns if c != key)
        current = ", ".join(f"{table}.{c}" for c in compared)
        excluded = ", ".join(f"excluded.{c}" for c in compared)
        self._session.execute(text(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM ({latest}) s "
            f"ON CONFLICT ({key}) DO UPDATE SET {assignments} "
            f"WHERE ROW({current}) IS DISTINCT FROM ROW({excluded})"))

    def name_companies(self) -> None:
        """Create the establishments' companies; one not named yet takes its siège's name
        (as in the batched path)."""
        self._session.execute(text(
            "INSERT INTO companies (siren, name, diffusible, updated_at) "
            "SELECT DISTINCT ON (siren) siren, CASE WHEN is_headquarters THEN name END, "
            f"true, updated_at FROM {STAGING} ORDER BY siren, is_headquarters DESC, line DESC "
            "ON CONFLICT (siren) DO UPDATE SET name = excluded.name "
            "WHERE companies.name IS NULL AND excluded.name IS NOT NULL"))
