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

from sqlalchemy import select, update
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
from idp.accounts.throttling import LoginThrottle, TooManyFailedLogins
from idp.audit.service import AuditJournal, Origin
from idp.hashing import sha256_hex
from idp.models_common import utcnow
from idp.store import Store

# Only while no account has an address yet (a new installation).
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
                 clock: Callable[[], float] = time.time,
                 request_throttles: tuple[LoginThrottle, LoginThrottle] | None = None):
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
        # Per person typed and per IP: how many links and administrator requests may go out.
        self._request_throttles = request_throttles

    def _account(self, person: Person) -> Account | None:
        account = account_by_login(self._session, person.siret, person.last_name,
                                   person.first_name)
        # An account whose e-mail was never validated has nothing to recover yet.
        return None if account is None or account.status is Status.PENDING_EMAIL else account

    def _decoy(self, person: Person) -> bytes:
        return hmac.new(self._secret_key, person.key.encode(), hashlib.sha256).digest()

    def _decoy_domain(self, decoy: bytes) -> str:
        """A domain drawn from the accounts' own addresses (as often as people use it), so
        a decoy looks like the real masked addresses; the draw is stable per person typed."""
        pivot = uuid.UUID(bytes=decoy[:16])
        with_email = select(Account.email).where(Account.email.is_not(None)).order_by(Account.id)
        email = (self._session.scalar(with_email.where(Account.id >= pivot).limit(1))
                 or self._session.scalar(with_email.limit(1)))
        if email is None:
            return DECOY_DOMAINS[decoy[0] % len(DECOY_DOMAINS)]
        return email.rpartition("@")[2]

    def choices(self, person: Person) -> RecoveryChoices:
        """The question and masked address to show, real or decoy."""
        account = self._account(person)
        decoy = self._decoy(person)
        # The decoy is computed for real accounts too: both answers cost the same queries.
        question = str(SECRET_QUESTIONS[decoy[0] % len(SECRET_QUESTIONS)])
        masked = mask_email(f"{person.first_name[:1].lower() or 'x'}x@"
                            f"{self._decoy_domain(decoy)}")
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
            wait = self._answer_throttle.fail(person.key)
            self._journal.record("password.recovery_question", "failure",
                                 account_id=account.id if account else None, origin=origin,
                                 details={"siret": person.siret})
            self._session.commit()
            if wait:  # the fifth wrong answer announces the lock at once
                raise TooManyFailedLogins(resets_in=wait)
            raise WrongAnswer()
        # set_password also ends every session of the account (none is the caller's).
        self._security.set_password(account, new_password, origin, "password.reset_question")
        self._answer_throttle.reset(person.key)

    def _count_request(self, person: Person, origin: Origin) -> None:
        """Raise TooManyFailedLogins past the allowance; count this request otherwise. Keyed
        by what was typed, so an unknown person is limited exactly like a real one."""
        if self._request_throttles is None:
            return  # support's own command
        per_person, per_ip = self._request_throttles
        per_person.check(person.key)
        per_ip.check(origin.ip or "unknown")
        per_person.fail(person.key)
        per_ip.fail(origin.ip or "unknown")

    def send_link(self, person: Person, origin: Origin, action="password.reset_link") -> bool:
        """E-mail a one-time link (1 hour) if the account exists; return whether sent.

        Raises TooManyFailedLogins past the allowance of requests."""
        self._count_request(person, origin)
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
        """Set a new password through a reset link; None if the link no longer works.

        A refused password leaves the link usable; a link sent several times at once sets
        the password once: taking the link from the store is atomic, and only the taker
        goes on.
        """
        self._security.check_policy(new_password)
        account = self.account_for_link(token)
        if account is None or self._store.pop(f"reset:{sha256_hex(token)}") is None:
            return None
        self._store.delete(f"reset-latest:{account.id}")
        self._security.set_password(account, new_password, origin, "password.reset_link_used")
        return account

    def ask_administrators(self, person: Person, origin: Origin) -> None:
        """Pass the request to the administrators of the person's establishment.

        Raises TooManyFailedLogins past the allowance of requests."""
        self._count_request(person, origin)
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
        # Conditional UPDATE: two administrators deciding at once make one decision.
        decided = self._session.execute(
            update(PasswordResetRequest)
            .where(PasswordResetRequest.id == request.id,
                   PasswordResetRequest.status == ResetRequestStatus.PENDING)
            .values(status=ResetRequestStatus.LINK_SENT if accept
                    else ResetRequestStatus.REFUSED,
                    handled_by=administrator.id, handled_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        if not decided:
            self._session.rollback()
            return False
        self._session.refresh(request)
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
