"""The e-mails notices call for, queued by ``flask idp notifications send`` (cron-safe).

* **Fan-out**: each notice not mailed yet is claimed (``mailed_at`` set by one UPDATE that
  re-checks it), and in the same transaction its e-mails are queued: one to each person of
  the company itself who holds a right on it, unless they chose the weekly digest; the
  others who see it (accounting firms through a portfolio, the DSN declarant for a rate,
  people who chose the digest) are marked as owed a digest. A crash before the commit leaves
  the notice unmailed, and nothing queued: the next run does it, once.
* **Digests**: one e-mail per person owed one, at most weekly, listing every notice they see
  that no digest of theirs listed yet, grouped by the establishments' regional fund (CARSAT)
  and sorted; during the yearly campaign firms are owed theirs at once, and the companies'
  own e-mails wait ``CAMPAIGN_HEAD_START`` so that firms are sent first. The person's row is
  claimed first (its lock held to the commit), then the notices read, so a notice fanned out
  meanwhile is in this digest or owes the next one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from idp.accounts.models import Account, Role, Status
from idp.db_helpers import upsert
from idp.directory.carsat import carsat_of
from idp.directory.models import Establishment
from idp.habilitations.service import HabilitationService
from idp.mail import send_template
from idp.notifications.inbox import Inbox
from idp.notifications.models import ATMP_RATE, MailSettings, Notification, NotificationState

FAN_OUT_BATCH = 200
DIGEST_INTERVAL = timedelta(days=7)
CAMPAIGN_HEAD_START = timedelta(hours=2)
M = MailSettings


@dataclass
class SendReport:
    """What one run queued."""

    notices: int = 0
    mails: int = 0
    digests: int = 0


@dataclass(frozen=True)
class DigestLine:
    """One notice of a digest."""

    company: str
    siret: str
    title: str


class NotificationMailing:
    """Queues notices' e-mails and digests."""

    def __init__(self, session: Session, rules: HabilitationService, inbox: Inbox,
                 clock: Callable[[], datetime], issuer: str):
        self._session = session
        self._rules = rules
        self._inbox = inbox
        self._clock = clock
        self._issuer = issuer

    def chose_digest(self, account: Account) -> bool:
        """Whether ``account`` asked for the weekly digest instead of an e-mail each."""
        return bool(self._session.scalar(
            select(M.weekly_digest).where(M.account_id == account.id)))

    def choose_digest(self, account: Account, weekly: bool) -> None:
        """Record the person's choice (committed)."""
        upsert(self._session, M.__table__, [{"account_id": account.id, "weekly_digest": weekly,
                                             "campaign_pending": False, "through_id": 0}],
               ["account_id"], lambda excluded: {"weekly_digest": excluded.weekly_digest})
        self._session.commit()

    def send(self) -> SendReport:
        """Fan every unmailed notice out, then queue the digests that are due."""
        report = SendReport()
        while True:
            notices, mails = self.fan_out()
            if not notices:
                break
            report.notices += notices
            report.mails += mails
        report.digests = self.digests()
        return report

    # --- fan-out ------------------------------------------------------------------------

    def fan_out(self, limit: int = FAN_OUT_BATCH) -> tuple[int, int]:
        """Claim up to ``limit`` unmailed notices and queue what each calls for (one
        transaction); (notices, e-mails queued)."""
        now = self._clock()
        unmailed = (select(Notification.id).where(Notification.mailed_at.is_(None))
                    .order_by(Notification.id).limit(limit))
        claimed = self._session.scalars(
            update(Notification)
            .where(Notification.id.in_(unmailed.scalar_subquery()),
                   Notification.mailed_at.is_(None))
            .values(mailed_at=now).returning(Notification.id)
            .execution_options(synchronize_session=False)).all()
        if not claimed:
            self._session.rollback()
            return 0, 0
        mails = 0
        notices = self._session.scalars(
            select(Notification).where(Notification.id.in_(claimed)).order_by(Notification.id))
        for notice in notices:
            mails += self._fan_out_one(notice, now)
        self._session.commit()
        return len(claimed), mails

    def _fan_out_one(self, notice: Notification, now: datetime) -> int:
        holders = self._rules.holders(notice.service_code, notice.siret)
        people = list(self._session.scalars(select(Account).where(
            Account.id.in_(holders), Account.status == Status.ACTIVE))) if holders else []
        if notice.category == ATMP_RATE:
            for siren in self._rules.firm_of(notice.siret):
                people += self._session.scalars(select(Account).where(
                    Account.siret.between(f"{siren}00000", f"{siren}99999"),
                    Account.role == Role.ADMINISTRATOR, Account.status == Status.ACTIVE))
        digest_chosen = self._digest_choosers({p.id for p in people})
        owed, mails = [], 0
        for person in {p.id: p for p in people}.values():
            own = person.siret[:9] == notice.siren
            if own and person.id not in digest_chosen:
                if person.email and person.email_verified:
                    self._mail_notice(person, notice)
                    mails += 1
            else:
                owed.append(person.id)
        upsert(self._session, M.__table__,
               [{"account_id": person_id, "weekly_digest": False, "pending_since": now,
                 "campaign_pending": notice.campaign, "through_id": 0}
                for person_id in owed], ["account_id"],
               lambda excluded: {
                   "pending_since": func.coalesce(M.__table__.c.pending_since,
                                                  excluded.pending_since),
                   "campaign_pending": M.__table__.c.campaign_pending
                   | excluded.campaign_pending})
        return mails

    def _digest_choosers(self, people: set) -> set:
        if not people:
            return set()
        return set(self._session.scalars(select(M.account_id).where(
            M.account_id.in_(people), M.weekly_digest.is_(True))))

    def _mail_notice(self, person: Account, notice: Notification) -> None:
        delay = CAMPAIGN_HEAD_START.total_seconds() if notice.campaign else 0
        place = self._session.get(Establishment, notice.siret)
        send_template(
            person.email, _("Nouvelle notification : %(title)s", title=notice.title),
            "notification", queueing={"commit": False, "delay_seconds": delay},
            name=f"{person.first_name} {person.last_name}", title=notice.title,
            company=place.display_name if place else notice.siret, siret=notice.siret,
            link=f"{self._issuer}/compte/notifications/{notice.id}")

    # --- digests ------------------------------------------------------------------------

    def digests(self) -> int:
        """Queue every digest due: the campaign's first, then the week's; how many."""
        now = self._clock()
        due = (select(M.account_id).where(_due(now))
               .order_by(M.campaign_pending.desc(), M.pending_since))
        sent = 0
        for account_id in list(self._session.scalars(due)):
            sent += self._digest(account_id, now)
        return sent

    def _digest(self, account_id, now: datetime) -> int:
        # The claim takes the row's lock (PostgreSQL) or the write lock (SQLite) until the
        # commit: a fan-out owing this person more waits, then owes the next digest.
        claimed = self._session.execute(
            update(M).where(M.account_id == account_id, _due(now))
            .values(last_digest_at=now).returning(M.through_id, M.weekly_digest)
            .execution_options(synchronize_session=False)).first()
        person = self._session.get(Account, account_id)
        if claimed is None or person is None:
            self._session.rollback()
            return 0
        through, everything = claimed
        lines, newest = self._digest_lines(person, through, everything)
        self._session.execute(update(M).where(M.account_id == account_id).values(
            pending_since=None, campaign_pending=False, through_id=max(through, newest))
            .execution_options(synchronize_session=False))
        if lines and person.email and person.email_verified:
            self._mail_digest(person, lines)
            self._session.commit()
            return 1
        self._session.commit()
        return 0

    def _digest_lines(self, person: Account, through: int,
                      everything: bool) -> tuple[dict[str, list[DigestLine]], int]:
        visible = self._inbox.visible_ids(person)
        if visible is None:
            return {}, through
        ids = visible.subquery("visible")
        statement = (
            select(Notification, Establishment)
            .join(ids, ids.c.id == Notification.id)
            .join(Establishment, Establishment.siret == Notification.siret)
            .outerjoin(NotificationState, (NotificationState.notification_id == Notification.id)
                       & (NotificationState.account_id == person.id))
            .where(Notification.id > through, NotificationState.deleted_at.is_(None)))
        # Below the first notice not fanned out yet (another run may hold it): the
        # watermark never passes a notice this digest could not list.
        unmailed = self._session.scalar(
            select(func.min(Notification.id)).where(Notification.mailed_at.is_(None)))
        if unmailed is not None:
            statement = statement.where(Notification.id < unmailed)
        if not everything:  # the company's own notices had their e-mail each
            statement = statement.where(Notification.siren != person.siret[:9])
        rows = self._session.execute(statement).all()
        newest = max((notice.id for notice, _ in rows), default=through)
        lines = sorted(((carsat_of(place.postal_code),
                         DigestLine(place.display_name, place.siret, notice.title))
                        for notice, place in rows),
                       key=lambda pair: (pair[0], pair[1].company.casefold(), pair[1].siret))
        grouped = {fund: [line for _, line in group]
                   for fund, group in itertools.groupby(lines, key=lambda pair: pair[0])}
        return grouped, newest

    def _mail_digest(self, person: Account, groups: dict[str, list[DigestLine]]) -> None:
        count = sum(len(lines) for lines in groups.values())
        send_template(
            person.email, _("Vos notifications net-entreprises.fr de la semaine"),
            "notification_digest", queueing={"commit": False},
            name=f"{person.first_name} {person.last_name}", groups=groups, count=count,
            link=f"{self._issuer}/compte/notifications")


def _due(now: datetime):
    """A digest is owed and may go: at once in the campaign or the first time, else a week
    after the last one."""
    return (M.pending_since.is_not(None)) & or_(
        M.campaign_pending.is_(True), M.last_digest_at.is_(None),
        M.last_digest_at <= now - DIGEST_INTERVAL)
