"""« Gérer les déclarants »: an administrator lists, adds, modifies, suspends, reactivates and
radiates the declarants of its own company (every establishment of its SIREN).

Declarants cannot register themselves: an added one receives a welcome link (accounts.welcome)
to choose its password and secret question. Every change is journaled and e-mailed to the
declarant. A declarant of another company, an administrator, a removed or unknown account is
simply not found: nothing is done to it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.accounts.emails import AccountMailer
from idp.accounts.lookup import account_by_login
from idp.accounts.models import Account, Role, Status
from idp.accounts.names import name_key
from idp.accounts.welcome import WelcomeLinks
from idp.audit.service import AuditJournal, Origin
from idp.directory.models import Establishment
from idp.habilitations.service import HabilitationService

PAGE_SIZE = 20
MAX_SEARCH_TERMS = 5
DUPLICATE = _l("Un compte existe déjà pour cet établissement, ce nom et ce prénom : choisissez "
               "un autre établissement ou distinguez le nom ou le prénom.")
# What the declarant's e-mail names for each field changed (the journal keeps the codes).
FIELD_LABELS = {"siret": _l("établissement"), "last_name": _l("nom"),
                "first_name": _l("prénom"), "email": _l("adresse électronique")}


class NotAnAdministrator(Exception):
    """The acting account is not an active administrator."""


class DeclarantNotFound(Exception):
    """No declarant of the administrator's company has this id."""


class PageNotFound(Exception):
    """The list has no such page."""


class DeclarantRefused(Exception):
    """The change breaks a rule; ``field`` and ``message`` (French) say where and why."""

    def __init__(self, field: str, message):
        super().__init__(str(message))
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DeclarantDetails:
    """What an administrator types about a declarant."""

    siret: str
    last_name: str
    first_name: str
    email: str


@dataclass(frozen=True)
class DeclarantPage:
    """One page of the list."""

    declarants: list[Account]
    page: int
    pages: int
    total: int


