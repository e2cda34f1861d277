"""An opinion's rows: finding the current version, storing its content, auditing its steps.

Shared by the workflow (``service``), issuing (``issue``) and the reads (``reads``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.errors import NotFound
from server.opinions.content import OpinionContent, content_hash
from server.opinions.models import Opinion

ISSUED = ("issued", "superseded")


# --- reading ---------------------------------------------------------------------------------


async def current(session: AsyncSession, case_id: str) -> Opinion | None:
    """The case's newest opinion version, whatever its status."""
    return await session.scalar(
        select(Opinion).where(Opinion.case_id == case_id).order_by(Opinion.version.desc()).limit(1)
    )


async def require_current(session: AsyncSession, case_id: str) -> Opinion:
    found = await current(session, case_id)
    if found is None:
        raise NotFound(
            "本案尚无踏勘意见书。", "This case has no inspection opinion yet.", reason="no_opinion"
        )
    return found


async def require_issued(session: AsyncSession, case_id: str) -> Opinion:
    found = await require_current(session, case_id)
    if found.status != "issued":
        raise NotFound(
            "本案的意见书尚未出具。",
            "The case's opinion has not been issued yet.",
            status=found.status,
        )
    return found


def content_of(opinion: Opinion) -> OpinionContent:
    return OpinionContent.model_validate(opinion.content)


def store_content(opinion: Opinion, content: OpinionContent) -> None:
    opinion.content = content.model_dump(mode="json")
    opinion.content_hash = content_hash(content)


async def audit(
    session: AsyncSession, actor: Actor, action: str, opinion: Opinion, **detail: Any
) -> None:
    base = {"opinion": opinion.id, "version": opinion.version, "status": opinion.status}
    await append(session, actor, f"opinion.{action}", case_id=opinion.case_id, detail=base | detail)


def read_about(opinion: Opinion, what: str) -> dict[str, str]:
    """What a verified read of one of the opinion's objects is for (named if it is refused)."""
    return {"case_id": opinion.case_id, "opinion_id": opinion.id, "what": what}
