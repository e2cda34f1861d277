"""Upload rules: announce an upload (a presigned POST), finalize it into evidence, list them.

The file goes from the phone straight to object storage; the app only signs the form and then
checks what arrived. Finalize verifies the SHA-256, runs the photo or clip pipeline in a worker
thread, stores the clean copies and records the evidence. A refused file is deleted and its
upload marked ``rejected`` with the reason, so a retry gets the same answer. Services flush;
the request commits.

Where a photo was taken: the GPS in its EXIF when there is one, else the phone's own fix sent
with the announcement (an on-site photo queued offline keeps the fix taken with it); the
evidence records which (``position_source``: ``exif`` / ``device``).

When it was taken, likewise: EXIF DateTimeOriginal when present (phone-local China time when it
records no offset, see ``images.read_captured_at``), else the phone's clock at the moment of
capture sent with the announcement (a photo queued offline at 10:00 and uploaded at 14:00 reads
10:00), else the server's clock at finalize (``captured_at_source``: ``exif`` / ``device`` /
``server``).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

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
from server.errors import BadInput, Conflict, Forbidden, not_found
from server.evidence.models import Evidence
from server.evidence.service import Position, evidence_of_case, locate, record_evidence
from server.notifications.templates import shanghai_time
from server.storage import ObjectStore, PresignedPost, case_clip_key, case_photo_key, case_prefix
from server.uploads import clips, images
from server.uploads.images import FileRefused, GpsFix
from server.uploads.models import Upload

UPLOAD_WINDOW = timedelta(minutes=30)  # a weak 4G link may need a while for 15 MB
MAX_FIX_ACCURACY_M = 50_000.0  # a coarser fix (a whole city) says nothing about the premises
DEVICE_CLOCK_SKEW = timedelta(minutes=5)  # phones' clocks drift; more than this is a wrong clock
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
class DeviceFix:
    """The phone's own GPS fix (Geolocation API) taken with the file, as reported by the client."""

    lat: float
    lng: float
    accuracy_m: float
    fixed_at: datetime

    def stored(self) -> dict[str, Any]:
        return {
            "lat": self.lat,
            "lng": self.lng,
            "accuracy_m": self.accuracy_m,
            "fixed_at": self.fixed_at.isoformat(),
        }

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> DeviceFix:
        return cls(
            float(data["lat"]),
            float(data["lng"]),
            float(data["accuracy_m"]),
            datetime.fromisoformat(str(data["fixed_at"])),
        )


class BadPosition(BadInput):
    """The reported fix cannot be where and when the file was made (422, reason bad_position).

    A client may announce the same file again without the fix: the file matters more.
    """

    def __init__(self, message_zh: str, message_en: str, **extra: Any) -> None:
        super().__init__(message_zh, message_en, reason="bad_position", field="position", **extra)


def device_time_problem(
    when: datetime, *, case: Case, now: datetime
) -> Literal["future", "before_case"] | None:
    """Why a time reported by the phone cannot be true for this case, or None when it can be.

    ``future``: later than the server's clock; ``before_case``: before the case was registered
    (both beyond ``DEVICE_CLOCK_SKEW``, since phones' clocks drift a little).
    """
    if when > now + DEVICE_CLOCK_SKEW:
        return "future"
    if when < case.created_at - DEVICE_CLOCK_SKEW:
        return "before_case"
    return None


