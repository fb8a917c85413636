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

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, String, and_, cast, func, select, union
from sqlalchemy.orm import Session

from idp.accounts.models import Account, Status
from idp.db_helpers import custom_plans, upsert
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
        sirets, sirens = self._rules.visible_pairs(account.id, shown_only=self._published())
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

    def _published(self) -> set[str]:
        # The services something was published for (one index probe each): a right that
        # implies other services then costs no probe for theirs, which hold no notice.
        codes = [service.code for service in self._rules.catalogue()]
        if not codes:
            return set()
        found = self._session.execute(select(*(
            select(N.id).where(N.service_code == code).exists().label(f"c{index}")
            for index, code in enumerate(codes)))).one()
        return {code for code, present in zip(codes, found, strict=True) if present}

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
        custom_plans(self._session)
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
                ids = sorted(set(ids).union(self._ids_after(account, through)))
                self._store.set(key, _encode(made, newest, ids), 2 * VISIBLE_SECONDS)
            return ids
        ids = sorted(self._ids_after(account, 0))
        self._store.set(key, _encode(now, newest, ids), 2 * VISIBLE_SECONDS)
        return ids

    def _ids_after(self, account: Account, through: int) -> list[int]:
        # One row of comma-separated ids: a firm's 20,000 rows cost more to fetch one by
        # one than to find.
        visible = self.visible_ids(account)
        if visible is None:
            return []
        ids = visible.subquery("visible")
        custom_plans(self._session)
        joined = self._session.scalar(select(func.aggregate_strings(
            cast(ids.c.id, String), ",")).where(ids.c.id > through))
        return list(map(int, joined.split(","))) if joined else []

    def unread_count(self, account: Account) -> int:
        """The badge: notices seen and neither read nor deleted."""
        ids = self._visible_list(account)
        return len(ids) - sum(1 for notification_id, (read_at, _, deleted_at)
                              in self._marks(account).items()
                              if (read_at or deleted_at) and _holds(ids, notification_id))

    def page(self, account: Account, filters: Filters) -> Page:
        """The list: unread first, then the newest (ids grow with publication); archived
        ones only when asked for."""
        if filters.siret or filters.service:
            rows, marks = self._seen(account, N.service_code, N.siret)
            listed = sorted((marks.get(i, (None,))[0] is not None, -i)
                            for i, service, siret in rows
                            if (not filters.siret or siret == filters.siret)
                            and (not filters.service or service == filters.service)
                            and _wanted(marks.get(i), filters.status))
            return self._page([-key for _, key in listed], marks, filters.page)
        return self._unfiltered(account, filters)

    def _unfiltered(self, account: Account, filters: Filters) -> Page:
        # The visible ids are kept sorted and the person's marks are few: the unread ones
        # are the ids without a mark, newest last, so a page is a walk back from the end
        # rather than a sort of every id.
        ids = self._visible_list(account)
        marks = {i: mark for i, mark in self._marks(account).items() if _holds(ids, i)}
        marked_read = sorted((i for i, mark in marks.items()
                              if _wanted(mark, filters.status) and mark[0]), reverse=True)
        if filters.status == ARCHIVED:
            return self._page(sorted((i for i, m in marks.items() if _wanted(m, ARCHIVED)),
                                     key=lambda i: (marks[i][0] is not None, -i)),
                              marks, filters.page)
        unread_total = 0 if filters.status == READ else len(ids) - sum(
            1 for mark in marks.values() if mark[0] or mark[1] or mark[2])
        total = unread_total + len(marked_read)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        number = min(max(1, filters.page), pages)
        start, stop = (number - 1) * PAGE_SIZE, number * PAGE_SIZE
        shown = []
        if start < unread_total:
            skipped = 0
            for notification_id in reversed(ids):
                if notification_id in marks and any(marks[notification_id]):
                    continue
                if skipped >= start:
                    shown.append(notification_id)
                    if len(shown) == stop - start:
                        break
                skipped += 1
        shown += marked_read[max(0, start - unread_total):max(0, stop - unread_total)]
        return self._shown(shown[:PAGE_SIZE], marks, total, number, pages)

    def _page(self, ordered: list[int], marks: dict, number: int) -> Page:
        pages = max(1, math.ceil(len(ordered) / PAGE_SIZE))
        number = min(max(1, number), pages)
        shown = ordered[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]
        return self._shown(shown, marks, len(ordered), number, pages)

    def _shown(self, shown: list[int], marks: dict, total: int, number: int,
               pages: int) -> Page:
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


def _wanted(mark: tuple | None, status: str | None) -> bool:
    """Whether a notice with these marks (read, archived, deleted) is listed for
    ``status``: never when deleted, archived ones only for ARCHIVED."""
    read_at, archived_at, deleted_at = mark or (None, None, None)
    if deleted_at or (archived_at is not None) != (status == ARCHIVED):
        return False
    return not ((status == UNREAD and read_at) or (status == READ and not read_at))


def _holds(ids: list[int], notification_id: int) -> bool:
    """Whether the sorted ``ids`` hold ``notification_id``."""
    at = bisect.bisect_left(ids, notification_id)
    return at < len(ids) and ids[at] == notification_id


def _encode(made: float, through: int, ids: list[int]) -> str:
    return f"{made}|{through}|{','.join(map(str, ids))}"


def _decode(raw: str | None) -> tuple[float, int, list[int]] | None:
    if not raw:
        return None
    made, through, ids = raw.split("|", 2)
    return float(made), int(through), list(map(int, ids.split(","))) if ids else []
