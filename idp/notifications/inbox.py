"""« Vos notifications »: what one person sees, the badge's count, and their reading,
archiving and deleting (theirs alone: the notice stays for the others).

A person sees a notice when they hold a right on its service for its establishment, now
(the habilitation rules' forward pairs, so a right given later shows older notices and a
right withdrawn hides them), or, for an AT/MP rate, as an administrator of the accounting
firm that filed the establishment's latest DSN. The badge and the unfiltered list follow a
change of rights within VISIBLE_SECONDS and a new notice at once; opening a notice, its
document, archiving and deleting ask the rules at once.
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
from idp.store import Store

N, S = Notification, NotificationState
PAGE_SIZE = 20
VISIBLE_SECONDS = 30  # how long the list may lag a change of rights
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
                 clock: Callable[[], datetime], store: Store):
        self._session = session
        self._rules = rules
        self._clock = clock
        self._store = store

    def visible_ids(self, account: Account, *columns) -> Select | None:
        """The ids (and ``columns`` of them) of the notices ``account`` sees; None when
        none can be (an account not active yet). Each branch reads the notices' indexes
        only: (service, SIRET | SIREN, id) and (category, SIRET, id)."""
        if account.status is not Status.ACTIVE:
            return None
        sirets, sirens = self._rules.visible_pairs(account.id)
        wanted = (N.id, *columns)
        branches = [
            select(*wanted).join(sirets, and_(N.service_code == sirets.c.shown,
                                              N.siret == sirets.c.siret)),
            select(*wanted).join(sirens, and_(N.service_code == sirens.c.shown,
                                              N.siren == sirens.c.siren)),
        ]
        if account.is_active_administrator:
            clients = self._rules.firm_clients(account.siret[:9]).subquery("firm_clients")
            branches.append(select(*wanted).join(clients, N.siret == clients.c.declared_siret)
                            .where(N.category == ATMP_RATE))
        return union(*branches)

    def _listed(self, account: Account, visible: Select):
        ids = visible.subquery("visible")
        return (select(N, S.read_at, S.archived_at)
                .join(ids, ids.c.id == N.id)
                .outerjoin(S, and_(S.notification_id == N.id, S.account_id == account.id))
                .where(S.deleted_at.is_(None)))

    def _seen(self, account: Account, *columns) -> tuple[list, dict]:
        # A filtered list: the visible notices' ids and ``columns``, read from indexes
        # only, and the person's own marks (few rows, by the primary key). Filtering,
        # counting and ordering them is then work in memory, where a join of the notices'
        # rows with the marks would sort every row first.
        visible = self.visible_ids(account, *columns)
        rows = self._session.execute(visible).all() if visible is not None else []
        return rows, self._marks(account)

    def _marks(self, account: Account) -> dict:
        return {notification_id: (read_at, archived_at, deleted_at)
                for notification_id, read_at, archived_at, deleted_at in self._session.execute(
                    select(S.notification_id, S.read_at, S.archived_at, S.deleted_at)
                    .where(S.account_id == account.id))}

    def _visible_list(self, account: Account) -> list[int]:
        # The ids of the notices the person sees, kept in the store VISIBLE_SECONDS: a
        # firm's 20,000 are read once, then topped up with the notices published since
        # (ids only grow). A right given or withdrawn shows in the list within that time;
        # opening a notice always asks the rules themselves (``find``).
        key = f"notifications:visible:{account.id}"
        now = self._clock().timestamp()
        newest = self._session.scalar(select(func.max(N.id))) or 0
        kept = _decode(self._store.get(key))
        if kept is not None and 0 <= now - kept[0] < VISIBLE_SECONDS:
            made, through, ids = kept
            if newest > through:
                ids = sorted(set(ids) | set(self._ids_after(account, through)))
                self._store.set(key, _encode(made, newest, ids), 2 * VISIBLE_SECONDS)
            return ids
        visible = self.visible_ids(account)
        if visible is None:
            return []
        ids = [notification_id for (notification_id,) in self._session.execute(visible)]
        self._store.set(key, _encode(now, newest, ids), 2 * VISIBLE_SECONDS)
        return ids

    def _ids_after(self, account: Account, through: int) -> list[int]:
        visible = self.visible_ids(account)
        if visible is None:
            return []
        ids = visible.subquery("visible")
        return list(self._session.scalars(select(ids.c.id).where(ids.c.id > through)))

    def unread_count(self, account: Account) -> int:
        """The badge: notices seen and neither read nor deleted."""
        marks = self._marks(account)
        return sum(1 for notification_id in self._visible_list(account)
                   if notification_id not in marks or not any(
                       (marks[notification_id][0], marks[notification_id][2])))

    def page(self, account: Account, filters: Filters) -> Page:
        """The list: unread first, then the newest (ids grow with publication); archived
        ones only when asked for."""
        if filters.siret or filters.service:
            rows, marks = self._seen(account, N.service_code, N.siret)
        else:
            rows = [(i, None, None) for i in self._visible_list(account)]
            marks = self._marks(account)
        listed = []
        for notification_id, service, siret in rows:
            read_at, archived_at, deleted_at = marks.get(notification_id, (None, None, None))
            if deleted_at or (filters.siret and siret != filters.siret) or (
                    filters.service and service != filters.service):
                continue
            if (archived_at is not None) != (filters.status == ARCHIVED):
                continue
            if (filters.status == UNREAD and read_at) or (filters.status == READ
                                                          and not read_at):
                continue
            listed.append((read_at is not None, -notification_id))
        listed.sort()
        total = len(listed)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        number = min(max(1, filters.page), pages)
        shown = [-key for _, key in listed[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]]
        notices = {n.id: n for n in self._session.scalars(
            select(N).where(N.id.in_(shown)))} if shown else {}
        return Page(self._entries([(notices[i], *marks.get(i, (None, None, None))[:2])
                                   for i in shown]), total, number, pages)

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


def _encode(made: float, through: int, ids: list[int]) -> str:
    return f"{made}|{through}|{','.join(map(str, ids))}"


def _decode(raw: str | None) -> tuple[float, int, list[int]] | None:
    if not raw:
        return None
    made, through, ids = raw.split("|", 2)
    return float(made), int(through), [int(i) for i in ids.split(",") if i]
