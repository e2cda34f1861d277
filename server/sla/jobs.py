"""The SLA tick (时限巡检): raise yellow and red cards on clocks whose next check has come.

Safe to run from several processes at once and again after a crash; all state is in the
database:

* only clocks whose ``next_check_at`` has come are read (an index range scan), in batches,
  each batch in its own transaction. PostgreSQL hands each ticker different rows
  (``FOR UPDATE SKIP LOCKED``); SQLite has one writer, so a batch takes the write lock first
  (``BEGIN IMMEDIATE``) and a second ticker waits, then reads what the first one wrote;
* each card is raised by a conditional ``UPDATE … WHERE card = <the card read>``: only the
  ticker whose update hits the row audits it and calls ``on_card``, so each card is issued
  exactly once, in the transaction that raised it;
* cards only rise (none → yellow → red); a clock that skipped yellow while nobody ticked gets
  both, in order;
* one clock failing is logged and looked at again after ``RETRY_AFTER``; the other clocks of
  the batch go on. Unreadable data is caught before anything is written; a failing write or
  ``on_card`` rolls the batch back, which is then redone with a savepoint per clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit.service import append
from server.db import utcnow
from server.logs import get_logger
from server.sla.calendar import WorkCalendar
from server.sla.clock import Card, SlaPolicy, clock_status
from server.sla.models import SlaClockRow
from server.sla.policy import session_policy
from server.sla.service import (
    CARD_ORDER,
    SYSTEM,
    clock_state,
    higher_card,
    load_calendar,
    next_check,
    red_check,
)

log = get_logger(__name__)
CLOCKS = cast(Table, SlaClockRow.__table__)
# A clock that failed is looked at again after this, so it cannot starve the others.
RETRY_AFTER = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class CardRaised:
    """What ``on_card`` hears: one card issued on one clock, inside the tick's transaction."""

    clock_id: str
    case_id: str
    phase: str
    sla_class: str
    card: Card
    due_at: datetime | None
    at: datetime