class DeclarantService:
    """The declarants of an administrator's company, and every change made to them."""

    def __init__(self, session: Session, journal: AuditJournal, mailer: AccountMailer,
                 habilitations: HabilitationService, welcome: WelcomeLinks,
                 end_sessions: Callable[[uuid.UUID], None], clock: Callable[[], datetime]):
        self._session = session
        self._journal = journal
        self._mailer = mailer
        self._habilitations = habilitations
        self._welcome = welcome
        self._end_sessions = end_sessions
        self._clock = clock

    # --- reading ------------------------------------------------------------------------

    @staticmethod
    def _siren(administrator: Account) -> str:
        if not administrator.is_active_administrator:
            raise NotAnAdministrator()
        return administrator.siret[:9]

    def _company(self, siren: str):
        # Through ix_establishments_siren on both databases (a LIKE on accounts.siret may not).
        return Account.siret.in_(select(Establishment.siret).where(Establishment.siren == siren))

    def establishments(self, administrator: Account) -> list[Establishment]:
        """The active establishments of the company, by SIRET."""
        return list(self._session.scalars(select(Establishment).where(
            Establishment.siren == self._siren(administrator), Establishment.active.is_(True),
        ).order_by(Establishment.siret)))

    def search(self, administrator: Account, query: str = "", page: int = 1) -> DeclarantPage:
        """Declarants (not removed) whose nom, prénom or SIRET contain every word of
        ``query`` (case and accents folded), by name, ``PAGE_SIZE`` a page."""
        conditions = [self._company(self._siren(administrator)), Account.role == Role.DECLARANT,
                      Account.status != Status.REMOVED]
        for term in query.split()[:MAX_SEARCH_TERMS]:
            folded = name_key(term)
            conditions.append(or_(Account.last_name_key.contains(folded, autoescape=True),
                                  Account.first_name_key.contains(folded, autoescape=True),
                                  Account.siret.contains(term, autoescape=True)))
        total = self._session.scalar(select(func.count()).select_from(Account)
                                     .where(*conditions))
        pages = max(1, math.ceil(total / PAGE_SIZE))
        if not 1 <= page <= pages:
            raise PageNotFound()
        declarants = list(self._session.scalars(
            select(Account).where(*conditions)
            .order_by(Account.last_name_key, Account.first_name_key, Account.siret, Account.id)
            .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
        return DeclarantPage(declarants, page, pages, total)

    def get(self, administrator: Account, account_id: uuid.UUID) -> Account:
        """A declarant of the company that is not removed; raises DeclarantNotFound."""
        siren = self._siren(administrator)
        account = self._session.get(Account, account_id)
        if (account is None or account.role is not Role.DECLARANT
                or account.status is Status.REMOVED or account.siret[:9] != siren):
            raise DeclarantNotFound()
        return account

    def receivers(self, administrator: Account, leaver: Account) -> list[Account]:
        """Who may receive a leaver's habilitations: the company's other active accounts."""
        return list(self._session.scalars(select(Account).where(
            self._company(self._siren(administrator)), Account.status == Status.ACTIVE,
            Account.id != leaver.id,
        ).order_by(Account.last_name_key, Account.first_name_key, Account.siret)))

    # --- changes ------------------------------------------------------------------------

    def _check(self, siren: str, details: DeclarantDetails, account: Account | None) -> None:
        establishment = self._session.get(Establishment, details.siret)
        if establishment is None or establishment.siren != siren or not establishment.active:
            raise DeclarantRefused("siret", _l("Choisissez un établissement actif de votre "
                                               "entreprise."))
        existing = account_by_login(self._session, details.siret, details.last_name,
                                    details.first_name)
        if existing is not None and existing is not account:
            raise DeclarantRefused("last_name", DUPLICATE)

    def _flush(self) -> None:
        # The unique login index settles two administrators adding the same person at once.
        try:
            self._session.flush()
        except IntegrityError:
            self._session.rollback()
            raise DeclarantRefused("last_name", DUPLICATE) from None

    def add(self, administrator: Account, details: DeclarantDetails,
            origin: Origin) -> Account:
        """Create a declarant waiting for activation and e-mail it its welcome link."""
        self._check(self._siren(administrator), details, None)
        account = Account(
            siret=details.siret, last_name=details.last_name, first_name=details.first_name,
            last_name_key=name_key(details.last_name),
            first_name_key=name_key(details.first_name), email=details.email,
            email_verified=False, role=Role.DECLARANT, status=Status.PENDING_EMAIL,
            created_at=self._clock())
        self._session.add(account)
        self._flush()
        self._journal.record("admin.declarant_added", "success", account_id=administrator.id,
                             origin=origin, details={"declarant": str(account.id),
                                                     "siret": account.siret})
        self._session.commit()
        self._mailer.declarant_welcome(account, self._welcome.issue(account), self._welcome.days)
        return account

    def update(self, administrator: Account, account_id: uuid.UUID, details: DeclarantDetails,
               origin: Origin) -> list[str]:
        """Change a declarant's establishment, names or address; the fields changed."""
        account = self.get(administrator, account_id)
        self._check(self._siren(administrator), details, account)
        old_email = account.email
        changed = [name for name in FIELD_LABELS
                   if getattr(account, name) != getattr(details, name)]
        if not changed:
            return []
        account.siret = details.siret
        account.last_name, account.first_name = details.last_name, details.first_name
        account.last_name_key = name_key(details.last_name)
        account.first_name_key = name_key(details.first_name)
        if "email" in changed:
            account.email = details.email
            account.email_verified = False  # typed by the administrator, not proved
        self._flush()
        self._journal.record("admin.declarant_modified", "success", account_id=administrator.id,
                             origin=origin, details={"declarant": str(account.id),
                                                     "changed": changed})
        self._session.commit()
        if "email" in changed and account.status is Status.PENDING_EMAIL:
            # The new address gets a new link; the one sent to the old address stops working.
            self._mailer.declarant_welcome(account, self._welcome.issue(account),
                                           self._welcome.days)
        else:
            self._mailer.declarant_changed(account, [str(FIELD_LABELS[n]) for n in changed])
        if "email" in changed and old_email:
            self._mailer.email_replaced(account, old_email)
        return changed

    def resend_welcome(self, administrator: Account, account_id: uuid.UUID,
                       origin: Origin) -> Account:
        """A new welcome link for a declarant still waiting for activation (the earlier
        one stops working)."""
        account = self.get(administrator, account_id)
        if account.status is not Status.PENDING_EMAIL or not account.email:
            raise DeclarantRefused("status", _l("Ce compte est déjà activé : il n'attend plus "
                                                "de lien d'activation."))
        self._journal.record("admin.declarant_link_sent", "success",
                             account_id=administrator.id, origin=origin,
                             details={"declarant": str(account.id)})
        self._session.commit()
        self._mailer.declarant_welcome(account, self._welcome.issue(account), self._welcome.days)
        return account

    def _move(self, account: Account, from_status: Status, to_status: Status) -> None:
        # Conditional UPDATE: two decisions at once (or a decision and an activation) make one.
        moved = self._session.execute(
            update(Account).where(Account.id == account.id, Account.status == from_status)
            .values(status=to_status).execution_options(synchronize_session=False)).rowcount
        if not moved:
            self._session.rollback()
            raise DeclarantRefused("status", _l("Le compte a changé d'état entre-temps : "
                                                "rechargez la liste."))
        account.status = to_status

    def suspend(self, administrator: Account, account_id: uuid.UUID, origin: Origin) -> Account:
        """Lock an active declarant out and end its sessions."""
        account = self.get(administrator, account_id)
        if account.status is not Status.ACTIVE:
            raise DeclarantRefused("status", _l("Seul un compte actif peut être suspendu."))
        self._move(account, Status.ACTIVE, Status.LOCKED)
        self._journal.record("admin.declarant_suspended", "success",
                             account_id=administrator.id, origin=origin,
                             details={"declarant": str(account.id)})
        self._session.commit()
        self._end_sessions(account.id)
        self._mailer.declarant_suspended(account)
        return account

    def reactivate(self, administrator: Account, account_id: uuid.UUID,
                   origin: Origin) -> Account:
        """Let a suspended declarant sign in again."""
        account = self.get(administrator, account_id)
        if account.status is not Status.LOCKED:
            raise DeclarantRefused("status", _l("Seul un compte suspendu peut être réactivé."))
        self._move(account, Status.LOCKED, Status.ACTIVE)
        self._journal.record("admin.declarant_reactivated", "success",
                             account_id=administrator.id, origin=origin,
                             details={"declarant": str(account.id)})
        self._session.commit()
        self._mailer.declarant_reactivated(account)
        return account

    def radiate(self, administrator: Account, account_id: uuid.UUID,
                receiver_id: uuid.UUID | None, origin: Origin) -> int:
        """Remove a declarant, its habilitations going to ``receiver_id`` (another active
        account of the company) if given, in one transaction; how many were transferred."""
        leaver = self.get(administrator, account_id)
        receiver = None
        if receiver_id is not None:
            receiver = next((r for r in self.receivers(administrator, leaver)
                             if r.id == receiver_id), None)
            if receiver is None:
                raise DeclarantRefused("receiver", _l("Choisissez une personne active de votre "
                                                      "entreprise."))
        self._move(leaver, leaver.status, Status.REMOVED)
        moved = (self._habilitations.transfer(leaver.id, receiver.id, granted_by=administrator.id)
                 if receiver else 0)
        self._journal.record("admin.declarant_removed", "success", account_id=administrator.id,
                             origin=origin, details={
                                 "declarant": str(leaver.id),
                                 "receiver": str(receiver.id) if receiver else None,
                                 "transferred": moved})
        self._session.commit()
        self._end_sessions(leaver.id)
        self._mailer.declarant_removed(leaver)
        if receiver is not None and moved:
            self._mailer.habilitations_received(receiver, leaver, moved)
        return moved
