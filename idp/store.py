"""The one door to ephemeral shared state: Redis in production, in-process when embedded.

Sessions, throttling counters and one-time values live here (docs/architecture.md §6). Every value
expires; losing the store costs users a new sign-in, nothing more.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import redis


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


class MemoryStore:
    """In-process store for the embedded default: correct for one process only."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._data: dict[str, tuple[object, float]] = {}
        self._writes = 0

    def _live(self, key: str):
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._data[key]
            return None
        return entry[0]

    def _write(self, key: str, value: object, ttl: int) -> None:
        self._data[key] = (value, self._clock() + ttl)
        self._writes += 1
        if self._writes % 1000 == 0:  # sweep now and then so abandoned keys do not pile up
            now = self._clock()
            for stale in [k for k, (_, exp) in self._data.items() if exp <= now]:
                del self._data[stale]

    def get(self, key: str) -> str | None:
        """Return the value of ``key``, or None when absent or expired."""
        with self._lock:
            value = self._live(key)
            return value if isinstance(value, str) else None

    def set(self, key: str, value: str, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds."""
        with self._lock:
            self._write(key, value, ttl)

    def touch(self, key: str, ttl: int) -> None:
        """Give ``key`` a fresh expiry of ``ttl`` seconds if it still exists."""
        with self._lock:
            value = self._live(key)
            if value is not None:
                self._data[key] = (value, self._clock() + ttl)

    def delete(self, *keys: str) -> None:
        """Remove ``keys``."""
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def pop(self, key: str) -> str | None:
        """Return and remove ``key`` at once, so a one-time value is used once."""
        with self._lock:
            value = self._live(key)
            self._data.pop(key, None)
            return value if isinstance(value, str) else None

    def incr(self, key: str, ttl: int) -> int:
        """Add one to the counter ``key`` and restart its expiry; return the new count."""
        with self._lock:
            count = int(self._live(key) or 0) + 1
            self._write(key, str(count), ttl)
            return count

    def ttl(self, key: str) -> int | None:
        """Seconds before ``key`` expires (rounded up), or None when absent."""
        with self._lock:
            if self._live(key) is None:
                return None
            return max(1, int(self._data[key][1] - self._clock() + 0.999))

    def add_member(self, key: str, member: str, ttl: int) -> None:
        """Add ``member`` to the set ``key`` and restart its expiry."""
        with self._lock:
            current = self._live(key)
            members = set(current) if isinstance(current, frozenset) else set()
            members.add(member)
            self._write(key, frozenset(members), ttl)

    def remove_member(self, key: str, member: str) -> None:
        """Remove ``member`` from the set ``key``."""
        with self._lock:
            current = self._live(key)
            if isinstance(current, frozenset):
                self._data[key] = (current - {member}, self._data[key][1])

    def members(self, key: str) -> set[str]:
        """Return the members of the set ``key``."""
        with self._lock:
            current = self._live(key)
            return set(current) if isinstance(current, frozenset) else set()


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


def create_store(redis_url: str | None, prefix: str) -> Store:
    """Build the store the settings ask for: Redis when a URL is given, else in-process."""
    if redis_url:
        return RedisStore(redis_url, prefix)
    return MemoryStore()
