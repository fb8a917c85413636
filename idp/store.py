"""The one door to ephemeral shared state: Redis in production, a SQLite file when embedded.

Sessions, throttling counters and one-time values live here (docs/architecture.md §6). Every value
expires; losing the store costs users a new sign-in, nothing more.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Protocol

import redis


def use_write_ahead_log(connection: sqlite3.Connection) -> None:
    """Put a SQLite connection in write-ahead-log mode with ``synchronous=NORMAL``: readers
    no longer wait for a writer, and a commit appends to the log instead of rewriting a
    journal with several syncs. A commit then survives a crash of the IdP; a power cut may
    lose the last commits, never consistency (run PostgreSQL where that matters)."""
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")

class Store(Protocol):
    """Key-value operations the IdP needs, each with an expiry in seconds."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl: int) -> None: ...

    def touch(self, key: str, ttl: int) -> None: ...

    def delete(self, *keys: str) -> None: ...

    def pop(self, key: str) -> str | None: ...

    def incr(self, key: str, ttl: int) -> int: ...

    def ttl(self, key: str) -> int | None: ...

    def add_member(self, key: str, member: str, ttl: int) -> None: ...

    def remove_member(self, key: str, member: str) -> None: ...

    def members(self, key: str) -> set[str]: ...


class SqliteStore:
    """The embedded default: a SQLite file beside the database, shared by every process and
    thread of one machine (several gunicorn workers see the same sessions and counters).

    Each operation is one statement or one ``BEGIN IMMEDIATE`` transaction, so a one-time
    value popped by two processes at once is given to one of them only.
    """

    def __init__(self, path: str, clock=time.time):
        self._path = path
        self._clock = clock  # wall-clock seconds: every process must read the same time
        self._local = threading.local()
        self._writes = 0
        self._connection().executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and per process: a forked worker opens its own.
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            connection = sqlite3.connect(self._path, timeout=10, isolation_level=None)
            use_write_ahead_log(connection)  # here a lost write costs a new sign-in at most
            local.connection, local.pid = connection, os.getpid()
        return local.connection

    def _run(self, sql: str, *params) -> list[tuple]:
        return self._connection().execute(sql, params).fetchall()

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % 1000 == 0:  # sweep now and then so abandoned keys do not pile up
            now = self._clock()
            self._run("DELETE FROM entries WHERE expires_at <= ?", now)
            self._run("DELETE FROM members WHERE expires_at <= ?", now)

    def get(self, key: str) -> str | None:
        """Return the value of ``key``, or None when absent or expired."""
        rows = self._run("SELECT value FROM entries WHERE key = ? AND expires_at > ?",
                         key, self._clock())
        return rows[0][0] if rows else None

    def set(self, key: str, value: str, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds."""
        self._run("INSERT INTO entries VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                  "SET value = excluded.value, expires_at = excluded.expires_at",
                  key, value, self._clock() + ttl)
        self._wrote()

    def touch(self, key: str, ttl: int) -> None:
        """Give ``key`` a fresh expiry of ``ttl`` seconds if it still exists."""
        now = self._clock()
        self._run("UPDATE entries SET expires_at = ? WHERE key = ? AND expires_at > ?",
                  now + ttl, key, now)

    def delete(self, *keys: str) -> None:
        """Remove ``keys``."""
        for key in keys:
            self._run("DELETE FROM entries WHERE key = ?", key)
            self._run("DELETE FROM members WHERE key = ?", key)

    def pop(self, key: str) -> str | None:
        """Return and remove ``key`` in one statement, so a one-time value is used once."""
        rows = self._run("DELETE FROM entries WHERE key = ? RETURNING value, expires_at", key)
        return rows[0][0] if rows and rows[0][1] > self._clock() else None

    def incr(self, key: str, ttl: int) -> int:
        """Add one to the counter ``key`` and restart its expiry; return the new count."""
        now = self._clock()
        rows = self._run(
            "INSERT INTO entries VALUES (?, '1', ?) ON CONFLICT (key) DO UPDATE SET "
            "value = CASE WHEN entries.expires_at > ? THEN CAST(entries.value AS INTEGER) + 1 "
            "ELSE 1 END, expires_at = excluded.expires_at RETURNING value",
            key, now + ttl, now)
        self._wrote()
        return int(rows[0][0])

    def ttl(self, key: str) -> int | None:
        """Seconds before ``key`` expires (rounded up), or None when absent."""
        now = self._clock()
        rows = self._run("SELECT expires_at FROM entries WHERE key = ? AND expires_at > ?",
                         key, now)
        return max(1, int(rows[0][0] - now + 0.999)) if rows else None

    def add_member(self, key: str, member: str, ttl: int) -> None:
        """Add ``member`` to the set ``key`` and restart the whole set's expiry."""
        now = self._clock()
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("DELETE FROM members WHERE key = ? AND expires_at <= ?",
                               (key, now))
            connection.execute("INSERT OR IGNORE INTO members VALUES (?, ?, ?)",
                               (key, member, now + ttl))
            connection.execute("UPDATE members SET expires_at = ? WHERE key = ?",
                               (now + ttl, key))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        self._wrote()

    def remove_member(self, key: str, member: str) -> None:
        """Remove ``member`` from the set ``key``."""
        self._run("DELETE FROM members WHERE key = ? AND member = ?", key, member)

    def members(self, key: str) -> set[str]:
        """Return the members of the set ``key``."""
        return {row[0] for row in self._run(
            "SELECT member FROM members WHERE key = ? AND expires_at > ?", key, self._clock())}


_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (
    key TEXT NOT NULL, member TEXT NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (key, member)) WITHOUT ROWID;
"""


class RedisStore:
    """Redis-backed store, shared by every process and machine."""

    def __init__(self, url: str, prefix: str):
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix

    def _k(self, key: str) -> str:
        return self._prefix + key

    def get(self, key: str) -> str | None:
        """Return the value of ``key``, or None when absent or expired."""
        return self._redis.get(self._k(key))

    def set(self, key: str, value: str, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds."""
        self._redis.set(self._k(key), value, ex=ttl)

    def touch(self, key: str, ttl: int) -> None:
        """Give ``key`` a fresh expiry of ``ttl`` seconds if it still exists."""
        self._redis.expire(self._k(key), ttl)

    def delete(self, *keys: str) -> None:
        """Remove ``keys``."""
        if keys:
            self._redis.delete(*(self._k(key) for key in keys))

    def pop(self, key: str) -> str | None:
        """Return and remove ``key`` at once (GETDEL), so a one-time value is used once."""
        return self._redis.getdel(self._k(key))

    def incr(self, key: str, ttl: int) -> int:
        """Add one to the counter ``key`` and restart its expiry; return the new count."""
        with self._redis.pipeline() as pipe:
            pipe.incr(self._k(key))
            pipe.expire(self._k(key), ttl)
            count, _ = pipe.execute()
        return int(count)

    def ttl(self, key: str) -> int | None:
        """Seconds before ``key`` expires, or None when absent."""
        remaining = self._redis.ttl(self._k(key))
        return remaining if remaining >= 0 else None

    def add_member(self, key: str, member: str, ttl: int) -> None:
        """Add ``member`` to the set ``key`` and restart its expiry."""
        with self._redis.pipeline() as pipe:
            pipe.sadd(self._k(key), member)
            pipe.expire(self._k(key), ttl)
            pipe.execute()

    def remove_member(self, key: str, member: str) -> None:
        """Remove ``member`` from the set ``key``."""
        self._redis.srem(self._k(key), member)

    def members(self, key: str) -> set[str]:
        """Return the members of the set ``key``."""
        return set(self._redis.smembers(self._k(key)))

    def clear_prefix(self) -> None:
        """Delete every key under this store's prefix (tests and resets)."""
        batch = list(self._redis.scan_iter(match=self._prefix + "*", count=500))
        if batch:
            self._redis.delete(*batch)


def create_store(redis_url: str | None, prefix: str, path: str) -> Store:
    """Build the store the settings ask for: Redis when a URL is given, else the SQLite file
    at ``path``."""
    if redis_url:
        return RedisStore(redis_url, prefix)
    return SqliteStore(path)
