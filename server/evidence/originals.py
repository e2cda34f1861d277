"""Uploaded originals (原件): the file as the phone sent it, EXIF and GPS included, staff only.

Finalizing an upload seals the original under a server-chosen key (``case_sealed_key``) that
no upload form can write, beside the clean display copy, and records its key, SHA-256, size
and type in the evidence ``meta`` (``original_*``). Only the case's staff get a link to it,
and only after its bytes were checked against that SHA-256 (a mismatch is refused and
audited, see ``integrity``); every link handed out appends ``evidence.read``
(``what: original``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import append
from server.auth.principal import Principal
from server.db import utcnow
from server.errors import Forbidden, NotFound
from server.evidence.integrity import about
from server.evidence.models import Evidence
from server.evidence.service import EXTENSIONS, URL_LIFETIME, SignedUrl
from server.platform.storage import ObjectStore, attachment_disposition


@dataclass(frozen=True, slots=True)
class Original:
    """Where an evidence row's original is and what it was when it arrived."""

    key: str
    sha256: str
    size: int
    content_type: str


def require_staff(principal: Principal) -> None:
    if not principal.is_staff:
        raise Forbidden(
            "原始文件含拍摄位置（GPS）等信息，仅供本案工作人员查看；申请人可查看处理后的照片。",
            "Originals carry the GPS position and other metadata and are for the case's staff "
            "only; applicants see the processed copy.",
        )


def original_of(evidence: Evidence) -> Original:
    """The original recorded for an uploaded photo or clip; 404 for anything else."""
    meta: dict[str, Any] = evidence.meta or {}
    key = meta.get("original_key")
    if not isinstance(key, str) or not key:
        raise NotFound(
            f"该证据（{evidence.kind}）没有保留原始文件：只有上传的照片和视频保留原件。",
            f"This evidence ({evidence.kind}) has no original file: only uploaded photos and "
            "clips keep one.",
            reason="no_original",
        )
    return Original(
        key=key,
        sha256=str(meta.get("original_sha256", "")),
        size=int(meta.get("original_size", 0)),
        content_type=str(meta.get("original_content_type", "")) or "application/octet-stream",
    )


async def read_original_url(
    session: AsyncSession, principal: Principal, evidence: Evidence, store: ObjectStore
) -> tuple[Original, SignedUrl]:
    """A short download link to the original (always as an attachment); the read is audited."""
    require_staff(principal)  # the router's dependency already refused; kept for other callers
    original = original_of(evidence)
    if await store.stat(original.key) is None:
        raise NotFound(
            "原始文件已不在存储中，请联系管理员核查存档。",
            "The original file is no longer in storage; ask an administrator to check the archive.",
            reason="original_missing",
        )
    described = about(evidence, "original", principal.actor)
    await store.check_verified(original.key, original.sha256, about=described)
    ext = EXTENSIONS.get(original.content_type, original.key.rsplit(".", 1)[-1])
    url = await store.presigned_get(
        original.key,
        URL_LIFETIME,
        response_content_type=original.content_type,
        response_content_disposition=attachment_disposition(f"original-{evidence.id}.{ext}"),
    )
    detail = {
        "what": "original",
        "evidence_ids": [evidence.id],
        "object_key": original.key,
        "sha256": original.sha256,
    }
    await append(session, principal.actor, "evidence.read", case_id=evidence.case_id, detail=detail)
    return original, SignedUrl(url, utcnow() + URL_LIFETIME)
