"""What an insider with write access to the database can do to the audit log (reliability #26),
each in the caller's transaction (the test rolls it back after checking)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditHead, AuditRecord
from server.audit.service import HEAD_ID, hash_of

GUARDS = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_records_no_update",
        "DROP TRIGGER IF EXISTS audit_records_no_delete",
    ],
    "postgresql": ["DROP TRIGGER IF EXISTS audit_records_no_change ON audit_records"],
}


async def drop_guards(session: AsyncSession) -> None:
    """What an insider with owner rights does first: drop the append-only triggers (on
    PostgreSQL inside the transaction, so the rollback restores them)."""
    for statement in GUARDS[session.get_bind().dialect.name]:
        await session.execute(text(statement))


async def _row(session: AsyncSession, seq: int) -> AuditRecord:
    record = await session.get(AuditRecord, seq, populate_existing=True)
    assert record is not None
    return record


async def edit(session: AsyncSession, seq: int, *, rehash: bool) -> None:
    """Change who did it and what they did; with ``rehash`` also fix that record's hash."""
    record = await _row(session, seq)
    record.actor_id, record.detail = "someone-else", {**record.detail, "forged": True}
    record.at = record.at - timedelta(hours=3)
    if rehash:
        record.hash = hash_of(record)
    await session.flush()


async def remove(session: AsyncSession, seq: int) -> None:
    await session.execute(delete(AuditRecord).where(AuditRecord.seq == seq))


async def truncate(session: AsyncSession, seq: int) -> None:
    """Drop every record from ``seq`` on (the head row is left as it was)."""
    await session.execute(delete(AuditRecord).where(AuditRecord.seq >= seq))


async def _move(session: AsyncSession, old: int, new: int) -> None:
    await session.execute(update(AuditRecord).where(AuditRecord.seq == old).values(seq=new))


async def swap(session: AsyncSession, seq: int) -> None:
    """Reorder: records ``seq`` and ``seq + 1`` trade places."""
    await _move(session, seq, -1)
    await _move(session, seq + 1, seq)
    await _move(session, -1, seq + 1)


async def _shift_up(session: AsyncSession, after: int) -> None:
    """Make room: every record after ``after`` moves one place on (two steps for the PK)."""
    await session.execute(
        update(AuditRecord).where(AuditRecord.seq > after).values(seq=-(AuditRecord.seq + 1))
    )
    await session.execute(
        update(AuditRecord).where(AuditRecord.seq < 0).values(seq=-AuditRecord.seq)
    )


async def insert(session: AsyncSession, after: int, *, rechain: bool) -> None:
    """A forged record after ``after``; with ``rechain`` every later hash and the head are
    recomputed too (a careful insider), which only an outside anchor can reveal."""
    previous = await _row(session, after)
    await _shift_up(session, after)
    forged = AuditRecord(
        seq=after + 1,
        at=previous.at,
        actor_kind="staff",
        actor_id="insider",
        action="opinion.approved",
        case_id=previous.case_id,
        detail={"forged": True},
        prev_hash=previous.hash,
    )
    forged.hash = hash_of(forged)
    session.add(forged)
    await session.flush()
    if rechain:
        await _rechain(session, after + 1)


async def _rechain(session: AsyncSession, start: int) -> None:
    rows = (
        await session.scalars(
            select(AuditRecord).where(AuditRecord.seq >= start).order_by(AuditRecord.seq)
        )
    ).all()
    prev = rows[0].prev_hash
    for row in rows:
        row.prev_hash = prev
        row.hash = hash_of(row)
        prev = row.hash
    await session.flush()
    await session.execute(
        update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=rows[-1].seq, hash=prev)
    )
