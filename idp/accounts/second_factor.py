"""The state between the two sign-in steps: a short-lived server-side value, not a session."""

from __future__ import annotations

import json
import secrets

from idp.store import Store

PENDING_SECONDS = 5 * 60
SESSION_KEY = "second_factor"


class PendingSecondFactor:
    """Who passed the password step and where they go next, for five minutes."""

    def __init__(self, store: Store):
        self._store = store

    def start(self, account_id: str, next_url: str | None) -> str:
        """Remember the first step; return the token to keep in the browser's session."""
        token = secrets.token_urlsafe(24)
        self._store.set(f"second-factor:{token}",
                        json.dumps({"account": account_id, "next": next_url}), PENDING_SECONDS)
        return token

    def get(self, token: str | None) -> dict | None:
        """The pending state for ``token``, if still valid."""
        raw = self._store.get(f"second-factor:{token}") if token else None
        return json.loads(raw) if raw else None

    def finish(self, token: str) -> None:
        """Forget the pending state (the second step succeeded)."""
        self._store.delete(f"second-factor:{token}")