OnCard = Callable[[AsyncSession, CardRaised], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class TickResult:
    checked: int = 0  # clocks looked at
    yellow: int = 0  # yellow cards raised by this tick
    red: int = 0  # red cards raised by this tick
    failed: int = 0  # clocks that raised an error (logged, retried later)

    def __add__(self, other: TickResult) -> TickResult:
        return TickResult(
            self.checked + other.checked,
            self.yellow + other.yellow,
            self.red + other.red,
            self.failed + other.failed,
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """What the pure rules say about one clock at ``now``: cards to raise and new caches."""

    raises: tuple[Card, ...]
    card: Card
    due_at: datetime | None
    provisional: bool
    next_check_at: datetime | None


@dataclass
class _Batch:
    checked: int = 0
    failed: int = 0
    raised: list[Card] = field(default_factory=list)
    caches: list[dict[str, Any]] = field(default_factory=list)

    def result(self) -> TickResult:
        yellow = sum(1 for c in self.raised if c is Card.yellow)
        return TickResult(self.checked, yellow, len(self.raised) - yellow, self.failed)


async def sla_tick(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime | None = None,
    batch: int = 1000,
    *,
    on_card: OnCard | None = None,
) -> TickResult:
    """One pass over the clocks whose next check has come; the scheduler's job."""
    async with sessionmaker() as session:
        calendar = await load_calendar(session)
        policy = session_policy(session)
    tick = _Pass(sessionmaker, now or utcnow(), batch, calendar, policy, on_card)
    total = TickResult()
    while True:
        result = await _run_batch(tick)
        if result is None:
            return total + TickResult(failed=1)
        total += result
        if result.checked < batch:
            return total


@dataclass(frozen=True, slots=True)
class _Pass:
    """What every batch of one tick shares."""

    sessionmaker: async_sessionmaker[AsyncSession]
    now: datetime
    limit: int
    calendar: WorkCalendar
    policy: SlaPolicy
    on_card: OnCard | None


async def _run_batch(tick: _Pass) -> TickResult | None:
    """A batch in one transaction; if any write in it fails, the batch is redone carefully,
    each clock in its own savepoint, so only the failing clock is skipped. (Savepoints for
    every clock would cost a quarter of the tick's time when nothing fails.)"""
    try:
        return await _tick_batch(tick, careful=False)
    except Exception:
        log.warning("sla.tick_batch_redone_carefully", exc_info=True)
    try:
        return await _tick_batch(tick, careful=True)
    except Exception:
        log.exception("sla.tick_batch_failed")
        return None


async def _tick_batch(tick: _Pass, *, careful: bool) -> TickResult:
    async with tick.sessionmaker() as session:
        rows = await claim_due(session, tick.now, tick.limit)
        batch = _Batch(checked=len(rows))
        for row in rows:
            await _check_one(session, row, tick, batch, careful=careful)
        await write_caches(session, batch.caches)
        await session.commit()
    return batch.result()


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Row[Any]]:
    """Running clocks below red whose next check has come, locked for this ticker."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        await session.execute(text("BEGIN IMMEDIATE"))
    query = (
        select(CLOCKS)
        .where(CLOCKS.c.next_check_at <= now, CLOCKS.c.active, CLOCKS.c.card != Card.red.value)
        .order_by(CLOCKS.c.next_check_at)
        .limit(limit)
    )
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return (await session.execute(query)).all()


def plan(row: Any, now: datetime, calendar: WorkCalendar, policy: SlaPolicy) -> Plan:
    """Pure: the cards to raise on a stored clock at ``now`` and its refreshed caches.

    Raises ``_Skipped`` (logged) when the stored clock cannot be read or computed.
    """
    try:
        clock = clock_state(row)
        status = clock_status(clock, now, calendar=calendar, policy=policy)
    except Exception as exc:
        log.exception("sla.clock_unreadable", clock_id=row.id, case_id=row.case_id)
        raise _Skipped from exc
    stored = Card(row.card)
    card = higher_card(stored, status.card)
    low, high = CARD_ORDER.index(stored), CARD_ORDER.index(card)
    if card is Card.yellow:  # the common case: the due time is already known
        upcoming = red_check(status.due)
    else:
        upcoming = next_check(clock, card, calendar=calendar, policy=policy)
    if upcoming is not None and upcoming <= now:  # rounding at a boundary: look again later
        upcoming = now + RETRY_AFTER
    return Plan(
        raises=CARD_ORDER[low + 1 : high + 1],
        card=card,
        due_at=None if status.due is None else status.due.due_utc,
        provisional=status.due is not None and status.due.provisional,
        next_check_at=upcoming,
    )


async def _check_one(
    session: AsyncSession, row: Row[Any], tick: _Pass, batch: _Batch, *, careful: bool
) -> None:
    try:
        decided = plan(row, tick.now, tick.calendar, tick.policy)
        if decided.raises:
            raised = await _raise(session, row, decided, tick, careful=careful)
            batch.raised += raised
            if len(raised) < len(decided.raises):
                return  # another ticker got there first and keeps the caches
        batch.caches.append(_cache_params(row.id, decided))
    except _Skipped:
        batch.failed += 1
        await _postpone(session, row.id, tick.now + RETRY_AFTER)


class _Skipped(Exception):
    """This clock failed and was logged; the rest of the batch goes on."""


async def _raise(
    session: AsyncSession, row: Row[Any], decided: Plan, tick: _Pass, *, careful: bool
) -> list[Card]:
    if not careful:  # a failure here aborts the batch, which is then redone carefully
        return await raise_cards(session, row, decided, tick.now, tick.on_card)
    try:
        async with session.begin_nested():
            return await raise_cards(session, row, decided, tick.now, tick.on_card)
    except Exception as exc:
        log.exception("sla.clock_raise_failed", clock_id=row.id, case_id=row.case_id)
        raise _Skipped from exc


async def raise_cards(
    session: AsyncSession, row: Row[Any], decided: Plan, now: datetime, on_card: OnCard | None
) -> list[Card]:
    """Raise each card in turn, each only if the row still shows the card below it."""
    raised: list[Card] = []
    current = Card(row.card)
    for card in decided.raises:
        if not await _conditional_raise(session, row.id, current, card, now):
            break
        await append(
            session,
            SYSTEM,
            f"sla.{card.value}_card",
            case_id=row.case_id,
            detail=_card_detail(row, card, decided),
        )
        if on_card is not None:
            event = CardRaised(
                row.id, row.case_id, row.phase, row.sla_class, card, decided.due_at, now
            )
            await on_card(session, event)
        raised.append(card)
        current = card
    return raised


async def _conditional_raise(
    session: AsyncSession, clock_id: str, current: Card, card: Card, now: datetime
) -> bool:
    stamp = {"yellow_at": now} if card is Card.yellow else {"red_at": now}
    statement = (
        update(CLOCKS)
        .where(CLOCKS.c.id == clock_id, CLOCKS.c.card == current.value)
        .values(card=card.value, **stamp)
    )
    result = await (await session.connection()).execute(statement)
    return result.rowcount == 1


def _event(row: Row[Any], card: Card, decided: Plan, now: datetime) -> CardRaised:
    return CardRaised(row.id, row.case_id, row.phase, row.sla_class, card, decided.due_at, now)


def _card_detail(row: Row[Any], card: Card, decided: Plan) -> dict[str, Any]:
    return {
        "clock": row.id,
        "card": card.value,
        "phase": row.phase,
        "sla_class": row.sla_class,
        "due_at": None if decided.due_at is None else decided.due_at.isoformat(),
        "provisional": decided.provisional,
    }


def _cache_params(clock_id: str, decided: Plan) -> dict[str, Any]:
    return {
        "b_id": clock_id,
        "b_card": decided.card.value,
        "due_at": decided.due_at,
        "provisional": decided.provisional,
        "next_check_at": decided.next_check_at,
    }


async def write_caches(session: AsyncSession, params: list[dict[str, Any]]) -> None:
    """Store the refreshed caches of a batch in one executemany."""
    if not params:
        return
    statement = (
        update(CLOCKS)
        .where(CLOCKS.c.id == bindparam("b_id"), CLOCKS.c.card == bindparam("b_card"))
        .values(
            due_at=bindparam("due_at"),
            provisional=bindparam("provisional"),
            next_check_at=bindparam("next_check_at"),
        )
    )
    await (await session.connection()).execute(statement, params)


async def _postpone(session: AsyncSession, clock_id: str, until: datetime) -> None:
    try:
        statement = update(CLOCKS).where(CLOCKS.c.id == clock_id).values(next_check_at=until)
        await (await session.connection()).execute(statement)
    except Exception:
        log.exception("sla.clock_postpone_failed", clock_id=clock_id)
