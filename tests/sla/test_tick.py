"""The SLA tick: yellow and red cards exactly once each, even with two tickers at once."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.audit.models import AuditRecord
from server.audit.service import verify_chain
from server.db import make_engine
from server.sessions import app_sessionmaker
from server.sla.calendar import WorkCalendar
from server.sla.clock import Card, SlaPolicy
from server.sla.jobs import CLOCKS, CardRaised, OnCard, TickResult, plan, raise_cards, sla_tick
from server.sla.models import SlaClockRow
from tests.fixtures.app import Api
from tests.fixtures.clock import AppClock
from tests.flows import ask_for_another_time, book, schedule, start_journey
from tests.sla import audit_count, clocks_of, now_at, opened_at, sh, stored_clocks

Maker = async_sessionmaker[AsyncSession]
POLICY = SlaPolicy()
START = sh(2026, 3, 9, 10)  # a Monday; a simple clock is yellow at 10:45, due at 11:00


async def open_cases(api: Api, clock: AppClock, count: int, sla_class: str = "simple") -> list[str]:
    """``count`` cases taken in at START by one dispatcher; the clock stays at START."""
    journey = await start_journey(api)
    ids = []
    for i in range(count):
        opened = await opened_at(api, clock, START, sla_class, journey=journey, number=f"SQ-T{i}")
        ids.append(opened.case_id)
    return ids


async def tick(
    maker: Maker,
    clock: AppClock,
    now: dt.datetime,
    *,
    batch: int = 1000,
    on_card: OnCard | None = None,
) -> TickResult:
    """The scheduler's SLA tick job run at ``now`` (the clock is set there first)."""
    clock.at(now)
    return await sla_tick(maker, now=now, batch=batch, on_card=on_card)


async def card_audits(maker: Maker) -> list[tuple[str, str | None]]:
    async with maker() as session:
        rows = await session.execute(
            select(AuditRecord.action, AuditRecord.case_id)
            .where(AuditRecord.action.in_(["sla.yellow_card", "sla.red_card"]))
            .order_by(AuditRecord.seq)
        )
        return [(a, c) for a, c in rows.all()]


@pytest.fixture
async def second_sessionmaker(database_url: str) -> AsyncIterator[Maker]:
    """Another engine on the same database: a second app process."""
    engine: AsyncEngine = make_engine(database_url)
    yield app_sessionmaker(engine, POLICY)
    await engine.dispose()


async def test_yellow_then_red_each_once(api: Api, clock: AppClock, sessionmaker: Maker) -> None:
    [case_id] = await open_cases(api, clock, 1)
    assert await tick(sessionmaker, clock, sh(2026, 3, 9, 10, 30)) == TickResult()
    assert await tick(sessionmaker, clock, sh(2026, 3, 9, 10, 50)) == TickResult(1, 1, 0)
    assert await tick(sessionmaker, clock, sh(2026, 3, 9, 10, 55)) == TickResult()  # not due again
    assert await tick(sessionmaker, clock, sh(2026, 3, 9, 11, 5)) == TickResult(1, 0, 1)
    assert await tick(sessionmaker, clock, sh(2026, 3, 9, 12)) == TickResult()
    assert await card_audits(sessionmaker) == [
        ("sla.yellow_card", case_id),
        ("sla.red_card", case_id),
    ]
    async with sessionmaker() as session:
        [row] = await clocks_of(session, case_id)
    assert (row.card, row.yellow_at, row.red_at) == (
        "red",
        sh(2026, 3, 9, 10, 50),
        sh(2026, 3, 9, 11, 5),
    )
    assert row.next_check_at is None


async def test_red_comes_only_after_the_due_time_has_passed(
    api: Api, clock: AppClock, sessionmaker: Maker
) -> None:
    await open_cases(api, clock, 1)
    assert await tick(sessionmaker, clock, sh(2026, 3, 9, 11)) == TickResult(1, 1, 0)
    assert (await tick(sessionmaker, clock, sh(2026, 3, 9, 11, 1))).red == 1


async def test_a_late_tick_raises_yellow_then_red(
    api: Api, clock: AppClock, sessionmaker: Maker
) -> None:
    [case_id] = await open_cases(api, clock, 1)
    assert await tick(sessionmaker, clock, sh(2026, 3, 10, 9)) == TickResult(1, 1, 1)
    assert await card_audits(sessionmaker) == [
        ("sla.yellow_card", case_id),
        ("sla.red_card", case_id),
    ]


async def test_two_concurrent_ticks_issue_each_card_exactly_once(
    api: Api, clock: AppClock, sessionmaker: Maker, second_sessionmaker: Maker
) -> None:
    case_ids = await open_cases(api, clock, 24)
    for now in (sh(2026, 3, 9, 10, 50), sh(2026, 3, 9, 11, 5)):
        results = await asyncio.gather(
            tick(sessionmaker, clock, now, batch=5), tick(second_sessionmaker, clock, now, batch=5)
        )
        total = results[0] + results[1]
        assert (total.yellow + total.red, total.failed) == (24, 0)
    counts = Counter(await card_audits(sessionmaker))
    assert counts == Counter(
        {(action, c): 1 for c in case_ids for action in ("sla.yellow_card", "sla.red_card")}
    )
    async with sessionmaker() as session:
        assert (await verify_chain(session)).ok


