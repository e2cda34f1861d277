"""The audit log is append-only and its hash chain exposes any edit, deletion or reordering."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.audit.service import Actor, append, verify_chain

ALICE = Actor("staff", "alice")


async def _append_many(sessionmaker: async_sessionmaker[AsyncSession], count: int) -> None:
    for i in range(count):
        async with sessionmaker() as session:
            await append(session, ALICE, "case.test", case_id=f"c{i}", detail={"n": i, "名": "王"})
            await session.commit()


async def _verify(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[bool, int | None, str]:
    async with sessionmaker() as session:
        report = await verify_chain(session)
    return report.ok, report.broken_at, report.reason


async def _tamper(engine: AsyncEngine, *statements: str) -> None:
    """Act as a superuser who bypasses the append-only triggers."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("ALTER TABLE audit_records DISABLE TRIGGER USER"))
        else:
            await conn.execute(text("DROP TRIGGER audit_records_no_update"))
            await conn.execute(text("DROP TRIGGER audit_records_no_delete"))
        for statement in statements:
            await conn.execute(text(statement))


async def test_intact_chain_verifies(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await _append_many(sessionmaker, 5)
    assert await _verify(sessionmaker) == (True, None, "")


async def test_edited_record_is_reported(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _append_many(sessionmaker, 5)
    await _tamper(engine, "UPDATE audit_records SET actor_id = 'mallory' WHERE seq = 3")
    ok, broken_at, reason = await _verify(sessionmaker)
    assert (ok, broken_at) == (False, 3)
    assert "altered" in reason


async def test_deleted_record_is_reported(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _append_many(sessionmaker, 5)
    await _tamper(engine, "DELETE FROM audit_records WHERE seq = 2")
    ok, broken_at, reason = await _verify(sessionmaker)
    assert (ok, broken_at) == (False, 2)
    assert "missing" in reason


async def test_deleted_tail_is_reported(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _append_many(sessionmaker, 4)
    await _tamper(engine, "DELETE FROM audit_records WHERE seq = 4")
    ok, broken_at, _ = await _verify(sessionmaker)
    assert (ok, broken_at) == (False, 4)


async def test_reordered_records_are_reported(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _append_many(sessionmaker, 5)
    # Swap records 2 and 3 wholesale (renumbering them), as a reordering attack would.
    await _tamper(
        engine,
        "UPDATE audit_records SET seq = 1000 WHERE seq = 2",
        "UPDATE audit_records SET seq = 2 WHERE seq = 3",
        "UPDATE audit_records SET seq = 3 WHERE seq = 1000",
    )
    ok, broken_at, _ = await _verify(sessionmaker)
    assert (ok, broken_at) == (False, 2)


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_records SET action = 'x' WHERE seq = 1", "DELETE FROM audit_records"],
)
async def test_database_refuses_changes_to_records(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], statement: str
) -> None:
    await _append_many(sessionmaker, 2)
    with pytest.raises((DBAPIError, IntegrityError, OperationalError), match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    assert (await _verify(sessionmaker))[0]


async def test_concurrent_appends_keep_one_chain(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async def writer(n: int) -> None:
        for i in range(5):
            async with sessionmaker() as session:
                await append(session, Actor("staff", f"w{n}"), "case.test", detail={"i": i})
                await asyncio.sleep(0)  # let the other writer interleave inside the transaction
                await session.commit()

    await asyncio.gather(*(writer(n) for n in range(4)))
    ok, _, _ = await _verify(sessionmaker)
    assert ok
    async with sessionmaker() as session:
        assert (await verify_chain(session)).checked == 20


async def test_rolled_back_append_leaves_no_gap(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _append_many(sessionmaker, 2)
    async with sessionmaker() as session:
        await append(session, ALICE, "case.test")
        await session.rollback()
    await _append_many(sessionmaker, 1)
    async with sessionmaker() as session:
        report = await verify_chain(session)
    assert (report.ok, report.checked) == (True, 3)
