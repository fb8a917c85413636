"""Sign-in throttling per account and per IP address, kept in the shared store."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from idp.store import Store


class TooManyFailedLogins(Exception):
    """Too many failed sign-ins: wait ``resets_in`` seconds."""

    def __init__(self, resets_in: int):
        super().__init__(f"retry in {resets_in}s")
        self.resets_in = resets_in


@dataclass(frozen=True)
class BackoffPolicy:
    """After ``free_attempts`` failures, wait ``base_delay`` seconds, doubling each time."""

    free_attempts: int
    base_delay: int
    max_delay: int
    window: int  # failures are forgotten after this many quiet seconds

    def delay_after(self, failures: int) -> int:
        """The wait imposed after the ``failures``-th failure (0 while attempts are free)."""
        if failures < self.free_attempts:
            return 0
        return min(self.base_delay * 2 ** (failures - self.free_attempts), self.max_delay)


class LoginThrottle:
    """A named limiter: counts failures under a key and imposes a growing wait."""

    def __init__(self, store: Store, name: str, policy: BackoffPolicy,
                 clock: Callable[[], float] = time.time):
        self._store = store
        self._name = name
        self._policy = policy
        self._clock = clock

    def _keys(self, identifier: str) -> tuple[str, str]:
        # Hashed so the store never holds names or addresses in clear.
        digest = hashlib.sha256(identifier.encode()).hexdigest()
        return f"throttle:{self._name}:fails:{digest}", f"throttle:{self._name}:wait:{digest}"

    def check(self, identifier: str) -> None:
        """Raise TooManyFailedLogins while ``identifier`` must wait."""
        _, wait_key = self._keys(identifier)
        until = self._store.get(wait_key)  # the end of the wait; the key's TTL only cleans up
        remaining = math.ceil(float(until) - self._clock()) if until else 0
        if remaining > 0:
            raise TooManyFailedLogins(resets_in=remaining)

    def fail(self, identifier: str) -> int:
        """Count one failure; return the wait it imposes, in seconds (0 for none)."""
        fails_key, wait_key = self._keys(identifier)
        failures = self._store.incr(fails_key, self._policy.window)
        delay = self._policy.delay_after(failures)
        if delay:
            self._store.set(wait_key, str(self._clock() + delay), delay)
        return delay

    def reset(self, identifier: str) -> None:
        """Forget the failures of ``identifier`` (after a successful sign-in)."""
        self._store.delete(*self._keys(identifier))
