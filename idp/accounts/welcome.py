"""Welcome links: a declarant created by an administrator chooses a password and a secret
question through a one-time link (7 days), which activates the account.

Like reset links, a link lives in the store under the SHA-256 of its token, only the newest
one of an account works, and using it takes it from the store atomically: a link opened in
several tabs at once activates the account once. A refused password leaves it usable.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.orm import Session

from idp.accounts.models import Account, Status
from idp.accounts.passwords import PasswordHasher
from idp.accounts.security import SECRET_QUESTIONS, AccountSecurity, answer_key
from idp.audit.service import AuditJournal, Origin
from idp.hashing import sha256_hex
from idp.models_common import utcnow
from idp.store import Store

WELCOME_DAYS = 7


class UnknownQuestion(Exception):
    """The secret question is not one of SECRET_QUESTIONS."""


class WelcomeLinks:
    """Issues welcome links and activates an account through one."""

    def __init__(self, session: Session, store: Store, hasher: PasswordHasher,
                 security: AccountSecurity, journal: AuditJournal,
                 link_for: Callable[[str], str], days: int = WELCOME_DAYS,
                 clock: Callable[[], float] = time.time):
        self._session = session
        self._store = store
        self._hasher = hasher
        self._security = security
        self._journal = journal
        self._link_for = link_for
        self._seconds = days * 24 * 3600
        self.days = days
        self._clock = clock

    def issue(self, account: Account) -> str:
        """A new link for ``account`` (pending activation); earlier ones stop working."""
        token = secrets.token_urlsafe(32)
        digest = sha256_hex(token)
        self._store.set(f"welcome:{digest}", json.dumps({
            "account": str(account.id), "expires": self._clock() + self._seconds}),
            self._seconds)
        self._store.set(f"welcome-latest:{account.id}", digest, self._seconds)
        return self._link_for(token)

    def account_for_link(self, token: str) -> Account | None:
        """The account a link stands for, if the link still works (newest, not expired,
        not used, the account still waiting for its activation)."""
        digest = sha256_hex(token)
        raw = self._store.get(f"welcome:{digest}")
        if raw is None:
            return None
        data = json.loads(raw)
        # The store's own expiry runs on its clock; the app's clock decides (tests move it).
        if data["expires"] <= self._clock():
            return None
        if self._store.get(f"welcome-latest:{data['account']}") != digest:
            return None
        account = self._session.get(Account, uuid.UUID(data["account"]))
        if account is None or account.status is not Status.PENDING_EMAIL:
            return None
        return account

    def activate(self, token: str, password: str, question: str, answer: str,
                 origin: Origin) -> Account | None:
        """Set the password and secret question and activate the account; None if the link
        no longer works. Raises PasswordRefused (the link stays usable) or UnknownQuestion."""
        self._security.check_policy(password)
        if question not in {str(q) for q in SECRET_QUESTIONS}:
            raise UnknownQuestion()
        account = self.account_for_link(token)
        if account is None or self._store.pop(f"welcome:{sha256_hex(token)}") is None:
            return None
        self._store.delete(f"welcome-latest:{account.id}")
        # Conditional UPDATE: an administrator radiating or changing the account meanwhile wins.
        activated = self._session.execute(
            update(Account).where(Account.id == account.id,
                                  Account.status == Status.PENDING_EMAIL)
            .values(password_hash=self._hasher.hash(password), password_changed_at=utcnow(),
                    secret_question=question,
                    secret_answer_hash=self._hasher.hash(answer_key(answer)),
                    # The address received the link: that proves it.
                    status=Status.ACTIVE, email_verified=True)
            .execution_options(synchronize_session=False)).rowcount
        if not activated:
            self._session.rollback()
            return None
        self._journal.record("account.welcome_link_used", "success", account_id=account.id,
                             origin=origin)
        self._session.commit()
        self._session.refresh(account)
        return account

