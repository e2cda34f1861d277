"""Finalize: check what arrived, seal the original, store the clean copies, record evidence.

The pipeline (SHA-256 against the announcement, then the photo or clip pipeline) runs in a
worker thread on the bytes read once from the upload key. Those same bytes are then written
to a sealed key the server chooses (``case_sealed_key``): the phone's presigned form, valid
for a while after finalize, pins the upload key only, so posting it again can never change
the original the evidence points to. The upload key is deleted once the upload is claimed.
A refused file is deleted and its upload marked ``rejected`` with the reason, so a retry gets
the same answer. Services flush; the request commits.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import append
from server.auth.principal import Principal
from server.cases.access import CaseView
from server.db import utcnow
from server.errors import Conflict
from server.evidence.models import Evidence
from server.evidence.service import Position, evidence_of_case, locate, record_evidence
from server.platform.storage import (
    ObjectStore,
    StoredObject,
    case_clip_key,
    case_photo_key,
    case_sealed_key,
)
from server.uploads import clips, images, repository
from server.uploads.device import DeviceFix
from server.uploads.images import FileRefused, GpsFix
from server.uploads.models import Upload
from server.uploads.service import CLIP_TYPES, check_not_ended, get_own


@dataclass(frozen=True, slots=True)
class Outcome:
    """An upload after finalize: its evidence, or the refusal that ended it."""

    upload: Upload
    evidence: Evidence | None = None
    refusal: FileRefused | None = None


def refusal_of(upload: Upload) -> FileRefused:
    stored = upload.rejection or {}
    return FileRefused(
        str(stored.get("reason", "refused")),
        str(stored.get("message_zh", "文件未通过检查。")),
        str(stored.get("message_en", "The file was refused.")),
        upload_id=upload.id,
        upload_status="rejected",
    )


def _checksum_refusal(expected: str, actual: str) -> FileRefused:
    return FileRefused(
        "checksum_mismatch",
        "收到的文件与登记的校验值（SHA-256）不一致，可能在上传中损坏。请重新上传。",
        "The file received does not match its declared SHA-256; it may have been damaged "
        "in transit. Upload it again.",
        expected_sha256=expected,
        actual_sha256=actual,
    )


@dataclass(frozen=True, slots=True)
class _Derived:
    """What the pipeline produced for one file, ready to store."""

    kind: str  # photo | clip
    served: tuple[str, bytes, str]  # key, bytes, content type
    preview: tuple[str, bytes]  # key, JPEG bytes
    gps: GpsFix | None
    captured_at: datetime | None
    meta: dict[str, Any]
    served_sha256: str = ""  # hashed in the pipeline's thread: a clip's copy is megabytes
    quality: dict[str, Any] | None = None  # a photo's, measured in the pipeline's thread


def _run_pipeline(upload: Upload, data: bytes) -> _Derived:
    """Blocking: hash check and the pipeline for the upload's type (in a worker thread)."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != upload.declared_sha256:
        raise _checksum_refusal(upload.declared_sha256, actual)
    derived = _derive(upload, data)
    return replace(derived, served_sha256=hashlib.sha256(derived.served[1]).hexdigest())


def _derive(upload: Upload, data: bytes) -> _Derived:
    """The photo or clip pipeline for the upload's type (blocking)."""
    case_id = upload.case_id
    if upload.content_type in CLIP_TYPES:
        clip = clips.process_clip(data, upload.content_type)
        return _Derived(
            "clip",
            (case_clip_key(case_id, upload.id, clip.ext), clip.served, clip.mime),
            (case_photo_key(case_id, f"{upload.id}-poster", "jpg"), clip.poster),
            clip.gps,
            None,
            {"duration_s": clip.duration_s, "width": clip.width, "height": clip.height},
        )
    photo = images.process_photo(data, upload.content_type)
    return _Derived(
        "photo",
        (case_photo_key(case_id, upload.id, "jpg"), photo.display, "image/jpeg"),
        (case_photo_key(case_id, f"{upload.id}-thumb", "jpg"), photo.thumbnail),
        photo.gps,
        photo.captured_at,
        {"width": photo.width, "height": photo.height, "had_exif": photo.had_exif},
        quality=photo.quality.as_dict(),
    )


async def _claim(session: AsyncSession, upload: Upload, **values: Any) -> bool:
    """Move a pending upload on; False when a concurrent finalize already did."""
    return await repository.claim_pending(session, upload.id, finished_at=utcnow(), **values)


async def _settled(session: AsyncSession, upload: Upload) -> Outcome:
    """The stored outcome of an upload that is no longer pending."""
    await session.refresh(upload)
    if upload.status == "finalized" and upload.evidence_id is not None:
        found = await evidence_of_case(session, upload.case_id, [upload.evidence_id])
        return Outcome(upload, found.get(upload.evidence_id))
    if upload.status == "rejected":
        return Outcome(upload, refusal=refusal_of(upload))
    raise Conflict(
        "该文件正在另一请求中处理，请稍后重试。",
        "This file is being finalized by another request; retry shortly.",
        reason="in_progress",
    )


async def _reject(
    session: AsyncSession, store: ObjectStore, upload: Upload, refusal: FileRefused, actor: Any
) -> Outcome:
    await store.delete(upload.object_key)
    stored = {"reason": refusal.reason, "message_zh": refusal.message_zh}
    stored["message_en"] = refusal.message_en
    if not await _claim(session, upload, status="rejected", rejection=stored):
        return await _settled(session, upload)
    await append(
        session,
        actor,
        "upload.rejected",
        case_id=upload.case_id,
        detail={"upload_id": upload.id, "reason": refusal.reason, "sha256": upload.declared_sha256},
    )
    await session.refresh(upload)
    refusal.extra |= {"upload_id": upload.id, "upload_status": "rejected"}
    return Outcome(upload, refusal=refusal)


