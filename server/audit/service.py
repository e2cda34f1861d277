"""Append to and verify the hash-chained audit log.

Appenders serialise on the single ``audit_head`` row: the UPDATE takes a row lock on
PostgreSQL and the write lock on SQLite, so two transactions can never chain onto the same
previous record. A rolled-back transaction rolls the head back too, so ``seq`` has no gaps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditHead, AuditRecord
from server.db import utcnow

GENESIS_HASH = "0" * 64
HEAD_ID = 1


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a staff member, the applicant of a case (by link id), or the system."""

    kind: str
    id: str = ""

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls("system", name)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(
    *,
    seq: int,
    at: datetime,
    actor_kind: str,
    actor_id: str,
    action: str,
    case_id: str | None,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    body = {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor_kind": actor_kind,
        "actor_id": actor_id,
        "action": action,
        "case_id": case_id,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def hash_of(record: AuditRecord) -> str:
    """The hash a record must carry, from its own fields and its predecessor's hash."""
    return record_hash(
        seq=record.seq,
        at=record.at,
        actor_kind=record.actor_kind,
        actor_id=record.actor_id,
        action=record.action,
        case_id=record.case_id,
        detail=record.detail,
        prev_hash=record.prev_hash,
    )


async def append(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    case_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one record in the caller's transaction and return it (with its hash)."""
    # Round-trip through JSON so what we hash is exactly what the database gives back.
    clean_detail: dict[str, Any] = json.loads(canonical_json(detail or {}))
    head = (
        await session.execute(
            update(AuditHead)
            .where(AuditHead.id == HEAD_ID)
            .values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.hash)
        )
    ).one()
    seq, prev_hash = head.seq, head.hash
    record = AuditRecord(
        seq=seq,
        at=utcnow(),
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=action,
        case_id=case_id,
        detail=clean_detail,
        prev_hash=prev_hash,
    )
    record.hash = hash_of(record)
    session.add(record)
    await session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(hash=record.hash))
    await session.flush()
    return record


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""


async def _records(session: AsyncSession, batch: int = 5000) -> AsyncIterator[AuditRecord]:
    last = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditRecord)
                .where(AuditRecord.seq > last)
                .order_by(AuditRecord.seq)
                .limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].seq
        session.expunge_all()


async def verify_chain(session: AsyncSession) -> ChainReport:
    """Walk the chain from the start and report the first broken link."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    async for record in _records(session):
        if record.seq != expected_seq:
            return ChainReport(False, checked, expected_seq, f"record {expected_seq} is missing")
        if record.prev_hash != prev_hash:
            return ChainReport(
                False, checked, record.seq, "prev_hash does not match the previous record"
            )
        if hash_of(record) != record.hash:
            return ChainReport(False, checked, record.seq, "record content was altered")
        prev_hash, expected_seq, checked = record.hash, expected_seq + 1, checked + 1
    head = await session.get(AuditHead, HEAD_ID)
    if head is None or head.seq != checked or head.hash != prev_hash:
        return ChainReport(
            False, checked, checked + 1, "records after the last one found were removed"
        )
    return ChainReport(True, checked)