def check_device_fix(fix: DeviceFix, *, case: Case, now: datetime) -> None:
    """Refuse a fix that is a placeholder or whose time is impossible (ranges: the schema)."""
    if fix.lat == 0 and fix.lng == 0:
        raise BadPosition(
            "定位为经纬度 (0, 0)：这是手机没有取得定位时的占位值，不是实际位置。"
            "请重新定位后再上传，或不附带定位上传。",
            "The position is latitude 0, longitude 0: a phone's placeholder when it has no "
            "fix, not a real place. Take a new fix, or upload without a position.",
        )
    problem = device_time_problem(fix.fixed_at, case=case, now=now)
    if problem == "future":
        raise BadPosition(
            f"定位时间（{shanghai_time(fix.fixed_at)}）晚于服务器当前时间"
            f"（{shanghai_time(now)}）。请检查手机的日期和时间设置。",
            f"The fix time ({fix.fixed_at.isoformat()}) is later than the server's clock "
            f"({now.isoformat()}); check the phone's date and time settings.",
            fixed_at=fix.fixed_at.isoformat(),
            server_time=now.isoformat(),
        )
    if problem == "before_case":
        raise BadPosition(
            f"定位时间（{shanghai_time(fix.fixed_at)}）早于案件登记时间"
            f"（{shanghai_time(case.created_at)}），不可能是本次踏勘拍摄时的定位。"
            "请检查手机的日期和时间设置，或重新定位。",
            f"The fix time ({fix.fixed_at.isoformat()}) is before the case was registered "
            f"({case.created_at.isoformat()}), so it cannot be where this file was made; "
            "check the phone's date and time, or take a new fix.",
            fixed_at=fix.fixed_at.isoformat(),
            case_created_at=case.created_at.isoformat(),
        )


class BadCaptureTime(BadInput):
    """The reported capture time cannot be when a photo of this case was taken (422).

    Reason ``bad_captured_at``. A client may announce the same file again without the time:
    the file matters more, and it then reads the server's time (``captured_at_source``).
    """

    def __init__(self, message_zh: str, message_en: str, **extra: Any) -> None:
        super().__init__(
            message_zh, message_en, reason="bad_captured_at", field="captured_at", **extra
        )


def check_device_capture_time(captured_at: datetime, *, case: Case, now: datetime) -> None:
    """Refuse a capture time in the future or before the case existed (format: the schema)."""
    problem = device_time_problem(captured_at, case=case, now=now)
    if problem == "future":
        raise BadCaptureTime(
            f"拍摄时间（{shanghai_time(captured_at)}）晚于服务器当前时间"
            f"（{shanghai_time(now)}）。请检查手机的日期和时间设置，或不附带拍摄时间上传。",
            f"The capture time ({captured_at.isoformat()}) is later than the server's clock "
            f"({now.isoformat()}); check the phone's date and time settings, or upload "
            "without a capture time.",
            captured_at=captured_at.isoformat(),
            server_time=now.isoformat(),
        )
    if problem == "before_case":
        raise BadCaptureTime(
            f"拍摄时间（{shanghai_time(captured_at)}）早于案件登记时间"
            f"（{shanghai_time(case.created_at)}），不可能是本次踏勘的拍摄时间。"
            "请检查手机的日期和时间设置，或不附带拍摄时间上传。",
            f"The capture time ({captured_at.isoformat()}) is before the case was registered "
            f"({case.created_at.isoformat()}), so no photo of this inspection was taken then; "
            "check the phone's date and time, or upload without a capture time.",
            captured_at=captured_at.isoformat(),
            case_created_at=case.created_at.isoformat(),
        )


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
    check_device_facts(request, case=view.case, now=utcnow())
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
        sha256=hashlib.sha256(served).hexdigest(),
        size=len(served),
        content_type=served_type,
        item_ids=upload.item_ids,
        position=position,
        meta=_evidence_meta(upload, derived, preview_key, source, time_source),
    )
    await session.execute(
        update(Upload).where(Upload.id == upload.id).values(evidence_id=evidence.id)
    )
    await session.refresh(upload)
    return Outcome(upload, evidence)


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
    preview_key: str,
    position_source: str | None,
    captured_at_source: str,
) -> dict[str, Any]:
    device_time = upload.device_captured_at
    return {
        **derived.meta,
        "upload_id": upload.id,
        "purpose": upload.purpose,
        "preview_key": preview_key,
        "original_key": upload.object_key,
        "original_sha256": upload.declared_sha256,
        "original_size": upload.declared_size,
        "original_content_type": upload.content_type,
        "captured_at_source": captured_at_source,
        "device_captured_at": None if device_time is None else device_time.isoformat(),
        "position_source": position_source,
        "device_position": upload.device_position,  # kept even when EXIF wins, to compare
    }
