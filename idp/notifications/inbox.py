"""« Vos notifications »: what one person sees, the badge's count, and their reading,
archiving and deleting (theirs alone: the notice stays for the others).

A person sees a notice when they hold a right on its service for its establishment, now
(the habilitation rules' forward pairs, so a right given later shows older notices and a
right withdrawn hides them), or, for an AT/MP rate, as an administrator of the accounting
firm that filed the establishment's latest DSN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, func, select, union
from sqlalchemy.orm import Session

from idp.accounts.models import Account, Status
from idp.db_helpers import upsert
from idp.directory.models import Establishment
from idp.habilitations.service import HabilitationService
from idp.notifications.models import ATMP_RATE, Notification, NotificationState

N, S = Notification, NotificationState
PAGE_SIZE = 20
UNREAD, READ, ARCHIVED = "non-lues", "lues", "archivees"
STATUSES = (UNREAD, READ, ARCHIVED)


@dataclass(frozen=True)
class Filters:
    """The list's filters: an establishment, a service, a status, and the page."""

    siret: str | None = None
    service: str | None = None
    status: str | None = None
    page: int = 1


@dataclass(frozen=True)
class Entry:
    """A notice as one person sees it."""

    notification: Notification
    read: bool
    archived: bool
    establishment: str


@dataclass(frozen=True)
class Page:
    """One page of the list."""

    entries: list[Entry]
    total: int
    number: int
    pages: int


class Inbox:
    """One person's notices."""

    def __init__(self, session: Session, rules: HabilitationService,
                 clock: Callable[[], datetime]):
        self._session = session
        self._rules = rules
        self._clock = clock

    def visible_ids(self, account: Account) -> Select | None:
        """The ids of the notices ``account`` sees (None: none, e.g. not active yet)."""
        if account.status is not Status.ACTIVE:
            return None
        sirets, sirens = self._rules.visible_pairs(account.id)
        branches = [
            select(N.id).join(sirets, and_(N.service_code == sirets.c.shown,
                                           N.siret == sirets.c.siret)),
            select(N.id).join(sirens, and_(N.service_code == sirens.c.shown,
                                           N.siren == sirens.c.siren)),
        ]
        if account.is_active_administrator:
            branches.append(select(N.id).where(
                N.category == ATMP_RATE,
                N.siret.in_(self._rules.firm_clients(account.siret[:9]))))
        return union(*branches)

    def _listed(self, account: Account, visible: Select):
        ids = visible.subquery("visible")
        return (select(N, S.read_at, S.archived_at)
                .join(ids, ids.c.id == N.id)
                .outerjoin(S, and_(S.notification_id == N.id, S.account_id == account.id))
                .where(S.deleted_at.is_(None)))

    def unread_count(self, account: Account) -> int:
        """The badge: notices seen and neither read nor deleted."""
        visible = self.visible_ids(account)
        if visible is None:
            return 0
        ids = visible.subquery("visible")
        return self._session.scalar(
            select(func.count()).select_from(ids)
            .outerjoin(S, and_(S.notification_id == ids.c.id, S.account_id == account.id))
            .where(S.read_at.is_(None), S.deleted_at.is_(None))) or 0

    def page(self, account: Account, filters: Filters) -> Page:
        """The list: unread first, then the newest; archived ones only when asked for."""
        visible = self.visible_ids(account)
        if visible is None:
            return Page([], 0, 1, 1)
        statement = self._listed(account, visible)
        if filters.siret:
            statement = statement.where(N.siret == filters.siret)
        if filters.service:
            statement = statement.where(N.service_code == filters.service)
        if filters.status == ARCHIVED:
            statement = statement.where(S.archived_at.is_not(None))
        else:
            statement = statement.where(S.archived_at.is_(None))
            if filters.status == UNREAD:
                statement = statement.where(S.read_at.is_(None))
            elif filters.status == READ:
                statement = statement.where(S.read_at.is_not(None))
        total = self._session.scalar(select(func.count()).select_from(statement.subquery()))
        pages = max(1, math.ceil(total / PAGE_SIZE))
        number = min(max(1, filters.page), pages)
        rows = self._session.execute(
            statement.order_by(S.read_at.is_not(None), N.published_at.desc(), N.id.desc())
            .offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
        return Page(self._entries(rows), total, number, pages)

    def _entries(self, rows) -> list[Entry]:
        sirets = {row[0].siret for row in rows}
        names = {e.siret: e.display_name for e in self._session.scalars(
            select(Establishment).where(Establishment.siret.in_(sirets)))} if sirets else {}
        return [Entry(n, read_at is not None, archived_at is not None,
                      names.get(n.siret, n.siret)) for n, read_at, archived_at in rows]

    def find(self, account: Account, notification_id: int) -> Entry | None:
        """The notice if ``account`` sees it and has not deleted it; else None."""
        visible = self.visible_ids(account)
        if visible is None:
            return None
        row = self._session.execute(
            self._listed(account, visible).where(N.id == notification_id)).first()
        return self._entries([row])[0] if row else None

    def open(self, account: Account, notification_id: int) -> Entry | None:
        """``find``, and the notice is read from now on (committed)."""
        entry = self.find(account, notification_id)
        if entry is not None and not entry.read:
            self._mark(account, notification_id, read_at=self._clock())
        return entry

    def archive(self, account: Account, notification_id: int) -> bool:
        """« Archiver » (read too); False when the person does not see it."""
        if self.find(account, notification_id) is None:
            return False
        now = self._clock()
        self._mark(account, notification_id, read_at=now, archived_at=now)
        return True

    def delete(self, account: Account, notification_id: int) -> bool:
        """« Supprimer », for this person only; False when the person does not see it."""
        if self.find(account, notification_id) is None:
            return False
        now = self._clock()
        self._mark(account, notification_id, read_at=now, deleted_at=now)
        return True

    def may_download(self, account: Account, entry: Entry) -> bool:
        """The official document is the company's own: its people may download it, its
        accounting firm may only read the notice."""
        return entry.notification.document is not None and \
            account.siret[:9] == entry.notification.siren

    def _mark(self, account: Account, notification_id: int, **moments) -> None:
        # One statement whatever the row's existence (a double click, two tabs): the
        # earliest moment of each kind is kept.
        row = {"account_id": account.id, "notification_id": notification_id,
               "read_at": None, "archived_at": None, "deleted_at": None, **moments}
        upsert(self._session, NotificationState.__table__, [row],
               ["account_id", "notification_id"],
               lambda excluded: {name: func.coalesce(getattr(S.__table__.c, name),
                                                     getattr(excluded, name))
                                 for name in moments})
        self._session.commit()

