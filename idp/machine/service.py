"""Machine authentication: payroll software trades identifiants for a jeton, an RFC 9068
access token whose audience is the declarative service and which carries the account's
habilitations on it. Sign-in checks and throttles are the form's (one limiter, not two)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.accounts.models import Account, Status
from idp.accounts.service import AuthenticationService, Credentials
from idp.audit.service import AuditJournal, Origin
from idp.habilitations.service import HabilitationService
from idp.machine.identifiants import Identifiants


class UnknownService(Exception):
    """The service code is not in the catalogue (a mistake in the software's settings)."""


class NoRightOnService(Exception):
    """The account has no habilitation on the service: answered like wrong credentials."""


@dataclass(frozen=True)
class Jeton:
    """A signed access token for one service, and when it expires (seconds since epoch)."""

    token: str
    expires_at: int


#: Signs a jeton for (account, service code, habilitations on it); provided by the token
#: issuer's package, above this one.
JetonMinter = Callable[[Account, str, list[dict]], Jeton]


class MachineAuthentication:
    """Checks identifiants, then the right on the service, then has the jeton signed."""

    def __init__(self, session: Session, authentication: AuthenticationService,
                 rules: HabilitationService, journal: AuditJournal, mint: JetonMinter):
        self._session = session
        self._authentication = authentication
        self._rules = rules
        self._journal = journal
        self._mint = mint

    def authenticate(self, identifiants: Identifiants, origin: Origin) -> Jeton:
        """The jeton, or raise UnknownService, NoRightOnService or the sign-in errors
        (InvalidCredentials, TooManyFailedLogins, AccountLocked, EmailNotVerified)."""
        if not self._rules.knows_service(identifiants.service):
            raise UnknownService()
        account = self._authentication.authenticate(
            Credentials(identifiants.siret, identifiants.last_name, identifiants.first_name,
                        identifiants.password), origin, software=identifiants.service)
        # A candidate administrator has no rights until activated.
        habilitations = (self._rules.listing(account.id, {identifiants.service})
                         if account.status is Status.ACTIVE else [])
        if not habilitations:
            self._journal.record("jeton", "failure", account_id=account.id, origin=origin,
                                 details={"service": identifiants.service,
                                          "reason": "no_habilitation"})
            self._session.commit()
            raise NoRightOnService()
        # The sign-in's journal entry already names the service: one commit per jeton.
        return self._mint(account, identifiants.service, habilitations)
