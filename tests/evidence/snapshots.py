"""Evidence rows a test needs without a live call (a snapshot stored as the media side would)."""

from __future__ import annotations

from datetime import UTC, datetime

from server.audit.service import Actor
from server.context import AppContext
from server.evidence.models import Evidence
from server.evidence.service import record_evidence
from server.platform.storage import case_photo_key

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


async def add_snapshot(ctx: AppContext, case_id: str) -> Evidence:
    key = case_photo_key(case_id, "snap1", "jpg")
    stored = await ctx.store.put(key, b"\xff\xd8 not really a jpeg", "image/jpeg")
    async with ctx.sessionmaker() as session:
        evidence = await record_evidence(
            session,
            case_id=case_id,
            kind="snapshot",
            actor=Actor("staff", "someone"),
            captured_at=T0,
            object_key=key,
            sha256=stored.sha256 or "",
            size=stored.size,
            content_type="image/jpeg",
            item_ids=["SH-01"],
        )
        await session.commit()
    return evidence
