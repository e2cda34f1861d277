"""Upload rules: announce an upload (a presigned POST), finalize it into evidence, list them.

The file goes from the phone straight to object storage; the app only signs the form and then
checks what arrived. Finalize verifies the SHA-256, runs the photo or clip pipeline in a worker
thread, stores the clean copies and records the evidence. A refused file is deleted and its
upload marked ``rejected`` with the reason, so a retry gets the same answer. Services flush;
the request commits.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import CaseView
from server.audit.service import append
from server.auth.models import Role
from server.auth.principal import Principal
from server.cases.models import Case
from server.cases.states import STATE_LABELS, TERMINAL_STATES, CaseState
from server.db import new_id, utcnow
from server.errors import Conflict, Forbidden, not_found
from server.evidence.models import Evidence
from server.evidence.service import Position, locate, record_evidence
from server.storage import ObjectStore, PresignedPost, case_clip_key, case_photo_key, case_prefix
from server.uploads import clips, images
from server.uploads.images import FileRefused, GpsFix
from server.uploads.models import Upload

UPLOAD_WINDOW = timedelta(minutes=30)  # a weak 4G link may need a while for 15 MB
PHOTO_TYPES = frozenset(images.PHOTO_FORMATS)
CLIP_TYPES = frozenset(clips.CLIP_FORMATS)
_HEIC_TYPES = frozenset({"image/heic", "image/heif", "image/heic-sequence", "image/avif"})

# The one state in which each purpose may be announced: the applicant's fix while rectification
# is requested, the inspectors' photos while the (live or on-site) inspection runs.
UPLOAD_STATES: dict[str, CaseState] = {
    "rectification": CaseState.rectification_requested,
    "onsite": CaseState.in_progress,
}
_PURPOSE_LABELS = {
    "rectification": ("整改材料", "rectification"),
    "onsite": ("现场照片", "on-site"),
}


class UploadNotNow(Conflict):
    """The case is not in the state in which this purpose may be uploaded (409)."""

    code = "invalid_state"

    def __init__(self, case: Case, purpose: str) -> None:
        required = UPLOAD_STATES[purpose]
        label, needed = STATE_LABELS[CaseState(case.state)], STATE_LABELS[required]
        what_zh, what_en = _PURPOSE_LABELS[purpose]
        super().__init__(
            f"案件当前状态为“{label.zh}”，只有在“{needed.zh}”时才能上传{what_zh}。",
            f"The case is '{case.state}'; {what_en} files may only be uploaded while it is "
            f"'{required.value}'.",
            current=case.state,
            required=required.value,
            purpose=purpose,
        )


class UploadCaseEnded(Conflict):
    """The case was closed or cancelled: a pending upload can no longer be finished (409)."""

    code = "invalid_state"

    def __init__(self, case: Case) -> None:
        label = STATE_LABELS[CaseState(case.state)]
        super().__init__(
            f"案件当前状态为“{label.zh}”，不能再完成上传。",
            f"The case is '{case.state}'; uploads can no longer be completed.",
            current=case.state,
        )


def check_upload_state(case: Case, purpose: str) -> None:
    """A new upload is only announced in its purpose's state (see ``UPLOAD_STATES``)."""
    if case.state != UPLOAD_STATES[purpose]:
        raise UploadNotNow(case, purpose)


def check_not_ended(case: Case) -> None:
    """An upload already accepted may be finished late, but not once the case has ended.

    The state rule is enforced when an upload is announced, not when it is finalized: a phone on
    a weak network may announce while the inspection runs (or rectification is requested) and
    finish the transfer and the finalize only after the state has moved on (the call ended, the
    applicant submitted). Such a file was accepted in the right state, so it still becomes
    evidence; only a closed or cancelled case refuses it.
    """
    if CaseState(case.state) in TERMINAL_STATES:
        raise UploadCaseEnded(case)


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """What the client promises about the file it is about to send."""

    idempotency_key: str
    purpose: str | None
    item_ids: tuple[str, ...]
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """An upload after finalize: its evidence, or the refusal that ended it."""

    upload: Upload
    evidence: Evidence | None = None
    refusal: FileRefused | None = None


