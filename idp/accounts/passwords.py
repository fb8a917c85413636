"""Password hashing with argon2id (argon2-cffi)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from functools import cached_property

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError

# Hashes run below the requests' priority: a sign-in takes what the cores have left once the
# token and API requests, which need a few milliseconds, have run (CFS gives a nice-10
# thread about a tenth of the share of a nice-0 one when both are runnable).
HASHING_NICENESS = 10


def _lower_priority() -> None:
    # On Linux the nice value belongs to the thread (setpriority's "0" is the calling
    # thread), and the lane threads libargon2 starts for p > 1 inherit it.
    # Not Linux, or not allowed: hash at normal priority.
    with suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, 0, HASHING_NICENESS)


class HashingBusy(Exception):
    """Every hashing slot stayed taken for the whole wait: the sign-in is refused for now."""

    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class PasswordHasher:
    """argon2id hashing with the configured cost, and a dummy hash for unknown accounts.

    At most ``slots`` hashes run at once in this process, and at most ``max_waiting``
    sign-ins wait for one, each ``wait_seconds`` at most; past that a sign-in is refused at
    once (``HashingBusy``). Hashes run in ``slots`` threads of lower priority. A flood of
    sign-ins thus takes neither the cores nor the server threads from the token, refresh and
    userinfo requests, which hash nothing.
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
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="argon2",
                                        initializer=_lower_priority)

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

    def _hashing(self, work: Callable, *args):
        """``work(*args)`` in a slot, on a hashing thread."""
        with self._slot():
            return self._pool.submit(work, *args).result()

    def hash(self, password: str) -> str:
        """Hash ``password`` with a fresh salt."""
        return self._hashing(self._argon2.hash, password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; an absent hash costs the same as a wrong password."""
        try:
            return self._hashing(self._argon2.verify, password_hash or self._dummy_hash,
                                 password)
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
