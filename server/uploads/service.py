"""Upload rules: announce an upload (a presigned POST), finalize it into evidence, list them.

The file goes from the phone straight to object storage; the app only signs the form and then
checks what arrived. Finalize verifies the SHA-256, runs the photo or clip pipeline in a worker
thread, stores the clean copies and records the evidence. A refused file is deleted and its
upload marked ``rejected`` with the reason, so a retry gets the same answer. Services flush;
the request commits.

What the phone reports about the file (its fix, its clock) is checked in ``device``; finalize
(the hash check, the pipeline, sealing the original, the evidence) lives in ``finalize``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.models import Role
from server.auth.principal import Principal
from server.cases.access import CaseView
from server.cases.models import Case
from server.cases.states import STATE_LABELS, TERMINAL_STATES, CaseState
from server.db import new_id, utcnow
from server.errors import Conflict, Forbidden, not_found
from server.platform.storage import ObjectStore, PresignedPost, case_prefix
from server.uploads import clips, images, repository
from server.uploads.device import DeviceFix, check_device_capture_time, check_device_fix
from server.uploads.images import FileRefused
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
            f"The case is {label.en}; {what_en} files may only be uploaded while it is "
            f"{needed.en}.",
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
            f"The case is {label.en}; uploads can no longer be completed.",
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
    position: DeviceFix | None = None
    captured_at: datetime | None = None  # the phone's clock when the photo was taken


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


async def announce(
    session: AsyncSession, *, principal: Principal, view: CaseView, request: UploadRequest
) -> tuple[Upload, bool]:
    """The upload for this idempotency key, created if new; True when it was created now."""
    purpose = purpose_for(principal, view, request.purpose)
    check_device_facts(request, case=view.case, now=utcnow())
    uploader = uploader_of(principal)
    existing = await repository.by_idempotency_key(
        session, view.case.id, uploader, request.idempotency_key
    )
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
            await _add_missing_device_facts(session, existing, request)
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
        device_position=None if request.position is None else request.position.stored(),
        device_captured_at=_utc(request.captured_at),
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


def check_device_facts(request: UploadRequest, *, case: Case, now: datetime) -> None:
    """What the phone reports about the file (its fix, its capture time) must be possible."""
    if request.position is not None:
        check_device_fix(request.position, case=case, now=now)
    if request.captured_at is not None:
        check_device_capture_time(request.captured_at, case=case, now=now)


def _utc(when: datetime | None) -> datetime | None:
    return None if when is None else when.astimezone(UTC)


async def _add_missing_device_facts(
    session: AsyncSession, upload: Upload, request: UploadRequest
) -> None:
    """A replay may bring the fix or capture time the first announcement lacked; what was
    once given stays (an outbox replaying the same record changes nothing)."""
    changed = False
    if request.position is not None and upload.device_position is None:
        upload.device_position = request.position.stored()
        changed = True
    if request.captured_at is not None and upload.device_captured_at is None:
        upload.device_captured_at = _utc(request.captured_at)
        changed = True
    if changed:
        await session.flush()


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
    return await repository.of_uploader(session, case_id, uploader_of(principal))


async def get_own(
    session: AsyncSession, *, principal: Principal, case_id: str, upload_id: str
) -> Upload:
    upload = await session.get(Upload, upload_id, populate_existing=True)
    if upload is None or upload.case_id != case_id or upload.uploader != uploader_of(principal):
        raise not_found("该上传", "Upload")
    return upload
