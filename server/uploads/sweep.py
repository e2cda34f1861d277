"""Empty the upload keys of settled uploads once their forms have expired (a periodic job).

Finalize seals the checked bytes under a key of the server's choosing and deletes the upload
key, but the phone's form stays valid until ``expires_at``: posting it again stores bytes at
the upload key, which nothing reads. After expiry nobody can write there any more, so one
delete per settled upload leaves nothing behind; ``swept_at`` records it. A pending upload is
left alone: a phone offline may still finalize what it sent in time.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.platform.storage import ObjectStore
from server.uploads import repository

BATCH = 200


async def sweep_spent_keys(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    now: datetime,
    *,
    batch: int = BATCH,
) -> int:
    """Delete the upload keys of settled, expired, unswept uploads; how many were swept.

    Safe side by side: deleting a missing key is no error, and a row is marked only once.
    """
    async with sessionmaker() as session:
        rows = await repository.spent_keys(session, now, batch)
        if not rows:
            return 0
        await asyncio.gather(*(store.delete(key) for _, key in rows))
        await repository.mark_swept(session, [upload_id for upload_id, _ in rows], now)
        await session.commit()
    return len(rows)
