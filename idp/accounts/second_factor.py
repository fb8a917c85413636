"""The second sign-in step: the state between the two steps (a short-lived server-side
value, not a session) and the code check with its own limiter."""

from __future__ import annotations

import json
import secrets

from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.accounts.passkeys import PasskeyRefused, Passkeys
from idp.accounts.throttling import LoginThrottle
from idp.accounts.two_factor import TwoFactor
from idp.audit.service import AuditJournal, Origin
from idp.store import Store


class WrongSecondFactor(Exception):
    """The code is wrong or already used; ``resets_in`` is the wait this failure started."""

    def __init__(self, resets_in: int = 0):
        super().__init__("wrong code")
        self.resets_in = resets_in

PENDING_SECONDS = 5 * 60


class PendingSecondFactor:
    """Who passed the password step and where they go next, for five minutes."""

    def __init__(self, store: Store):
        self._store = store

    def start(self, account_id: str, next_url: str | None, first_factor: str = "pwd") -> str:
        """Remember the first step (``first_factor``: its RFC 8176 method, ``pwd`` or
        ``swk`` for a certificate); return the token to keep in the browser's session."""
        token = secrets.token_urlsafe(24)
        self._store.set(f"second-factor:{token}", json.dumps(
            {"account": account_id, "next": next_url, "first": first_factor}), PENDING_SECONDS)
        return token

    def get(self, token: str | None) -> dict | None:
        """The pending state for ``token``, if still valid."""
        raw = self._store.get(f"second-factor:{token}") if token else None
        return json.loads(raw) if raw else None

    def finish(self, token: str) -> None:
        """Forget the pending state (the second step succeeded)."""
        self._store.delete(f"second-factor:{token}")


class SecondStep:
    """Checks the code of the second step: throttled per account, journaled either way."""

    def __init__(self, session: Session, two_factor: TwoFactor, throttle: LoginThrottle,
                 journal: AuditJournal, passkeys: Passkeys):
        self._passkeys = passkeys
        self._session = session
        self._two_factor = two_factor
        self._throttle = throttle
        self._journal = journal

    def verify(self, account: Account, code: str, origin: Origin) -> str:
        """The method that passed ("otp" or "recovery"); else raise TooManyFailedLogins or
        WrongSecondFactor."""
        key = str(account.id)
        self._throttle.check(key)
        method = self._two_factor.verify(account, code)
        self._journal.record("login.second_factor", "success" if method else "failure",
                             account_id=account.id, origin=origin,
                             details={"method": method} if method else {})
        self._session.commit()  # the last step and a used recovery code are kept either way
        if method is None:
            raise WrongSecondFactor(self._throttle.fail(key))
        self._throttle.reset(key)
        return method

    def passkey_options(self, account: Account, pending_token: str) -> str:
        """The WebAuthn request for this pending second step (raises TooManyFailedLogins
        while the account must wait)."""
        self._throttle.check(str(account.id))
        return self._passkeys.authentication_options(account, pending_token)

    def verify_passkey(self, account: Account, pending_token: str, credential: dict,
                       origin: Origin) -> None:
        """Check a passkey's answer like a code: throttled, journaled either way; raise
        TooManyFailedLogins or WrongSecondFactor."""
        key = str(account.id)
        self._throttle.check(key)
        try:
            passkey = self._passkeys.verify(account, pending_token, credential)
        except PasskeyRefused:
            passkey = None
        self._journal.record("login.second_factor", "success" if passkey else "failure",
                             account_id=account.id, origin=origin,
                             details={"method": "passkey", "name": passkey.name}
                             if passkey else {"method": "passkey"})
        self._session.commit()
        if passkey is None:
            raise WrongSecondFactor(self._throttle.fail(key))
        self._throttle.reset(key)
