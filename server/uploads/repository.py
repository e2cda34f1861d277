"""The uploads' queries: find by idempotency key, list one uploader's, the conditional claim of
a pending upload, and the sweep's batch of spent keys."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from server.uploads.models import Upload


async def by_idempotency_key(
    session: AsyncSession, case_id: str, uploader: str, key: str
) -> Upload | None:
    """The uploader's upload with this key in the case, read afresh."""
    query = select(Upload).where(
        Upload.case_id == case_id, Upload.uploader == uploader, Upload.idempotency_key == key
    )
    return (await session.scalars(query.execution_options(populate_existing=True))).first()


async def of_uploader(session: AsyncSession, case_id: str, uploader: str) -> list[Upload]:
    """One uploader's uploads in the case, oldest first."""
    query = (
        select(Upload)
        .where(Upload.case_id == case_id, Upload.uploader == uploader)
        .order_by(Upload.created_at)
    )
    return list(await session.scalars(query))


async def claim_pending(session: AsyncSession, upload_id: str, **values: Any) -> bool:
    """Set ``values`` on the upload if it is still pending; False when it no longer was."""
    statement = (
        update(Upload)
        .where(Upload.id == upload_id, Upload.status == "pending")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def link_evidence(session: AsyncSession, upload_id: str, evidence_id: str) -> None:
    await session.execute(
        update(Upload).where(Upload.id == upload_id).values(evidence_id=evidence_id)
    )


async def spent_keys(session: AsyncSession, now: datetime, limit: int) -> list[tuple[str, str]]:
    """(id, upload key) of settled uploads whose forms expired and whose key is not swept."""
    rows = await session.execute(
        select(Upload.id, Upload.object_key)
        .where(
            Upload.status.in_(("finalized", "rejected")),
            Upload.expires_at <= now,
            Upload.swept_at.is_(None),
        )
        .order_by(Upload.expires_at)
        .limit(limit)
    )
    return [(upload_id, key) for upload_id, key in rows]


async def mark_swept(session: AsyncSession, upload_ids: Collection[str], now: datetime) -> None:
    await session.execute(
        update(Upload)
        .where(Upload.id.in_(list(upload_ids)), Upload.swept_at.is_(None))
        .values(swept_at=now)
    )