async def finalize(
    session: AsyncSession,
    store: ObjectStore,
    *,
    principal: Principal,
    view: CaseView,
    upload_id: str,
) -> Outcome:
    """Check what arrived and turn it into evidence; idempotent (a retry gets the same answer)."""
    upload = await get_own(session, principal=principal, case_id=view.case.id, upload_id=upload_id)
    if upload.status != "pending":
        return await _settled(session, upload)  # a replay answers as before, whatever the state
    check_not_ended(view.case)  # announced in the right state; late is fine, ended is not
    stat = await store.stat(upload.object_key)
    if stat is None:
        raise Conflict(
            "还没有收到文件，请先完成上传再确认。若上传链接已过期，请重新发起上传。",
            "The file has not arrived yet; finish the upload first. If the upload form has "
            "expired, announce the upload again.",
            reason="not_uploaded",
        )
    try:
        check_arrival(upload, stat)
        data = await store.get(upload.object_key)
        derived = await asyncio.to_thread(_run_pipeline, upload, data)
    except FileRefused as refusal:
        return await _reject(session, store, upload, refusal, principal.actor)
    sealed_key = await _store_outputs(store, upload, data, derived)
    if not await _claim(session, upload, status="finalized"):
        await store.delete(sealed_key)  # the finalizer that won sealed its own copy
        return await _settled(session, upload)
    # The form stays valid a while: whatever it posts from now on lands where nothing reads.
    await store.delete(upload.object_key)
    served_key, served, served_type = derived.served
    position, source = _position(view, derived.gps, upload.device_position)
    device_time = upload.device_captured_at
    captured_at, time_source = capture_time(derived.captured_at, device_time, utcnow())
    evidence = await record_evidence(
        session,
        case_id=upload.case_id,
        kind=derived.kind,
        actor=principal.actor,
        captured_at=captured_at,
        object_key=served_key,
        sha256=derived.served_sha256,
        size=len(served),
        content_type=served_type,
        item_ids=upload.item_ids,
        position=position,
        meta=_evidence_meta(upload, derived, sealed_key, source, time_source),
        quality=derived.quality,
    )
    await repository.link_evidence(session, upload.id, evidence.id)
    await session.refresh(upload)
    return Outcome(upload, evidence)


def check_arrival(upload: Upload, stat: StoredObject) -> None:
    """What the store holds must be what was announced, whatever the store's policy enforced:
    the exact size and the declared type (the SHA-256 is checked on the bytes themselves)."""
    if stat.size != upload.declared_size:
        raise _checksum_refusal(upload.declared_sha256, "size differs")
    if (stat.content_type or "").split(";")[0].strip().lower() != upload.content_type:
        raise FileRefused(
            "type_mismatch",
            f"收到的文件类型（{stat.content_type}）与登记的类型（{upload.content_type}）不一致。"
            "请重新上传。",
            f"The file arrived as {stat.content_type}, not the announced {upload.content_type}. "
            "Upload it again.",
            declared=upload.content_type,
            stored=stat.content_type,
        )


async def _store_outputs(store: ObjectStore, upload: Upload, data: bytes, derived: _Derived) -> str:
    """Write the sealed original (the checked bytes) and the clean copies; the sealed key."""
    ext = upload.object_key.rsplit(".", 1)[-1]
    sealed_key = case_sealed_key(upload.case_id, upload.id, ext)
    served_key, served, served_type = derived.served
    preview_key, preview = derived.preview
    # Deterministic keys for the copies: concurrent finalizers write the same bytes there.
    await asyncio.gather(
        store.put(sealed_key, data, upload.content_type),
        store.put(served_key, served, served_type),
        store.put(preview_key, preview, "image/jpeg"),
    )
    return sealed_key


def capture_time(
    exif: datetime | None, device: datetime | None, now: datetime
) -> tuple[datetime, str]:
    """When the file was made and whose word that is: its EXIF time wins over the phone's clock
    at capture; with neither, the server's clock now."""
    if exif is not None:
        return exif, "exif"
    if device is not None:
        return device, "device"
    return now, "server"


def _position(
    view: CaseView, exif: GpsFix | None, device: dict[str, Any] | None
) -> tuple[Position | None, str | None]:
    """Where the file was made and whose word that is: its EXIF GPS wins over the phone's fix."""
    if exif is not None:
        return locate(view.case, exif.lat, exif.lng, exif.accuracy_m), "exif"
    if device is not None:
        fix = DeviceFix.from_stored(device)
        return locate(view.case, fix.lat, fix.lng, fix.accuracy_m), "device"
    return None, None


def _evidence_meta(
    upload: Upload,
    derived: _Derived,
    sealed_key: str,
    position_source: str | None,
    captured_at_source: str,
) -> dict[str, Any]:
    device_time = upload.device_captured_at
    return {
        **derived.meta,
        "upload_id": upload.id,
        "purpose": upload.purpose,
        "preview_key": derived.preview[0],
        "original_key": sealed_key,  # sealed: no form a client holds can write there
        "upload_key": upload.object_key,  # where the phone posted it (deleted at finalize)
        "original_sha256": upload.declared_sha256,
        "original_size": upload.declared_size,
        "original_content_type": upload.content_type,
        "captured_at_source": captured_at_source,
        "device_captured_at": None if device_time is None else device_time.isoformat(),
        "position_source": position_source,
        "device_position": upload.device_position,  # kept even when EXIF wins, to compare
    }
