"""Photo quality as people read it, and the keep-or-retake decision on a flagged photo.

The measuring and the thresholds are ``media/quality.py`` (pure, run off the event loop where
the photo is made); this module says each flag in words and records what the photo's taker
decided. The evidence row is never changed: the decision is a row and an audit record of its
own. Services flush; the request commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import append
from server.auth.principal import Principal
from server.db import utcnow
from server.errors import BadInput, Conflict, Forbidden
from server.evidence.models import Evidence, QualityDecision

# flag -> (zh, en): what went wrong and what to do about it
REASONS: dict[str, tuple[str, str]] = {
    "blurred": (
        "照片模糊，请保持手机稳定后重拍",
        "Photo is blurred; hold the phone steady and retake",
    ),
    "too_dark": (
        "照片太暗，请打开灯光或手电筒后重拍",
        "Photo is too dark; turn on a light or the torch and retake",
    ),
    "overexposed": (
        "照片过曝（太亮），请避开强光或窗户后重拍",
        "Photo is overexposed (too bright); avoid strong light or windows and retake",
    ),
}


def flags_of(evidence: Evidence) -> list[str]:
    """The flags recorded at capture (none for evidence that was not measured)."""
    quality = evidence.quality or {}
    return [str(flag) for flag in quality.get("flags", [])]


def reasons(flags: Iterable[str]) -> list[dict[str, str]]:
    """Each flag with its reason in words."""
    out = []
    for flag in flags:
        zh, en = REASONS.get(flag, ("照片质量不佳，建议重拍", "Photo quality is poor; retake it"))
        out.append({"flag": flag, "message_zh": zh, "message_en": en})
    return out


async def decisions_for(
    session: AsyncSession, case_id: str, evidence_ids: Iterable[str]
) -> dict[str, QualityDecision]:
    """The decisions taken on ``evidence_ids`` of the case, by evidence id (one query)."""
    wanted = list(dict.fromkeys(evidence_ids))
    if not wanted:
        return {}
    rows = await session.scalars(
        select(QualityDecision).where(
            QualityDecision.case_id == case_id, QualityDecision.evidence_id.in_(wanted)
        )
    )
    return {row.evidence_id: row for row in rows}


def _decided(decision: str | None) -> Conflict:
    """The photo has its decision (``decision``, when known) already."""
    return Conflict(
        "已经对这张照片作出过决定，不能更改；如需更好的照片请重新拍摄。",
        "A decision was already recorded for this photo and cannot be changed; take "
        "another photo if a better one is needed.",
        reason="already_decided",
        decision=decision,
    )


def _may_decide(principal: Principal, evidence: Evidence) -> None:
    """Staff who see the case decide on any photo; the applicant only on their own photos."""
    if principal.is_staff:
        return
    if evidence.created_by != f"{principal.actor.kind}:{principal.actor.id}":
        raise Forbidden(
            "只能对自己拍摄的照片作出保留或重拍的决定。",
            "You can only keep or retake photos you took yourself.",
        )


async def decide(
    session: AsyncSession, principal: Principal, evidence: Evidence, decision: str
) -> QualityDecision:
    """Record ``keep`` or ``retake`` for a flagged photo, once; audited."""
    _may_decide(principal, evidence)
    flags = flags_of(evidence)
    if not flags:
        raise BadInput(
            "这张照片没有被标记质量问题，无需决定保留或重拍。",
            "This photo was not flagged for quality; there is nothing to keep or retake.",
            field="decision",
        )
    existing = (await decisions_for(session, evidence.case_id, [evidence.id])).get(evidence.id)
    if existing is not None:
        raise _decided(existing.decision)
    row = QualityDecision(
        evidence_id=evidence.id,
        case_id=evidence.case_id,
        decision=decision,
        decided_by=f"{principal.actor.kind}:{principal.actor.id}",
        decided_at=utcnow(),
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent decision on the same photo won
        raise _decided(None) from exc
    detail: dict[str, Any] = {"evidence_id": evidence.id, "decision": decision, "flags": flags}
    record = await append(
        session,
        principal.actor,
        "evidence.quality_decision",
        case_id=evidence.case_id,
        detail=detail,
    )
    row.audit_seq = record.seq
    await session.flush()
    return row
