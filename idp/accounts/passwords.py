"""Password hashing with argon2id (argon2-cffi)."""

from __future__ import annotations

from functools import cached_property

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError


class PasswordHasher:
    """argon2id hashing with the configured cost, and a dummy hash for unknown accounts."""

    def __init__(self, time_cost: int, memory_kib: int, parallelism: int):
        self._argon2 = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )

    def hash(self, password: str) -> str:
        """Hash ``password`` with a fresh salt."""
        return self._argon2.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; an absent hash costs the same as a wrong password."""
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