# --- who and what ------------------------------------------------------------------------------


def uploader_of(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id}"


def purpose_for(principal: Principal, view: CaseView, requested: str | None) -> str:
    """Applicants send rectification photos; the case's inspectors send on-site photos."""
    if principal.kind == "applicant" and principal.case_id == view.case.id:
        allowed = "rectification"
    elif principal.role == Role.inspector and principal.id in view.inspector_ids:
        allowed = "onsite"
    else:
        raise Forbidden(
            "只有本案申请人（整改材料）或本案踏勘人员（现场照片）可以上传。",
            "Only the case's applicant (rectification) or its inspectors (on-site) may upload.",
        )
    if requested is not None and requested != allowed:
        raise Forbidden(
            f"您只能上传“{allowed}”用途的文件。",
            f"You may only upload files for the purpose '{allowed}'.",
            allowed=allowed,
        )
    return allowed


def check_announced_file(purpose: str, content_type: str, size: int) -> str:
    """The extension for an allowed type and size; refuses HEIC, other types and big files."""
    if content_type in _HEIC_TYPES:
        raise images.refuse_type(content_type, "image/heic")
    if content_type in PHOTO_TYPES:
        images.check_size(size)
        return images.PHOTO_FORMATS[content_type].ext
    if content_type in CLIP_TYPES and purpose == "rectification":
        clips.check_clip_size(size)
        return clips.CLIP_FORMATS[content_type].ext
    allowed = sorted(PHOTO_TYPES | (CLIP_TYPES if purpose == "rectification" else set()))
    raise FileRefused(
        "type_not_allowed",
        f"不支持的文件类型 {content_type}。可上传：{'、'.join(allowed)}。",
        f"File type {content_type} is not accepted here. Allowed: {', '.join(allowed)}.",
        allowed=allowed,
    )


def _same_request(upload: Upload, request: UploadRequest, purpose: str) -> bool:
    return (
        upload.purpose == purpose
        and list(upload.item_ids) == list(request.item_ids)
        and upload.content_type == request.content_type
        and upload.declared_size == request.size
        and upload.declared_sha256 == request.sha256
    )


# --- announce ----------------------------------------------------------------------------------


async def _find(session: AsyncSession, case_id: str, uploader: str, key: str) -> Upload | None:
    query = select(Upload).where(
        Upload.case_id == case_id, Upload.uploader == uploader, Upload.idempotency_key == key
    )
    return (await session.scalars(query.execution_options(populate_existing=True))).first()


async def announce(
    session: AsyncSession, *, principal: Principal, view: CaseView, request: UploadRequest
) -> tuple[Upload, bool]:
    """The upload for this idempotency key, created if new; True when it was created now."""
    purpose = purpose_for(principal, view, request.purpose)
    uploader = uploader_of(principal)
    existing = await _find(session, view.case.id, uploader, request.idempotency_key)
    if existing is not None:
        if not _same_request(existing, request, purpose):
            raise Conflict(
                "该上传编号已用于另一个文件。请为新文件生成新的上传编号。",
                "This idempotency key was used for a different file; use a new key.",
                reason="key_reused",
                upload_id=existing.id,
            )
        if existing.status == "pending":  # a replay for a fresh form: finishing it stays allowed
            check_not_ended(view.case)
        return existing, False  # a settled upload answers as before, whatever the state
    check_upload_state(view.case, purpose)
    ext = check_announced_file(purpose, request.content_type, request.size)
    upload_id = new_id()
    now = utcnow()
    upload = Upload(
        id=upload_id,
        case_id=view.case.id,
        idempotency_key=request.idempotency_key,
        uploader=uploader,
        purpose=purpose,
        item_ids=list(request.item_ids),
        content_type=request.content_type,
        declared_size=request.size,
        declared_sha256=request.sha256,
        object_key=f"{case_prefix(view.case.id)}originals/{upload_id}.{ext}",
        status="pending",
        created_at=now,
        expires_at=now + UPLOAD_WINDOW,
    )
    session.add(upload)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same key announced at the same moment
        raise Conflict(
            "同一文件的上传请求正在处理，请稍后重试（重试不会产生重复文件）。",
            "The same upload is being announced right now; retry shortly (no duplicate "
            "will be created).",
            reason="in_progress",
        ) from exc
    return upload, True


