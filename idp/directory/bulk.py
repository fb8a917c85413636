"""The PostgreSQL path of the directory import: valid rows streamed by ``COPY`` into a
temporary table, then merged into ``companies`` / ``establishments`` by set-based statements
that write only the rows that changed, all in the file's transaction.

Row by row, an upsert costs a round trip and a plan per batch; ``COPY`` takes rows at the
speed of the wire and the merge is one statement the server runs in bulk. Rows go in chunks:
while the server merges one chunk, Python parses the next (the merge waits on the socket,
which frees the interpreter), so the file's two costs overlap instead of adding up.
"""

# Every SQL string here is built from the model's own table and column names, or from the
# catalog's own definitions, never from the file's contents (which travel as COPY data).
# ruff: noqa: S608

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

STAGING = "directory_import"
CHUNK_ROWS = 100_000  # rows parsed ahead while the previous chunk merges (~80 MB)

# What a first import sets aside: the table's foreign keys and plain indexes, as the
# catalog defines them. Loading an empty table then building them once is PostgreSQL's
# own advice for populating a database; a foreign key checked row by row was 40 % of a
# first import.
_CONSTRAINTS = text(
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = CAST(:table AS regclass) AND contype = 'f'")
_INDEXES = text(
    "SELECT CAST(indexrelid AS regclass)::text, pg_get_indexdef(indexrelid) FROM pg_index "
    "WHERE indrelid = CAST(:table AS regclass) AND NOT indisunique")


class StagedMerge:
    """One file's rows into ``table`` by ``key``: ``add`` each valid row, then ``finish``
    (or ``abandon`` when the file is refused and its transaction rolled back)."""

    def __init__(self, session: Session, table: Table, key: str, columns: list[str],
                 companies_first: bool = False):
        self._connection = session.connection()
        self._table = table
        self._key = key
        self._columns = columns
        self._companies_first = companies_first
        self._pending: list[tuple] = []
        self._merging: Future | None = None
        self._counts = [0, 0, 0, 0]  # created, unchanged, closed, total
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="directory-merge")
        self._execute(f"DROP TABLE IF EXISTS pg_temp.{STAGING}")
        # The temporary table lives as long as the file's transaction; ``line`` orders the
        # rows of one key (the last one wins, as in the batched path).
        self._execute(
            f"CREATE TEMPORARY TABLE {STAGING} ON COMMIT DROP AS SELECT "
            f"{', '.join(columns)}, 0::bigint AS line FROM {table.name} WITH NO DATA")
        self._rebuild = self._set_aside_checks() if self._is_empty() else []

    def add(self, line: int, record: tuple) -> None:
        """Take one valid row (its values in the columns' order)."""
        self._pending.append((*record, line))
        if len(self._pending) >= CHUNK_ROWS:
            self._flush()

    def finish(self, report) -> None:
        """Merge what is left, rebuild what a first import set aside, count into
        ``report``: created / updated / closed / unchanged."""
        if self._pending:
            self._flush()
        self._drain()
        for statement in self._rebuild:
            self._execute(statement)
        created, unchanged, closed, total = self._counts
        report.created += created
        report.unchanged += unchanged
        report.closed += closed
        report.updated += total - created - unchanged - closed

    def abandon(self) -> None:
        """Stop (the file is refused; the caller rolls the transaction back)."""
        self._drain()

    def _drain(self) -> None:
        """Wait for the merge under way, and let the worker thread go even if it failed."""
        try:
            self._wait()
        finally:
            self._worker.shutdown()

    def _execute(self, statement: str):
        return self._connection.execute(text(statement))

    def _is_empty(self) -> bool:
        return self._execute(f"SELECT NOT EXISTS (SELECT FROM {self._table.name})").scalar()

    def _set_aside_checks(self) -> list[str]:
        # Dropped inside the file's transaction: a refused file brings them back with its
        # rollback, and no other session sees the table without them.
        table = self._table.name
        found = {"table": table}
        constraints = self._connection.execute(_CONSTRAINTS, found).all()
        indexes = self._connection.execute(_INDEXES, found).all()
        for name, _ in constraints:
            self._execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            self._execute(f'DROP INDEX "{name}"')
        return [definition for _, definition in indexes] + [
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            for name, definition in constraints]

    def _wait(self) -> None:
        if self._merging is not None:
            merging, self._merging = self._merging, None
            merging.result()  # a failed merge raises here, in the importer's thread

    def _flush(self) -> None:
        """Stage the pending rows once the connection is free, then merge them in the
        background."""
        self._wait()
        rows, self._pending = self._pending, []
        self._execute(f"TRUNCATE pg_temp.{STAGING}")
        cursor = self._connection.connection.driver_connection.cursor()
        with cursor, cursor.copy(
                f"COPY {STAGING} ({', '.join(self._columns)}, line) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        self._merging = self._worker.submit(self._merge_staged)

    def _merge_staged(self) -> None:
        if self._companies_first:
            self._name_companies()  # the foreign key first
        counts = self._merge()
        self._counts = [a + b for a, b in zip(self._counts, counts, strict=True)]

    def _merge(self) -> tuple[int, int, int, int]:
        """Write the staged rows that are new or changed; their counts."""
        key, table = self._key, self._table.name
        compared = [c for c in self._columns if c not in (key, "updated_at")]
        mine = ", ".join(f"t.{c}" for c in compared)
        theirs = ", ".join(f"s.{c}" for c in compared)
        closing = "t.active AND NOT s.active" if "active" in compared else "false"
        columns = ", ".join(self._columns)
        assignments = ", ".join(f"{c} = excluded.{c}" for c in self._columns if c != key)
        # One pass: each staged row (the last of its key) is compared with the stored one
        # once; the comparison gives both the counts and the rows to write, so an unchanged
        # row is neither written nor locked. ON CONFLICT still covers a row another
        # transaction inserted since the comparison.
        return tuple(self._execute(
            f"WITH latest AS (SELECT DISTINCT ON ({key}) * FROM {STAGING} "
            f"ORDER BY {key}, line DESC), "
            f"compared AS (SELECT s.*, t.{key} IS NULL AS is_new, t.{key} IS NOT NULL "
            f"AND ROW({mine}) IS NOT DISTINCT FROM ROW({theirs}) AS is_same, "
            f"t.{key} IS NOT NULL AND ({closing}) AS is_closing "
            f"FROM latest s LEFT JOIN {table} t ON t.{key} = s.{key}), "
            f"written AS (INSERT INTO {table} ({columns}) SELECT {columns} FROM compared "
            f"WHERE NOT is_same ON CONFLICT ({key}) DO UPDATE SET {assignments}) "
            "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE is_same), "
            "count(*) FILTER (WHERE is_closing), count(*) FROM compared").one())

    def _name_companies(self) -> None:
        """Create the staged establishments' companies; one not named yet takes its
        siège's name (as in the batched path). A named company is left alone, not even
        locked."""
        self._execute(
            "INSERT INTO companies (siren, name, diffusible, updated_at) "
            "SELECT siren, name, true, updated_at FROM (SELECT DISTINCT ON (siren) siren, "
            f"CASE WHEN is_headquarters THEN name END AS name, updated_at FROM {STAGING} "
            "ORDER BY siren, is_headquarters DESC, line DESC) s "
            "WHERE NOT EXISTS (SELECT FROM companies c WHERE c.siren = s.siren "
            "AND c.name IS NOT NULL) "
            "ON CONFLICT (siren) DO UPDATE SET name = excluded.name "
            "WHERE companies.name IS NULL AND excluded.name IS NOT NULL")
