"""Gather the leaves of an opinion's evidence root at issue time (reads the database only).

The leaves: every stored evidence object of the case with its SHA-256 (photos, snapshots,
recording segments, clips; an applicant's rectification upload is ``rectification_<kind>``),
the verdict record (canonical JSON of every verdict and resolution row, stored with the
opinion so it can be exported) and the audit chain head (``audit_head``, id = seq, hash = the
head record's hash: SHA-256 of that record's canonical body).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditHead, AuditRecord
from server.audit.service import GENESIS_HASH, HEAD_ID, canonical_json
from server.evidence import repository as evidence_repository
from server.evidence.models import Evidence
from server.inspection import repository as inspection_rows
from server.inspection.models import ResolutionRow, VerdictRow
from server.opinions import merkle
from server.opinions.content import EvidenceLeaf, EvidenceRoot

EVIDENCE_LEAF_KINDS = ("snapshot", "photo", "segment", "clip")
VERDICTS, AUDIT_HEAD = "verdicts", "audit_head"


@dataclass(frozen=True)
class Collected:
    root: EvidenceRoot
    verdict_record: bytes  # the bytes behind the ``verdicts`` leaf


def _utc(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def evidence_kind(row: Evidence) -> str:
    purpose = row.meta.get("purpose") if isinstance(row.meta, dict) else None
    return f"rectification_{row.kind}" if purpose == "rectification" else row.kind


def _is_sha(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


async def evidence_rows(session: AsyncSession, case_id: str) -> list[Evidence]:
    """The case's stored evidence objects that carry a SHA-256."""
    rows = await evidence_repository.in_id_order(session, case_id, EVIDENCE_LEAF_KINDS)
    return [r for r in rows if r.object_key and _is_sha(r.sha256)]


def _verdict(row: VerdictRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "item_id": row.item_id,
        "inspector_id": row.inspector_id,
        "value": row.value,
        "note": row.note,
        "evidence_refs": list(row.evidence_refs),
        "created_at": _utc(row.created_at),
    }


def _resolution(row: ResolutionRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "item_id": row.item_id,
        "value": row.value,
        "reason": row.reason,
        "verdict_ids": list(row.verdict_ids),
        "resolved_by": row.resolved_by,
        "created_at": _utc(row.created_at),
    }


async def verdict_record(session: AsyncSession, case_id: str) -> bytes:
    """Every verdict and resolution of the case, canonical JSON (sorted keys, UTF-8)."""
    verdicts = await inspection_rows.verdicts(session, case_id)
    resolutions = await inspection_rows.resolutions(session, case_id)
    body = {
        "schema": "cloudinspect.verdicts/1",
        "case_id": case_id,
        "verdicts": [_verdict(v) for v in verdicts],
        "resolutions": [_resolution(r) for r in resolutions],
    }
    return canonical_json(body).encode()


async def audit_head(session: AsyncSession) -> tuple[int, str]:
    """The chain's head as this transaction sees it: (seq, hash)."""
    head = await session.get(AuditHead, HEAD_ID, populate_existing=True)
    return (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)


def audit_body(record: AuditRecord) -> bytes:
    """The canonical body whose SHA-256 is the record's hash (see ``audit.service``)."""
    body = {
        "seq": record.seq,
        "at": record.at.isoformat(timespec="microseconds"),
        "actor_kind": record.actor_kind,
        "actor_id": record.actor_id,
        "action": record.action,
        "case_id": record.case_id,
        "detail": record.detail,
        "prev_hash": record.prev_hash,
    }
    return canonical_json(body).encode()


def build_root(leaves: list[merkle.Leaf]) -> EvidenceRoot:
    ordered = merkle.ordered(leaves)
    return EvidenceRoot(
        root=merkle.root_of(ordered),
        leaves=tuple(EvidenceLeaf(kind=x.kind, id=x.id, sha256=x.sha256) for x in ordered),
    )


async def collect(session: AsyncSession, case_id: str) -> Collected:
    """The evidence root of the case as it stands now, and the verdict record behind it."""
    record = await verdict_record(session, case_id)
    seq, head_hash = await audit_head(session)
    leaves = [
        merkle.Leaf(evidence_kind(r), r.id, r.sha256) for r in await evidence_rows(session, case_id)
    ]
    leaves.append(merkle.Leaf(VERDICTS, case_id, hashlib.sha256(record).hexdigest()))
    leaves.append(merkle.Leaf(AUDIT_HEAD, str(seq), head_hash))
    return Collected(build_root(leaves), record)


def leaves_of(root: EvidenceRoot) -> list[merkle.Leaf]:
    return [merkle.Leaf(x.kind, x.id, x.sha256) for x in root.leaves]
