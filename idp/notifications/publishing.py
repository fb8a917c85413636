"""Publishing: a partner's notices, one or a campaign's batch, checked whole before any is
written, idempotent by the partner's key."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum.fr import siret as siret_number

from idp.directory.models import Establishment
from idp.notifications.models import Notification

MAX_BATCH = 10_000
LIMITS = {"key": 100, "siret": 14, "service": 16, "title": 200, "body": 5000, "link": 2000,
          "document": 2000, "category": 40}
FIELDS = {"key", "siret", "service", "title", "body", "link", "document", "category",
          "campaign"}
REQUIRED = ("key", "siret", "service", "title", "body", "link")
CATEGORY = re.compile(r"[a-z][a-z0-9_]*")
CHUNK = 900  # SQLite's bound parameters per statement stay under its limit


@dataclass(frozen=True)
class Publisher:
    """The partner publishing: its client id, the services it hosts, and whether an
    address is one of its pages that ``/connexion?cible=`` can reach."""

    client_id: str
    services: frozenset[str]
    owns: Callable[[str], bool]


class PublishRefused(Exception):
    """One notice of the request cannot be published; nothing of the request was."""

    def __init__(self, index: int | None, field: str, reason: str, status: int = 400):
        super().__init__(reason)
        self.index, self.field, self.reason, self.status = index, field, reason, status


@dataclass(frozen=True)
class Published:
    """A notice's id, and whether this request created it (else its key existed)."""

    id: int
    created: bool


def _text(item: dict, field: str, index: int | None, required: bool = True) -> str | None:
    value = item.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise PublishRefused(index, field, f"{field} is a non-empty string")
    if len(value) > LIMITS[field]:
        raise PublishRefused(index, field, f"{field} is at most {LIMITS[field]} "
                                           "characters")
    if "\x00" in value or not (value.isprintable() or field == "body"):
        raise PublishRefused(index, field, f"{field} holds characters that are not allowed")
    return value


def _checked(item, index: int | None, publisher: Publisher) -> dict:
    if not isinstance(item, dict):
        raise PublishRefused(index, "", "each notification is a JSON object")
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise PublishRefused(index, unknown[0][:40], "unknown field")
    missing = [field for field in REQUIRED if field not in item]
    if missing:
        raise PublishRefused(index, missing[0], f"{missing[0]} is required")
    siret = _text(item, "siret", index)
    if not (siret.isascii() and siret.isdigit() and siret_number.is_valid(siret)):
        raise PublishRefused(index, "siret", "siret is not a valid SIRET")
    service = _text(item, "service", index)
    if service not in publisher.services:
        raise PublishRefused(index, "service", "the client does not host this service", 403)
    link = _text(item, "link", index)
    document = _text(item, "document", index, required=False)
    for field, url in (("link", link), ("document", document)):
        if url is not None and not publisher.owns(url):
            raise PublishRefused(index, field, f"{field} is not a page of this client that "
                                               "/connexion?cible= can reach")
    category = _text(item, "category", index, required=False)
    if category is not None and not CATEGORY.fullmatch(category):
        raise PublishRefused(index, "category", "category is lowercase letters, digits, _")
    campaign = item.get("campaign", False)
    if not isinstance(campaign, bool):
        raise PublishRefused(index, "campaign", "campaign is true or false")
    return {"client_id": publisher.client_id, "key": _text(item, "key", index),
            "siret": siret, "siren": siret[:9], "service_code": service,
            "title": _text(item, "title", index).strip(), "body": _text(item, "body", index),
            "link": link, "document": document, "category": category, "campaign": campaign}


def _chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


class Publishing:
    """Writes partners' notices."""

    def __init__(self, session: Session, clock: Callable[[], datetime]):
        self._session = session
        self._clock = clock

    def publish(self, publisher: Publisher, items: list, batch: bool) -> list[Published]:
        """Check every notice, then write the new ones in one transaction (committed);
        the same key again gives the existing notice. Raise PublishRefused."""
        if batch and not 1 <= len(items) <= MAX_BATCH:
            raise PublishRefused(None, "", f"a batch holds 1 to {MAX_BATCH} notifications")
        rows = [_checked(item, index if batch else None, publisher)
                for index, item in enumerate(items)]
        keys = [row["key"] for row in rows]
        if len(set(keys)) != len(keys):
            seen: set[str] = set()
            index = next(i for i, key in enumerate(keys) if key in seen or seen.add(key))
            raise PublishRefused(index, "key", "the same key twice in one batch")
        self._known_establishments(rows, batch)
        try:
            return self._write(publisher.client_id, rows)
        except IntegrityError:
            # The same key published at the same instant by another request: it won;
            # this request now finds its rows.
            self._session.rollback()
            return self._write(publisher.client_id, rows)

    def _known_establishments(self, rows: list[dict], batch: bool) -> None:
        sirets = sorted({row["siret"] for row in rows})
        known: set[str] = set()
        for chunk in _chunks(sirets):
            known.update(self._session.scalars(
                select(Establishment.siret).where(Establishment.siret.in_(chunk))))
        for index, row in enumerate(rows):
            if row["siret"] not in known:
                raise PublishRefused(index if batch else None, "siret",
                                     "no establishment has this SIRET in the directory", 422)

    def _existing(self, client_id: str, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(keys):
            found.update(self._session.execute(
                select(Notification.key, Notification.id).where(
                    Notification.client_id == client_id, Notification.key.in_(chunk))).all())
        return found

    def _write(self, client_id: str, rows: list[dict]) -> list[Published]:
        existing = self._existing(client_id, [row["key"] for row in rows])
        now = self._clock()
        new = [{**row, "published_at": now} for row in rows if row["key"] not in existing]
        if new:
            # A plain executemany (psycopg pipelines it), then the new ids read back by key:
            # several times faster than one INSERT … RETURNING of a thousand rows.
            self._session.execute(insert(Notification.__table__), new)
        created = self._existing(client_id, [row["key"] for row in new])
        self._session.commit()
        return [Published(created[row["key"]], True) if row["key"] in created
                else Published(existing[row["key"]], False) for row in rows]
