"""The outbox worker: claim due rows, send them outside any transaction, record the outcome.

Safe with several workers and processes. A claim is one conditional UPDATE (``pending`` or
lease-expired ``sending`` → ``sending``) that picks its rows through ``FOR UPDATE SKIP LOCKED``
on PostgreSQL and runs under SQLite's single write lock, so no row is claimed twice. The
claim is a lease: ``next_attempt_at`` is pushed ``LEASE`` ahead, so a row whose worker died
becomes due again. Outcomes are written only while the worker still holds its claim.
Delivery is at least once; receivers de-duplicate with the ``Idempotency-Key`` header.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.config import Settings
from server.db import new_id, utcnow
from server.logs import get_logger
from server.notifications.channels import build_senders
from server.notifications.models import Channel, DeliveryStatus, Notification
from server.notifications.senders import DeliveryError, Outgoing, Sender
from server.notifications.templates import without_secrets

log = get_logger(__name__)

BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
BACKOFF_JITTER = 0.2  # a retry comes up to 20 % early, so failed rows do not retry in step
LEASE = timedelta(minutes=5)  # far beyond a batch's worst case (timeouts x batch / parallel)
PARALLEL_SENDS = 8
HTTP_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
ERROR_CHARS = 1000


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    delivered: int = 0
    retried: int = 0
    dead: int = 0

    def __add__(self, other: DeliveryResult) -> DeliveryResult:
        return DeliveryResult(
            self.delivered + other.delivered, self.retried + other.retried, self.dead + other.dead
        )


def retry_delay(attempts: int, *, jitter: float) -> timedelta:
    """Wait after the ``attempts``-th failure: 10 s, 20 s, 40 s … at most 1 h, less jitter.

    ``jitter`` is in [0, 1): the share of ``BACKOFF_JITTER`` taken off.
    """
    exponent = min(max(attempts - 1, 0), 20)
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (1 << exponent))
    return delay * (1 - BACKOFF_JITTER * jitter)


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        Notification.status.in_([DeliveryStatus.pending.value, DeliveryStatus.sending.value]),
        Notification.next_attempt_at <= now,
        Notification.channel != Channel.feed.value,
    )


async def _fail_exhausted_leases(session: AsyncSession, now: datetime, max_attempts: int) -> int:
    """A row whose worker died during its last allowed attempt is not sent again."""
    result = await session.execute(
        update(Notification)
        .where(
            Notification.status == DeliveryStatus.sending.value,
            Notification.next_attempt_at <= now,
            Notification.attempts >= max_attempts,
        )
        .values(
            status=DeliveryStatus.failed.value,
            next_attempt_at=None,
            claim="",
            last_error="the worker stopped during the last attempt (lease expired)",
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _claim(session: AsyncSession, now: datetime, batch: int) -> list[Outgoing]:
    claim = new_id()
    picked = (
        select(Notification.id)
        .where(_due(now))
        .order_by(Notification.next_attempt_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Notification)
        .where(Notification.id.in_(picked.scalar_subquery()), _due(now))
        .values(
            status=DeliveryStatus.sending.value,
            claim=claim,
            attempts=Notification.attempts + 1,
            next_attempt_at=now + LEASE,
        )
        .returning(
            Notification.id,
            Notification.channel,
            Notification.recipient,
            Notification.template,
            Notification.params,
            Notification.text_zh,
            Notification.text_en,
            Notification.body,
            Notification.attempts,
        )
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(statement)).all()
    return [Outgoing(**row._asdict(), claim=claim) for row in rows]


async def _send(senders: dict[str, Sender], message: Outgoing) -> DeliveryError | None:
    sender = senders.get(message.channel)
    if sender is None:
        return DeliveryError(f"no sender is configured for {message.channel!r}", retryable=False)
    try:
        await sender.send(message)
    except DeliveryError as exc:
        return exc
    except Exception as exc:  # a bug in one sender must not stop the batch
        log.exception("outbox.sender_crashed", id=message.id, channel=message.channel)
        return DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)
    return None


def _outcome(
    message: Outgoing,
    error: DeliveryError | None,
    *,
    now: datetime,
    max_attempts: int,
    jitter: Callable[[], float],
) -> tuple[dict[str, Any], DeliveryResult]:
    """The row's new values after an attempt, and how to count it (a sent or dead message
    keeps no secret: see ``templates.without_secrets``)."""
    final = without_secrets(message.template, message.params) or {}
    if error is None:
        values = {"status": DeliveryStatus.delivered.value, "delivered_at": now, "last_error": ""}
        return values | final | {"next_attempt_at": None}, DeliveryResult(delivered=1)
    last_error = str(error)[:ERROR_CHARS]
    if error.retryable and message.attempts < max_attempts:
        due = now + retry_delay(message.attempts, jitter=jitter())
        values = {"status": DeliveryStatus.pending.value, "next_attempt_at": due}
        return values | {"last_error": last_error}, DeliveryResult(retried=1)
    values = {"status": DeliveryStatus.failed.value, "next_attempt_at": None}
    return values | final | {"last_error": last_error}, DeliveryResult(dead=1)


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession], message: Outgoing, values: dict[str, Any]
) -> bool:
    """Write the outcome if this worker still holds the row's claim."""
    async with sessionmaker() as session:
        result = await session.execute(
            update(Notification)
            .where(
                Notification.id == message.id,
                Notification.claim == message.claim,
                Notification.status == DeliveryStatus.sending.value,
            )
            .values(**values, claim="")
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return int(getattr(result, "rowcount", 0) or 0) == 1


@dataclass(frozen=True, slots=True)
class _Worker:
    sessionmaker: async_sessionmaker[AsyncSession]
    senders: dict[str, Sender]
    now: datetime
    max_attempts: int
    jitter: Callable[[], float]
    limit: asyncio.Semaphore

    async def deliver(self, message: Outgoing) -> DeliveryResult:
        """Send one row and record it; any failure stays with this row."""
        async with self.limit:
            error = await _send(self.senders, message)
        values, counted = _outcome(
            message, error, now=self.now, max_attempts=self.max_attempts, jitter=self.jitter
        )
        try:
            if await _record(self.sessionmaker, message, values):
                return counted
            log.warning("outbox.lease_lost", id=message.id, channel=message.channel)
        except Exception:
            # The lease runs out and the row is sent again; the receiver de-duplicates.
            log.exception("outbox.record_failed", id=message.id, channel=message.channel)
        return DeliveryResult()


@asynccontextmanager
async def _http(client: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
    if client is not None:
        yield client
        return
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False) as own:
        yield own


async def _claim_due(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, batch: int, max_attempts: int
) -> tuple[int, list[Outgoing]]:
    async with sessionmaker() as session:
        dead = await _fail_exhausted_leases(session, now, max_attempts)
        claimed = await _claim(session, now, batch)
        await session.commit()
    return dead, claimed


async def deliver_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime | None = None,
    batch: int = 100,
    *,
    client: httpx.AsyncClient | None = None,
    jitter: Callable[[], float] = random.random,
) -> DeliveryResult:
    """Send the outbox rows that are due (one scheduler tick) and say what became of them."""
    now = now or utcnow()
    dead, claimed = await _claim_due(sessionmaker, now, batch, settings.outbox_max_attempts)
    if not claimed:
        return DeliveryResult(dead=dead)
    async with _http(client) as http:
        worker = _Worker(
            sessionmaker,
            build_senders(settings, http),
            now,
            settings.outbox_max_attempts,
            jitter,
            asyncio.Semaphore(PARALLEL_SENDS),
        )
        results = await asyncio.gather(*(worker.deliver(m) for m in claimed))
    total = sum(results, DeliveryResult(dead=dead))
    log.info("outbox.delivered", **{k: getattr(total, k) for k in ("delivered", "retried", "dead")})
    return total