async def test_a_stale_reader_cannot_raise_a_card_again(
    api: Api, clock: AppClock, sessionmaker: Maker
) -> None:
    """The conditional UPDATE alone keeps a card single, whatever the locking did."""
    [case_id] = await open_cases(api, clock, 1)
    now = sh(2026, 3, 9, 10, 50)
    async with sessionmaker() as session:
        stale = (await session.execute(CLOCKS.select())).one()
    assert (await tick(sessionmaker, clock, now)).yellow == 1
    decided = plan(stale, now, WorkCalendar(), POLICY)
    assert decided.raises == (Card.yellow,)
    async with sessionmaker() as session:
        assert await raise_cards(session, stale, decided, now, None) == []
        await session.commit()
    assert await card_audits(sessionmaker) == [("sla.yellow_card", case_id)]


async def test_ticking_again_changes_nothing(
    api: Api, clock: AppClock, sessionmaker: Maker
) -> None:
    await open_cases(api, clock, 3)
    late = sh(2026, 3, 9, 12)
    assert await tick(sessionmaker, clock, late) == TickResult(3, 3, 3)
    async with sessionmaker() as session:
        before = (await session.scalars(select(SlaClockRow))).all()
    assert await tick(sessionmaker, clock, late) == TickResult()
    assert await tick(sessionmaker, clock, sh(2026, 3, 20, 12)) == TickResult()
    async with sessionmaker() as session:
        after = (await session.scalars(select(SlaClockRow))).all()
    assert [(r.card, r.red_at) for r in before] == [(r.card, r.red_at) for r in after]
    assert len(await card_audits(sessionmaker)) == 6


async def test_a_card_never_goes_down(api: Api, clock: AppClock, sessionmaker: Maker) -> None:
    journey = await opened_at(api, clock, START, "general")  # due Tue 10:00
    assert (await tick(sessionmaker, clock, sh(2026, 3, 10, 11))).red == 1
    await now_at(clock, sh(2026, 3, 10, 11, 10), journey)  # Tuesday declared a day off
    body = {"is_workday": False, "note": "停电"}
    closed = await api.client.put(
        "/api/v1/calendar/overrides/2026-03-10", json=body, headers=journey.admin
    )
    assert closed.status_code == 200, closed.text
    assert await tick(sessionmaker, clock, sh(2026, 3, 10, 11, 30)) == TickResult()
    [row] = await stored_clocks(api, journey.case_id)
    assert (row.card, row.due_at, row.next_check_at) == ("red", sh(2026, 3, 11, 10), None)


async def test_a_paused_clock_waits_for_its_resume(
    api: Api, clock: AppClock, sessionmaker: Maker
) -> None:
    journey = await opened_at(api, clock, START, "general")
    await schedule(journey)
    await now_at(clock, sh(2026, 3, 9, 10, 30), journey)
    await ask_for_another_time(journey)
    assert await tick(sessionmaker, clock, sh(2026, 3, 12, 10)) == TickResult()
    await now_at(clock, sh(2026, 3, 12, 10), journey)
    await book(journey)
    # 30 of 420 working minutes were used before the pause: yellow (at 315) 285 after the resume
    assert await tick(sessionmaker, clock, sh(2026, 3, 12, 16, 14)) == TickResult()
    assert await tick(sessionmaker, clock, sh(2026, 3, 12, 16, 20)) == TickResult(1, 1, 0)


async def test_on_card_hears_each_card_once(api: Api, clock: AppClock, sessionmaker: Maker) -> None:
    [case_id] = await open_cases(api, clock, 1)
    heard: list[CardRaised] = []

    async def on_card(session: AsyncSession, event: CardRaised) -> None:
        heard.append(event)

    await tick(sessionmaker, clock, sh(2026, 3, 9, 12), on_card=on_card)
    await tick(sessionmaker, clock, sh(2026, 3, 9, 13), on_card=on_card)
    assert [(e.case_id, e.card) for e in heard] == [(case_id, Card.yellow), (case_id, Card.red)]
    assert heard[1].due_at == sh(2026, 3, 9, 11)


async def test_one_failing_clock_does_not_stop_the_others(
    api: Api, clock: AppClock, sessionmaker: Maker
) -> None:
    good, hook_fails, corrupt = await open_cases(api, clock, 3)
    async with sessionmaker() as session:
        await session.execute(
            update(SlaClockRow).where(SlaClockRow.case_id == corrupt).values(pauses=[["x", None]])
        )
        await session.commit()

    async def on_card(session: AsyncSession, event: CardRaised) -> None:
        if event.case_id == hook_fails:
            raise RuntimeError("outbox is down")

    result = await tick(sessionmaker, clock, sh(2026, 3, 9, 10, 50), on_card=on_card)
    assert (result.checked, result.yellow, result.failed) == (3, 1, 2)
    async with sessionmaker() as session:
        assert await audit_count(session, "sla.yellow_card", good) == 1
        assert await audit_count(session, "sla.yellow_card", hook_fails) == 0  # rolled back
        assert (await verify_chain(session)).ok
    # retried later, once the hook works again
    retried = await tick(sessionmaker, clock, sh(2026, 3, 9, 11, 5))
    assert (retried.checked, retried.failed) == (3, 1)  # good→red, hook_fails→yellow+red
    async with sessionmaker() as session:
        assert await audit_count(session, "sla.yellow_card", hook_fails) == 1