async def presign(store: ObjectStore, upload: Upload) -> PresignedPost:
    """A form that accepts exactly the announced size and type at the upload's key."""
    return await store.presigned_post(
        upload.object_key,
        upload.content_type,
        max_bytes=upload.declared_size,
        min_bytes=upload.declared_size,
        expires=UPLOAD_WINDOW,
    )


async def list_own(session: AsyncSession, *, principal: Principal, case_id: str) -> list[Upload]:
    query = (
        select(Upload)
        .where(Upload.case_id == case_id, Upload.uploader == uploader_of(principal))
        .order_by(Upload.created_at)
    )
    return list(await session.scalars(query))


async def get_own(
    session: AsyncSession, *, principal: Principal, case_id: str, upload_id: str
) -> Upload:
    upload = await session.get(Upload, upload_id, populate_existing=True)
    if upload is None or upload.case_id != case_id or upload.uploader != uploader_of(principal):
        raise not_found("该上传", "Upload")
    return upload


# --- finalize --------------------------------------------------------------------------------


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


def _run_pipeline(upload: Upload, data: bytes) -> _Derived:
    """Blocking: hash check and the pipeline for the upload's type (in a worker thread)."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != upload.declared_sha256:
        raise _checksum_refusal(upload.declared_sha256, actual)
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
    )


async def _claim(session: AsyncSession, upload: Upload, **values: Any) -> bool:
    """Move a pending upload on; False when a concurrent finalize already did."""
    statement = (
        update(Upload)
        .where(Upload.id == upload.id, Upload.status == "pending")
        .values(finished_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def _settled(session: AsyncSession, upload: Upload) -> Outcome:
    """The stored outcome of an upload that is no longer pending."""
    await session.refresh(upload)
    if upload.status == "finalized" and upload.evidence_id is not None:
        return Outcome(upload, await session.get(Evidence, upload.evidence_id))
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
        if stat.size != upload.declared_size:
            raise _checksum_refusal(upload.declared_sha256, "size differs")
        data = await store.get(upload.object_key)
        derived = await asyncio.to_thread(_run_pipeline, upload, data)
    except FileRefused as refusal:
        return await _reject(session, store, upload, refusal, principal.actor)
    served_key, served, served_type = derived.served
    preview_key, preview = derived.preview
    # Deterministic keys: concurrent finalizers write the same bytes, so nothing is orphaned.
    await asyncio.gather(
        store.put(served_key, served, served_type),
        store.put(preview_key, preview, "image/jpeg"),
    )
    if not await _claim(session, upload, status="finalized"):
        return await _settled(session, upload)
    evidence = await record_evidence(
        session,
        case_id=upload.case_id,
        kind=derived.kind,
        actor=principal.actor,
        captured_at=derived.captured_at or utcnow(),
        object_key=served_key,
        sha256=hashlib.sha256(served).hexdigest(),
        size=len(served),
        content_type=served_type,
        item_ids=upload.item_ids,
        position=_position(view, derived.gps),
        meta=_evidence_meta(upload, derived, preview_key),
    )
    await session.execute(
        update(Upload).where(Upload.id == upload.id).values(evidence_id=evidence.id)
    )
    await session.refresh(upload)
    return Outcome(upload, evidence)


def _position(view: CaseView, gps: GpsFix | None) -> Position | None:
    return None if gps is None else locate(view.case, gps.lat, gps.lng, gps.accuracy_m)


def _evidence_meta(upload: Upload, derived: _Derived, preview_key: str) -> dict[str, Any]:
    return {
        **derived.meta,
        "upload_id": upload.id,
        "purpose": upload.purpose,
        "preview_key": preview_key,
        "original_key": upload.object_key,
        "original_sha256": upload.declared_sha256,
        "original_size": upload.declared_size,
        "original_content_type": upload.content_type,
        "captured_at_source": "exif" if derived.captured_at else "server",
        "position_source": "exif" if derived.gps else None,
    }
