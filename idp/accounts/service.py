"""Sign-in logic: no Flask request here, only injected dependencies (store, hasher, journal)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.accounts.application_passwords import ApplicationPasswords
from idp.accounts.lookup import account_by_login
from idp.accounts.models import Account, Status
from idp.accounts.names import login_key
from idp.accounts.passwords import PasswordHasher
from idp.accounts.throttling import LoginThrottle, TooManyFailedLogins
from idp.audit.service import AuditJournal, Origin
from idp.models_common import utcnow


class InvalidCredentials(Exception):
    """The SIRET, names and password do not designate an account (which part is not said).

    ``resets_in`` is the wait this failure started, in seconds (0 when none).
    """

    def __init__(self, resets_in: int = 0):
        super().__init__("invalid credentials")
        self.resets_in = resets_in


class AccountLocked(Exception):
    """The password was right but the account is locked."""


class EmailNotVerified(Exception):
    """The password was right but the e-mail address has not been validated yet."""


@dataclass(frozen=True)
class Credentials:
    """What a person types to sign in."""

    siret: str
    last_name: str
    first_name: str
    password: str

    @property
    def throttle_id(self) -> str:
        """The account being tried, known or not, as the per-account limiter sees it."""
        return login_key(self.siret, self.last_name, self.first_name)


class AuthenticationService:
    """Checks credentials, throttles failures, keeps hashes current, journals the outcome."""

    def __init__(
        self,
        session: Session,
        hasher: PasswordHasher,
        account_throttle: LoginThrottle,
        ip_throttle: LoginThrottle,
        journal: AuditJournal,
        application_passwords: ApplicationPasswords,
    ):
        self._application_passwords = application_passwords
        self._session = session
        self._hasher = hasher
        self._account_throttle = account_throttle
        self._ip_throttle = ip_throttle
        self._journal = journal

    def authenticate(self, credentials: Credentials, origin: Origin,
                     software: str | None = None) -> Account:
        """Return the account, or raise InvalidCredentials, TooManyFailedLogins, AccountLocked
        or EmailNotVerified. ``software`` is the service code payroll software asks for at
        ``/authentifier/1.0/``: it may present an application password, and the person's
        own password only while 2FA is off (software cannot type a code)."""
        # Both limiters are checked before any lookup: a waiting account answers the same
        # whether it exists or not, so the wait tells nothing about who has an account.
        try:
            self._ip_throttle.check(origin.ip or "unknown")
            self._account_throttle.check(credentials.throttle_id)
        except TooManyFailedLogins:
            self._journal_outcome(credentials, origin, None, "failure", "throttled")
            raise

        account = account_by_login(self._session, credentials.siret, credentials.last_name,
                                   credentials.first_name)
        if account is None:
            self._hasher.burn_unknown_account(credentials.password)
            raise self._failure(credentials, origin, None)
        # One argon2 run whatever comes next: a right password, an application password
        # and a wrong one take the same time.
        own_password = self._hasher.verify(account.password_hash, credentials.password)
        credential = "password" if own_password else None
        if software:
            if own_password and account.has_second_factor:
                credential = None  # the same answer as a wrong password: nothing to learn
            elif not own_password and self._application_passwords.match(
                    account, credentials.password) is not None:
                credential = "application_password"
        if credential is None:
            raise self._failure(credentials, origin, account, software)

        if account.status is Status.LOCKED:
            self._journal_outcome(credentials, origin, account, "failure", "account_locked",
                                  software)
            raise AccountLocked()
        if account.status is Status.PENDING_EMAIL:
            self._journal_outcome(credentials, origin, account, "failure", "email_not_verified",
                                  software)
            raise EmailNotVerified()

        self._account_throttle.reset(credentials.throttle_id)
        if own_password and self._hasher.needs_rehash(account.password_hash):
            account.password_hash = self._hasher.hash(credentials.password)
        account.last_login_at = utcnow()
        self._journal_outcome(credentials, origin, account, "success", None, software,
                              credential)
        return account

    def _failure(self, credentials: Credentials, origin: Origin,
                 account: Account | None, software: str | None = None) -> InvalidCredentials:
        """Count and journal a wrong password or unknown account; return the error to raise."""
        wait = max(self._account_throttle.fail(credentials.throttle_id),
                   self._ip_throttle.fail(origin.ip or "unknown"))
        self._journal_outcome(credentials, origin, account, "failure", "invalid_credentials",
                              software)
        return InvalidCredentials(resets_in=wait)

    def _journal_outcome(self, credentials: Credentials, origin: Origin,
                         account: Account | None, outcome: str, reason: str | None,
                         software: str | None = None, credential: str | None = None) -> None:
        details = {"siret": credentials.siret}
        if software:
            details.update(vector="authentifier", service=software)
        if credential == "application_password":
            details["credential"] = credential
        if reason:
            details["reason"] = reason
        self._journal.record("login", outcome, account_id=account.id if account else None,
                             origin=origin, details=details)
        self._session.commit()
