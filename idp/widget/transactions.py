"""The widget's sign-in transaction: kept on the server behind a single-use form token.

The framed sign-in cannot count on the IdP's cookie (Safari and Firefox partition or block
third-party cookies, Chrome users can block them, and our session cookie is SameSite=Lax,
never sent to a cross-site frame anyway). So each form the frame shows carries a random
token; the server keeps, under its digest, the authorization request the form answers and
how far the person got (password, then code). Posting the form takes the token out of the
store atomically (GETDEL on Redis): of two posts of one token, exactly one finds it. Every
form shown afterwards carries a new token.

No Flask here: the store and the clock are given.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass

from idp.hashing import sha256_hex
from idp.store import Store

PASSWORD_STEP = "password"  # noqa: S105 (a step's name)
CODE_STEP = "code"
PASSWORD_STEP_SECONDS = 10 * 60  # to type SIRET, names and password
CODE_STEP_SECONDS = 5 * 60  # from the right password to the code, as on « Vous connecter »
TOKEN_MAX_LENGTH = 100


@dataclass
class Transaction:
    """One framed sign-in in progress: the authorization request it answers (its query
    parameters, as the partner's loader sent them), the step, the account once the password
    was right."""

    request: dict[str, str]
    step: str = PASSWORD_STEP
    account_id: str | None = None
    expires_at: float = 0.0

    def answers(self, request: dict[str, str]) -> bool:
        """Whether this transaction was opened for exactly this authorization request (the
        same partner, redirect_uri, state, nonce… as the form's address)."""
        return self.request == request


class WidgetTransactions:
    """Opens and takes sign-in transactions in the shared store."""

    def __init__(self, store: Store, clock: Callable[[], float]):
        self._store = store
        self._clock = clock

    def open(self, transaction: Transaction, seconds: int) -> str:
        """Keep ``transaction`` until its own ``expires_at`` if it has one (a step's later
        forms keep the step's deadline), else for ``seconds``; return the form token that
        designates it."""
        now = self._clock()
        if not transaction.expires_at:
            transaction.expires_at = now + seconds
        ttl = max(1, int(transaction.expires_at - now + 1))
        token = secrets.token_urlsafe(32)
        self._store.set(self._key(token), json.dumps(asdict(transaction)), ttl)
        return token

    def take(self, token: str | None) -> Transaction | None:
        """The transaction of ``token``, which no other request can take any more; None when
        the token is unknown, already used or expired."""
        if not token or len(token) > TOKEN_MAX_LENGTH:
            return None
        return self._live(self._store.pop(self._key(token)))

    def peek(self, token: str | None) -> Transaction | None:
        """The transaction of ``token`` left in place: the passkey's options are asked for
        the form that shows them, whose post then takes the token (and answers them)."""
        if not token or len(token) > TOKEN_MAX_LENGTH:
            return None
        return self._live(self._store.get(self._key(token)))

    def _live(self, raw: str | None) -> Transaction | None:
        if raw is None:
            return None
        transaction = Transaction(**json.loads(raw))
        if transaction.expires_at <= self._clock():
            return None  # the store forgets it too; this is the rule (the app's clock)
        return transaction

    @staticmethod
    def ceremony_key(token: str) -> str:
        """Where a passkey ceremony of the form ``token`` keeps its challenge: the challenge
        lives and dies with that form."""
        return f"widget:{sha256_hex(token)}"

    @staticmethod
    def _key(token: str) -> str:
        # Under its digest: the store never holds a usable token.
        return f"widget-transaction:{sha256_hex(token)}"
