"""What the upload endpoints take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from server.evidence.models import Evidence
from server.evidence.schemas import QualityOut, quality_out
from server.timeinputs import BeijingDateTime
from server.uploads import device
from server.uploads.models import Upload

ItemId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PositionIn(BaseModel):
    """The phone's own GPS fix taken with the file; used when the file carries no EXIF GPS."""

    model_config = ConfigDict(extra="forbid")

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy_m: float = Field(gt=0, le=device.MAX_FIX_ACCURACY_M)  # metres, 95 % confidence
    fixed_at: BeijingDateTime  # when the fix was taken (no offset: Beijing time)

    def fix(self) -> device.DeviceFix:
        return device.DeviceFix(self.latitude, self.longitude, self.accuracy_m, self.fixed_at)


class UploadIn(BaseModel):
    """What the phone promises about the file it is about to send."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    purpose: Literal["rectification", "onsite"] | None = None  # default: from the caller's role
    item_ids: list[ItemId] = Field(default_factory=list, max_length=50)
    content_type: str = Field(min_length=3, max_length=100)
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    position: PositionIn | None = None
    # when the device took the photo (no offset: Beijing time); used when the file has no EXIF time
    captured_at: BeijingDateTime | None = None


class FormOut(BaseModel):
    """POST ``fields`` then the file (last) as multipart/form-data to ``url``."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


# The evidence a finalized upload became, with where its position and time came from; the
# case's evidence list answers another shape (server.evidence.schemas.EvidenceOut).
class FinalizedEvidenceOut(BaseModel):
    id: str
    kind: str
    captured_at: datetime
    lat: float | None
    lng: float | None
    accuracy_m: float | None
    distance_m: float | None
    off_site: bool
    content_type: str
    size: int
    sha256: str
    position_source: str | None = None  # "exif", "device" (the phone's fix) or None
    captured_at_source: str | None = None  # "exif", "device" (the phone's clock) or "server"
    # a photo's: blurred / too dark / overexposed, in words (not read from the row's raw JSON)
    quality: QualityOut | None = Field(default=None, validation_alias="quality_out")


class RejectionOut(BaseModel):
    reason: str
    message_zh: str
    message_en: str


class UploadOut(BaseModel):
    id: str
    status: str
    purpose: str
    item_ids: list[str]
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    expires_at: datetime
    form: FormOut | None = None  # while pending
    evidence: FinalizedEvidenceOut | None = None  # once finalized
    rejection: RejectionOut | None = None  # once refused


def _evidence_out(evidence: Evidence | None) -> FinalizedEvidenceOut | None:
    if evidence is None:
        return None
    out = FinalizedEvidenceOut.model_validate(evidence, from_attributes=True)
    out.position_source = evidence.meta.get("position_source")
    out.captured_at_source = evidence.meta.get("captured_at_source")
    out.quality = quality_out(evidence)
    return out


def upload_out(
    upload: Upload, *, form: FormOut | None = None, evidence: Evidence | None = None
) -> UploadOut:
    return UploadOut(
        id=upload.id,
        status=upload.status,
        purpose=upload.purpose,
        item_ids=list(upload.item_ids),
        content_type=upload.content_type,
        size=upload.declared_size,
        sha256=upload.declared_sha256,
        created_at=upload.created_at,
        expires_at=upload.expires_at,
        form=form,
        evidence=_evidence_out(evidence),
        rejection=RejectionOut(**upload.rejection) if upload.rejection else None,
    )
