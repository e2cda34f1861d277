"""The writer for live events: never cut short by its caller, retried, loud when given up."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

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

    await writer(ctx).submit(write, what="live.join case-1")
    given_up = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert given_up
    assert "live.join case-1" in given_up[0].getMessage()
