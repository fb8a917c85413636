"""« Mot de passe oublié ? »: secret question, e-mail link, administrators, support.

Every answer is the same whether the account exists or not: an unknown person gets a decoy
question and a decoy masked address derived from what they typed (an HMAC, so the decoy is
stable and reveals nothing), and the same costs and waits as a real one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.emails import AccountMailer
from idp.accounts.lookup import account_by_login
from idp.accounts.models import (
    Account,
    PasswordResetRequest,
    ResetRequestStatus,
    Role,
    Status,
)
from idp.accounts.names import login_key
from idp.accounts.passwords import PasswordHasher
from idp.accounts.security import SECRET_QUESTIONS, AccountSecurity, answer_key
from idp.accounts.throttling import LoginThrottle
from idp.audit.service import AuditJournal, Origin
from idp.hashing import sha256_hex
from idp.models_common import utcnow
from idp.store import Store

DECOY_DOMAINS = ("gmail.com", "orange.fr", "free.fr", "wanadoo.fr", "laposte.net", "sfr.fr")


class WrongAnswer(Exception):
    """The answer to the secret question is wrong (or there is no such account)."""


def mask_email(email: str) -> str:
    """« martin@gmail.fr » → « m****@g****.fr », as Net-entreprises shows it."""
    local, _, domain = email.partition("@")
    name, dot, tld = domain.rpartition(".")
    return f"{local[:1]}****@{name[:1]}****{dot}{tld}"


@dataclass(frozen=True)
class Person:
    """Who says they forgot their password."""

    siret: str
    last_name: str
    first_name: str

    @property
    def key(self) -> str:
        """The typed identity, folded like sign-in folds it."""
        return login_key(self.siret, self.last_name, self.first_name)


@dataclass(frozen=True)
class RecoveryChoices:
    """What the choice page shows: the question and the masked address."""

    question: str
    masked_email: str


class Recovery:
    """The three ways back in, and the support link."""

    def __init__(self, session: Session, store: Store, hasher: PasswordHasher,
                 security: AccountSecurity, journal: AuditJournal, notifier: AccountMailer,
                 answer_throttle: LoginThrottle, secret_key: str,
                 link_for: Callable[[str], str], link_seconds: int = 3600,
                 clock: Callable[[], float] = time.time):
        self._session = session
        self._store = store
        self._hasher = hasher
        self._security = security
        self._journal = journal
        self._notifier = notifier
        self._answer_throttle = answer_throttle
        self._secret_key = secret_key.encode()
        self._link_for = link_for
        self._link_seconds = link_seconds
        self._clock = clock

    def _account(self, person: Person) -> Account | None:
        account = account_by_login(self._session, person.siret, person.last_name,
                                   person.first_name)
        # An account whose e-mail was never validated has nothing to recover yet.
        return None if account is None or account.status is Status.PENDING_EMAIL else account

    def _decoy(self, person: Person) -> int:
        digest = hmac.new(self._secret_key, person.key.encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big")

    def choices(self, person: Person) -> RecoveryChoices:
        """The question and masked address to show, real or decoy."""
        account = self._account(person)
        decoy = self._decoy(person)
        question = str(SECRET_QUESTIONS[decoy % len(SECRET_QUESTIONS)])
        masked = mask_email(f"{person.first_name[:1].lower() or 'x'}x@"
                            f"{DECOY_DOMAINS[decoy % len(DECOY_DOMAINS)]}")
        if account is not None:
            question = account.secret_question or question
            masked = mask_email(account.email) if account.email else masked
        return RecoveryChoices(question, masked)

    def answer_question(self, person: Person, answer: str, new_password: str,
                        origin: Origin) -> None:
        """Set ``new_password`` if ``answer`` is right; 5 wrong answers cost 60 minutes.

        Raises TooManyFailedLogins (with ``resets_in``), WrongAnswer or PasswordRefused.
        """
        self._answer_throttle.check(person.key)
        account = self._account(person)
        right = self._hasher.verify(account.secret_answer_hash if account else None,
                                    answer_key(answer))
        if account is None or not account.secret_answer_hash or not right:
            self._answer_throttle.fail(person.key)
            self._journal.record("password.recovery_question", "failure",
                                 account_id=account.id if account else None, origin=origin,
                                 details={"siret": person.siret})
            self._session.commit()
            raise WrongAnswer()
        # set_password also ends every session of the account (none is the caller's).
        self._security.set_password(account, new_password, origin, "password.reset_question")
        self._answer_throttle.reset(person.key)

    def send_link(self, person: Person, origin: Origin, action="password.reset_link") -> bool:
        """E-mail a one-time link (1 hour) if the account exists; return whether sent."""
        account = self._account(person)
        sent = account is not None and bool(account.email)
        if sent:
            self._send_link(account)
        self._journal.record(action, "success" if sent else "failure",
                             account_id=account.id if account else None, origin=origin,
                             details={"siret": person.siret})
        self._session.commit()
        return sent

    def _send_link(self, account: Account) -> None:
        token = secrets.token_urlsafe(32)
        digest = sha256_hex(token)
        stamp = account.password_changed_at.isoformat() if account.password_changed_at else ""
        self._store.set(f"reset:{digest}", json.dumps({
            "account": str(account.id), "stamp": stamp,
            "expires": self._clock() + self._link_seconds}), self._link_seconds)
        # Only the newest link works: a new one silently retires the previous ones.
        self._store.set(f"reset-latest:{account.id}", digest, self._link_seconds)
        self._notifier.reset_link(account, self._link_for(token))

    def account_for_link(self, token: str) -> Account | None:
        """The account a reset link stands for, if the link still works.

        It stops working after an hour, once used, once the password changed, or once a
        newer link was sent.
        """
        digest = sha256_hex(token)
        raw = self._store.get(f"reset:{digest}")
        if raw is None:
            return None
        data = json.loads(raw)
        if data["expires"] <= self._clock():
            return None
        if self._store.get(f"reset-latest:{data['account']}") != digest:
            return None
        account = self._session.get(Account, uuid.UUID(data["account"]))
        if account is None or account.status is Status.REMOVED:
            return None
        stamp = account.password_changed_at.isoformat() if account.password_changed_at else ""
        return account if stamp == data["stamp"] else None

    def use_link(self, token: str, new_password: str, origin: Origin) -> Account | None:
        """Set a new password through a reset link; None if the link no longer works."""
        account = self.account_for_link(token)
        if account is None:
            return None
        self._security.set_password(account, new_password, origin, "password.reset_link_used")
        self._store.delete(f"reset:{sha256_hex(token)}", f"reset-latest:{account.id}")
        return account

    def ask_administrators(self, person: Person, origin: Origin) -> None:
        """Pass the request to the administrators of the person's establishment."""
        account = self._account(person)
        if account is not None:
            self._session.add(PasswordResetRequest(account_id=account.id, siret=account.siret))
            for administrator in self._administrators(account):
                self._notifier.reset_requested(administrator, account)
        self._journal.record("password.reset_request", "success" if account else "failure",
                             account_id=account.id if account else None, origin=origin,
                             details={"siret": person.siret})
        self._session.commit()

    def _administrators(self, account: Account) -> list[Account]:
        return list(self._session.scalars(select(Account).where(
            Account.siret == account.siret, Account.role == Role.ADMINISTRATOR,
            Account.status == Status.ACTIVE, Account.id != account.id)))

    def pending_requests(self, administrator: Account) -> list[PasswordResetRequest]:
        """The requests an administrator has to handle (same establishment)."""
        if not administrator.is_active_administrator:
            return []
        return list(self._session.scalars(select(PasswordResetRequest).where(
            PasswordResetRequest.siret == administrator.siret,
            PasswordResetRequest.status == ResetRequestStatus.PENDING,
            PasswordResetRequest.account_id != administrator.id,
        ).order_by(PasswordResetRequest.requested_at)))

    def handle_request(self, administrator: Account, request_id: int, accept: bool,
                       origin: Origin) -> bool:
        """Send the link, or refuse and tell the person; False if not this admin's to handle."""
        request = self._session.get(PasswordResetRequest, request_id)
        if (request is None or request.siret != administrator.siret
                or request.status is not ResetRequestStatus.PENDING
                or not administrator.is_active_administrator
                or request.account_id == administrator.id):
            return False
        request.status = ResetRequestStatus.LINK_SENT if accept else ResetRequestStatus.REFUSED
        request.handled_by = administrator.id
        request.handled_at = utcnow()
        if accept and request.account.email:
            self._send_link(request.account)
        elif not accept:
            self._notifier.reset_refused(request.account)
        self._journal.record("password.reset_request_handled", "success",
                             account_id=administrator.id, origin=origin,
                             details={"request": request_id, "accepted": accept,
                                      "for": str(request.account_id)})
        self._session.commit()
        return True
