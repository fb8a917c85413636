"""SHA-256 of bearer values: what we store instead of high-entropy tokens and secrets."""

from __future__ import annotations

import hashlib


def sha256_hex(value: str) -> str:
    """Hex SHA-256 of ``value``: enough for random tokens, and fast on hot paths."""
    return hashlib.sha256(value.encode()).hexdigest()
