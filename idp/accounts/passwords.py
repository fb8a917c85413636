"""Password hashing with argon2id (argon2-cffi)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError


class HashingBusy(Exception):
    """Every hashing slot stayed taken for the whole wait: the sign-in is refused for now."""

    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class PasswordHasher:
    """argon2id hashing with the configured cost, and a dummy hash for unknown accounts.

    At most ``slots`` hashes run at once in this process, and at most ``max_waiting``
    sign-ins wait for one, each ``wait_seconds`` at most; past that a sign-in is refused at
    once (``HashingBusy``). A flood of sign-ins thus neither takes every core nor every
    server thread from the token, refresh and userinfo requests, which hash nothing.
    """

    def __init__(self, time_cost: int, memory_kib: int, parallelism: int, slots: int = 1,
                 wait_seconds: float = 5.0, max_waiting: int = 2):
        self._argon2 = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._slots = threading.BoundedSemaphore(slots)
        self._wait_seconds = wait_seconds
        self._max_waiting = max_waiting
        self._waiting = 0
        self._waiting_lock = threading.Lock()

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False) and not self._wait_for_slot():
            raise HashingBusy(retry_after=max(1, round(self._wait_seconds)))
        try:
            yield
        finally:
            self._slots.release()

    def _wait_for_slot(self) -> bool:
        """Queue for a slot, unless the queue is full; whether one was had in time."""
        with self._waiting_lock:
            if self._waiting >= self._max_waiting:
                return False
            self._waiting += 1
        try:
            return self._slots.acquire(timeout=self._wait_seconds)
        finally:
            with self._waiting_lock:
                self._waiting -= 1

    def hash(self, password: str) -> str:
        """Hash ``password`` with a fresh salt."""
        with self._slot():
            return self._argon2.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; an absent hash costs the same as a wrong password."""
        with self._slot():
            try:
                return self._argon2.verify(password_hash or self._dummy_hash, password)
            except (VerificationError, InvalidHashError):
                return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than today's."""
        return self._argon2.check_needs_rehash(password_hash)

    @cached_property
    def _dummy_hash(self) -> str:
        # Verified when the account is unknown, so that an unknown account and a wrong
        # password take the same time (no account enumeration by timing, see
        # docs/architecture.md §7).
        return self._argon2.hash("compte-inconnu")

    def burn_unknown_account(self, password: str) -> None:
        """Spend one verification's time for an attempt on an account that does not exist."""
        self.verify(None, password)
