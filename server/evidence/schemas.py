"""What the evidence endpoints answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from server.evidence.models import Evidence


class PositionOut(BaseModel):
    lat: float
    lng: float
    accuracy_m: float | None
    distance_m: float | None
    off_site: bool


class EvidenceOut(BaseModel):
    id: str
    kind: str
    item_ids: list[str]
    created_by: str
    captured_at: datetime
    position: PositionOut | None
    sha256: str
    size: int
    content_type: str
    meta: dict[str, Any]
    audit_seq: int | None


class UrlOut(BaseModel):
    url: str
    expires_at: datetime
    content_type: str
    sha256: str


class EntryOut(BaseModel):
    type: str  # segment | gap
    started_at: datetime
    ended_at: datetime
    seconds: float
    evidence_id: str | None
    inferred: bool = False
    seq: int | None = None
    media_start: float | None = None
    media_end: float | None = None
    frame_count: int | None = None
    sha256: str | None = None
    size: int | None = None
    url: str | None = None


class TrackOut(BaseModel):
    track_id: str
    kind: str
    content_type: str
    segments: int
    frames: int
    entries: list[EntryOut]


class RecordingsOut(BaseModel):
    case_id: str
    expires_at: datetime
    tracks: list[TrackOut]


def evidence_out(row: Evidence) -> EvidenceOut:
    position = None
    if row.lat is not None and row.lng is not None:
        position = PositionOut(
            lat=row.lat,
            lng=row.lng,
            accuracy_m=row.accuracy_m,
            distance_m=row.distance_m,
            off_site=row.off_site,
        )
    return EvidenceOut(
        id=row.id,
        kind=row.kind,
        item_ids=row.item_ids,
        created_by=row.created_by,
        captured_at=row.captured_at,
        position=position,
        sha256=row.sha256,
        size=row.size,
        content_type=row.content_type,
        meta=row.meta,
        audit_seq=row.audit_seq,
    )
