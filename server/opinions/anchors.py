"""Issued opinions anchor the audit chain: each evidence root holds the head (seq, hash) at
issue time. An insider who rewrites the chain and recomputes every hash after some record
passes ``verify_chain``, but not this check for any opinion issued after that record."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditRecord
from server.opinions.evidence_root import AUDIT_HEAD
from server.opinions.models import Opinion
from server.opinions.records import ISSUED


@dataclass(frozen=True, slots=True)
class Anchor:
    opinion_id: str
    seq: int
    hash: str


def anchor_of(opinion: Opinion) -> Anchor | None:
    root = opinion.content.get("evidence_root") if isinstance(opinion.content, dict) else None
    leaves = root.get("leaves", []) if isinstance(root, dict) else []
    for leaf in leaves:
        if isinstance(leaf, dict) and leaf.get("kind") == AUDIT_HEAD:
            return Anchor(opinion.id, int(leaf["id"]), str(leaf["sha256"]))
    return None


async def anchor_problems(session: AsyncSession) -> list[str]:
    """Each issued opinion whose anchored audit record is gone or no longer the same."""
    opinions = await session.scalars(select(Opinion).where(Opinion.status.in_(ISSUED)))
    anchors = [a for a in (anchor_of(o) for o in opinions) if a is not None and a.seq > 0]
    problems = []
    for anchor in sorted(anchors, key=lambda a: a.seq):
        record = await session.get(AuditRecord, anchor.seq, populate_existing=True)
        if record is None or record.hash != anchor.hash:
            problems.append(
                f"意见书 {anchor.opinion_id} 出具时锚定的审计记录 {anchor.seq} 已被改动或删除 / "
                f"audit record {anchor.seq} anchored by opinion {anchor.opinion_id} was altered"
            )
    return problems
