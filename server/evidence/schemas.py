"""What the evidence endpoints answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from server.evidence import quality
from server.evidence.models import Evidence, QualityDecision


class PositionOut(BaseModel):
    lat: float
    lng: float
    accuracy_m: float | None
    distance_m: float | None
    off_site: bool


class QualityIssueOut(BaseModel):
    flag: str  # blurred | too_dark | overexposed
    message_zh: str
    message_en: str


class QualityDecisionOut(BaseModel):
    decision: str  # keep | retake
    decided_by: str
    decided_at: datetime


class QualityOut(BaseModel):
    """Photo quality measured at capture; ``issues`` empty when the photo is fine."""

    flagged: bool
    issues: list[QualityIssueOut]
    sharpness: float
    mean: float
    dark_share: float
    white_share: float
    decision: QualityDecisionOut | None = None


class QualityDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["keep", "retake"]


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
    quality: QualityOut | None = None  # snapshots and photos measured at capture


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


def quality_out(row: Evidence, decision: QualityDecision | None = None) -> QualityOut | None:
    """The quality recorded with ``row`` in words, with the decision taken on it if any."""
    if row.quality is None:
        return None
    flags = quality.flags_of(row)
    return QualityOut(
        flagged=bool(flags),
        issues=[QualityIssueOut(**issue) for issue in quality.reasons(flags)],
        sharpness=float(row.quality.get("sharpness", 0.0)),
        mean=float(row.quality.get("mean", 0.0)),
        dark_share=float(row.quality.get("dark_share", 0.0)),
        white_share=float(row.quality.get("white_share", 0.0)),
        decision=None
        if decision is None
        else QualityDecisionOut(
            decision=decision.decision,
            decided_by=decision.decided_by,
            decided_at=decision.decided_at,
        ),
    )


def evidence_out(row: Evidence, decision: QualityDecision | None = None) -> EvidenceOut:
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
        quality=quality_out(row, decision),
    )
