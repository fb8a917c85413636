"""Queue a delivery in the caller's database, make the due ones, retry the failed ones.

The queue is a table rather than a Redis list: Redis holds only what may be lost (sessions,
counters), while an e-mail or a partner's logout must survive a restart of anything. A
worker claims rows with one ``UPDATE … RETURNING`` that re-checks the lease, so two workers
(threads, processes or machines) never make the same delivery twice.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from idp.delivery.models import Delivery

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # far longer than a batch of SMTP or HTTP time-outs
BATCH = 10
KEEP_FAILED = timedelta(days=7)

Handler = Callable[[dict], None]


class RetryLater(Exception):
    """The delivery failed in a way that may pass: relay down, partner answering 5xx."""


class Undeliverable(Exception):
    """The delivery can never be made (the relay refuses the address): give it up now."""


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts: ``first`` seconds, doubling up to ``longest``, ±20 % so that
    deliveries failed together do not all come back at once; given up after ``attempts``."""

    first: float = 5.0
    longest: float = 900.0
    attempts: int = 20

    def wait(self, failures: int) -> float:
        """Seconds before the attempt that follows ``failures`` failures."""
        base = min(self.longest, self.first * 2 ** (failures - 1))
        return base * random.uniform(0.8, 1.2)  # noqa: S311 (spreading, not secrecy)


@dataclass
class DeliveryReport:
    """What one pass of the worker did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


class DeliveryQueue:
    """Deliveries of every kind, each made by the handler registered for it."""

    def __init__(self, session: Session, clock: Callable[[], float], backoff: Backoff,
                 handlers: Mapping[str, Handler]):
        self._session = session
        self._clock = clock
        self._backoff = backoff
        self._handlers = handlers

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def enqueue(self, kind: str, payload: dict, *, commit: bool = True,
                delay_seconds: float = 0) -> None:
        """Queue one delivery, due in ``delay_seconds``, and commit it (callers queue after
        committing their change, so the commit holds only this row); ``commit=False`` leaves
        it in the caller's transaction, which then lands with the delivery or not at all."""
        if kind not in self._handlers:
            raise ValueError(f"no handler for deliveries of kind {kind!r}")
        now = self._now()
        self._session.add(Delivery(kind=kind, payload=json.dumps(payload), attempts=0,
                                   next_attempt_at=now + timedelta(seconds=delay_seconds),
                                   created_at=now))
        if commit:
            self._session.commit()

    def _claim(self, limit: int) -> list[tuple[int, str, str, int]]:
        now = self._now()
        free = or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now)
        due = (select(Delivery.id)
               .where(Delivery.failed_at.is_(None), Delivery.next_attempt_at <= now, free)
               .order_by(Delivery.next_attempt_at).limit(limit))
        # The lease is checked again by the UPDATE itself: on PostgreSQL a row another worker
        # claimed meanwhile is re-read and skipped; SQLite runs one writer at a time.
        rows = self._session.execute(
            update(Delivery).where(Delivery.id.in_(due.scalar_subquery()), free)
            .values(claimed_until=now + LEASE)
            .returning(Delivery.id, Delivery.kind, Delivery.payload, Delivery.attempts)
        ).all()
        self._session.commit()
        return [tuple(row) for row in rows]

    def deliver_due(self, limit: int = BATCH) -> DeliveryReport:
        """Make the deliveries that are due (at most ``limit``); say what happened."""
        report = DeliveryReport()
        for delivery_id, kind, payload, attempts in self._claim(limit):
            try:
                self._handlers[kind](json.loads(payload))
            except Undeliverable as error:
                self._give_up(delivery_id, attempts + 1, error)
                report.failed += 1
            except Exception as error:  # noqa: BLE001 (any failure is retried, none is lost)
                self._session.rollback()
                if attempts + 1 >= self._backoff.attempts:
                    self._give_up(delivery_id, attempts + 1, error)
                    report.failed += 1
                else:
                    self._retry(delivery_id, attempts + 1, error)
                    report.retried += 1
            else:
                self._session.execute(delete(Delivery).where(Delivery.id == delivery_id))
                self._session.commit()
                report.sent += 1
        return report

    def drain(self) -> DeliveryReport:
        """Make every delivery due now, batch after batch (cron, tests); say what happened."""
        total = DeliveryReport()
        while True:
            report = self.deliver_due()
            if not (report.sent or report.retried or report.failed):
                return total
            total.sent += report.sent
            total.retried += report.retried
            total.failed += report.failed

    def _retry(self, delivery_id: int, attempts: int, error: Exception) -> None:
        wait = self._backoff.wait(attempts)
        log.warning("envoi %s en échec (%s), nouvel essai dans %.0f s", delivery_id,
                    _describe(error), wait)
        self._session.execute(update(Delivery).where(Delivery.id == delivery_id).values(
            attempts=attempts, claimed_until=None, last_error=_describe(error),
            next_attempt_at=self._now() + timedelta(seconds=wait)))
        self._session.commit()

    def _give_up(self, delivery_id: int, attempts: int, error: Exception) -> None:
        log.error("envoi %s abandonné après %s essai(s) : %s", delivery_id, attempts,
                  _describe(error))
        self._session.execute(update(Delivery).where(Delivery.id == delivery_id).values(
            attempts=attempts, claimed_until=None, last_error=_describe(error),
            failed_at=self._now()))
        self._session.commit()

    def forget_old_failures(self) -> int:
        """Delete deliveries given up more than a week ago; how many."""
        result = self._session.execute(delete(Delivery).where(
            Delivery.failed_at < self._now() - KEEP_FAILED))
        self._session.commit()
        return result.rowcount

    def counts(self) -> dict[str, int]:
        """How many deliveries wait and how many were given up."""
        waiting = self._session.scalar(select(func.count()).where(Delivery.failed_at.is_(None)))
        failed = self._session.scalar(select(func.count()).where(Delivery.failed_at.is_not(None)))
        return {"waiting": waiting, "failed": failed}

    def run(self, stop: threading.Event, idle_seconds: float = 1.0) -> None:
        """Deliver until ``stop`` is set, resting ``idle_seconds`` when nothing is due."""
        passes = 0
        while not stop.is_set():
            try:
                report = self.deliver_due()
            except OperationalError as error:
                # The database is down (a restart): nothing was claimed for good; try again.
                self._session.rollback()
                log.warning("Base de données injoignable, nouvel essai : %s",
                            type(error.orig).__name__)
                stop.wait(idle_seconds * 5)
                continue
            passes += 1
            if passes % 3600 == 0:
                self.forget_old_failures()
            if not (report.sent or report.retried or report.failed):
                stop.wait(idle_seconds)


def _describe(error: Exception) -> str:
    """The error's type and message, short: handlers never put secrets in their messages."""
    return f"{type(error).__name__}: {error}"[:200]
