"""Evidence read back must be what was recorded: describing a read, and auditing a refusal.

The rule itself lives in ``ObjectStore.get_verified`` / ``check_verified``: every path that
serves or uses evidence (the processed copy, the original, recording segments, the photos an
opinion is built from) reads through them with an ``about`` saying what it is reading. On a
mismatch the store calls ``on_mismatch``, which this module wires to an
``evidence.integrity_failed`` audit record naming the evidence and both hashes; the record is
written in a session of its own (the request that stumbled on the damage rolls back, its
audit record must not) and is committed before the error response leaves.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.detached import DetachedWriter
from server.audit.service import Actor, append
from server.evidence.models import Evidence
from server.platform.storage import Mismatch, MismatchReporter, ObjectStore

log = logging.getLogger(__name__)

INTEGRITY_ACTOR = Actor.system("integrity-check")


def about(evidence: Evidence, what: str, by: Actor | None = None) -> dict[str, str]:
    """What a read of ``evidence`` is for, as named in a refusal and its audit record."""
    described = {"case_id": evidence.case_id, "evidence_id": evidence.id, "what": what}
    if by is not None:
        described["by"] = f"{by.kind}:{by.id}"
    return described


def audit_mismatches(detached: DetachedWriter) -> MismatchReporter:
    """A reporter that appends ``evidence.integrity_failed`` and waits until it is committed."""

    async def report(mismatch: Mismatch) -> None:
        detail = {
            **mismatch.about,
            "object_key": mismatch.key,
            "expected_sha256": mismatch.expected_sha256,
            "actual_sha256": mismatch.actual_sha256,
        }
        case_id = mismatch.about.get("case_id")
        log.error("evidence.integrity_failed %s", detail)

        async def write(session: AsyncSession) -> None:
            action = "evidence.integrity_failed"
            await append(session, INTEGRITY_ACTOR, action, case_id=case_id, detail=detail)

        await detached.submit(write, what="evidence.integrity_failed", order=case_id)

    return report


def wire(store: ObjectStore, detached: DetachedWriter) -> None:
    """Make every refused read of this store leave an audit record (called at start-up)."""
    store.on_mismatch = audit_mismatches(detached)
