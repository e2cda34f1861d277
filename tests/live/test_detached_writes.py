"""The writer for live events: never cut short by its caller, retried, loud when given up."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.detached import DetachedWriter
from server.audit.models import AuditRecord
from server.audit.service import Actor, append
from server.context import AppContext


async def records(ctx: AppContext, action: str) -> int:
    async with ctx.sessionmaker() as session:
        found = await session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)
        )
    return int(found or 0)


def writer(ctx: AppContext) -> DetachedWriter:
    return DetachedWriter(ctx.sessionmaker, retry_delays=(0.01, 0.01))


async def test_a_cancelled_waiter_leaves_the_write_to_finish(ctx: AppContext) -> None:
    detached = writer(ctx)
    started = asyncio.Event()

    async def write(session: AsyncSession) -> None:
        started.set()
        await asyncio.sleep(0.05)  # the connection is replaced meanwhile
        await append(session, Actor.system(), "test.detached")

    waiter = asyncio.create_task(asyncio.wait_for(detached.submit(write, what="t"), 5))
    await started.wait()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await detached.drain() == 0
    assert await records(ctx, "test.detached") == 1


async def test_a_locked_database_is_retried(
    ctx: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    attempts = 0

    async def write(session: AsyncSession) -> None:
        nonlocal attempts
        attempts += 1
        await append(session, Actor.system(), "test.retried")
        if attempts == 1:  # as SQLite says when another writer holds the lock too long
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))

    detached = writer(ctx)
    await detached.submit(write, what="retried")
    assert attempts == 2
    assert await records(ctx, "test.retried") == 1  # the failed attempt was rolled back
    assert "retried" in caplog.text


async def test_a_write_given_up_is_logged_loudly(
    ctx: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    async def write(session: AsyncSession) -> None:
        raise IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))

    with pytest.raises(IntegrityError):  # whoever still waits is told too
        await writer(ctx).submit(write, what="live.join case-1")
    given_up = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert given_up
    assert "live.join case-1" in given_up[0].getMessage()


async def test_writes_of_one_case_are_committed_in_the_order_given(ctx: AppContext) -> None:
    detached = writer(ctx)

    def slow_then(action: str, pause: float) -> Callable[[AsyncSession], Awaitable[None]]:
        async def write(session: AsyncSession) -> None:
            await asyncio.sleep(pause)
            await append(session, Actor.system(), action, case_id="case-1")

        return write

    first = detached.submit(slow_then("test.first", 0.1), what="1", order="case-1")
    second = detached.submit(slow_then("test.second", 0.0), what="2", order="case-1")
    await asyncio.gather(first, second)
    async with ctx.sessionmaker() as session:
        actions = list(
            await session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.action.like("test.%"))
                .order_by(AuditRecord.seq)
            )
        )
    assert actions == ["test.first", "test.second"]
