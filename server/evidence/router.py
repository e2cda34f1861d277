"""Evidence endpoints: what a case has, audited download links (the processed copy, or the
original for staff), and the call's recordings."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from server.auth.principal import Principal
from server.deps import PrincipalDep, SessionDep, StoreDep, VisibleCaseDep
from server.errors import Forbidden
from server.evidence import originals, quality, service
from server.evidence.schemas import (
    EntryOut,
    EvidenceOut,
    QualityDecisionIn,
    RecordingsOut,
    TrackOut,
    UrlOut,
    evidence_out,
)

router = APIRouter(prefix="/api/v1/cases/{case_id}", tags=["evidence"])
EvidenceId = Annotated[str, Path(max_length=32)]


async def get_case_staff(principal: PrincipalDep, view: VisibleCaseDep) -> Principal:
    """Staff who may see the case (recordings are not shown to the applicant)."""
    del view
    if not principal.is_staff:
        raise Forbidden("录像仅供工作人员查看。", "Recordings are for staff only.")
    return principal


CaseStaffDep = Annotated[Principal, Depends(get_case_staff)]


async def get_original_reader(principal: PrincipalDep, view: VisibleCaseDep) -> Principal:
    """Staff who may see the case (originals carry GPS and other metadata)."""
    del view
    originals.require_staff(principal)
    return principal


OriginalReaderDep = Annotated[Principal, Depends(get_original_reader)]


EvidenceKind = Literal["snapshot", "segment", "photo", "clip", "gap"]


@router.get("/evidence")
async def list_evidence(
    view: VisibleCaseDep,
    principal: PrincipalDep,
    session: SessionDep,
    kind: Annotated[list[EvidenceKind] | None, Query(max_length=5)] = None,
) -> list[EvidenceOut]:
    """The case's evidence in capture order, of the ``kind``s asked for (all when none).

    The applicant sees none here: their rectification photos come with the rounds.
    """
    if not principal.is_staff:
        return []
    rows = await service.list_for_case(session, view.case.id, kinds=kind)
    decided = await quality.decisions_for(session, view.case.id, [r.id for r in rows if r.quality])
    return [evidence_out(row, decided.get(row.id)) for row in rows]


@router.post("/evidence/{evidence_id}/quality-decision")
async def decide_on_quality(
    evidence_id: EvidenceId,
    body: QualityDecisionIn,
    view: VisibleCaseDep,
    principal: PrincipalDep,
    session: SessionDep,
) -> EvidenceOut:
    """Keep a photo flagged as blurred, too dark or overexposed, or set it aside to retake it.

    The photo itself is not changed: the decision is recorded beside it (once, audited). A photo
    set aside is left out of the rectification round it was uploaded for.
    """
    row = await service.get_for_case(session, view.case.id, evidence_id)
    decision = await quality.decide(session, principal, row, body.decision)
    return evidence_out(row, decision)


@router.get("/evidence/{evidence_id}/url")
async def evidence_url(
    evidence_id: EvidenceId,
    view: VisibleCaseDep,
    principal: CaseStaffDep,
    session: SessionDep,
    store: StoreDep,
) -> UrlOut:
    """A short-lived download link for one piece of evidence; the read is audited."""
    row = await service.get_for_case(session, view.case.id, evidence_id)
    signed = await service.read_url(session, principal, row, store)
    return UrlOut(
        url=signed.url,
        expires_at=signed.expires_at,
        content_type=row.content_type,
        sha256=row.sha256,
    )


@router.get("/evidence/{evidence_id}/original/url")
async def evidence_original_url(
    evidence_id: EvidenceId,
    view: VisibleCaseDep,
    principal: OriginalReaderDep,
    session: SessionDep,
    store: StoreDep,
) -> UrlOut:
    """A short-lived link to the uploaded original (EXIF/GPS kept), staff only; audited."""
    row = await service.get_for_case(session, view.case.id, evidence_id)
    original, signed = await originals.read_original_url(session, principal, row, store)
    return UrlOut(
        url=signed.url,
        expires_at=signed.expires_at,
        content_type=original.content_type,
        sha256=original.sha256,
    )


def _entry(entry: service.PlaylistEntry, urls: dict[str, str]) -> EntryOut:
    row = entry.evidence
    out = EntryOut(
        type=entry.type,
        started_at=entry.started_at,
        ended_at=entry.ended_at,
        seconds=round((entry.ended_at - entry.started_at).total_seconds(), 3),
        evidence_id=row.id if row is not None else None,
        inferred=entry.inferred,
    )
    if row is None or entry.type != "segment":
        return out
    return out.model_copy(
        update={
            "seq": row.meta.get("seq"),
            "media_start": row.meta.get("media_start"),
            "media_end": row.meta.get("media_end"),
            "frame_count": row.meta.get("frame_count"),
            "sha256": row.sha256,
            "size": row.size,
            "url": urls.get(row.id),
        }
    )


@router.get("/recordings")
async def recordings(
    view: VisibleCaseDep, principal: CaseStaffDep, session: SessionDep, store: StoreDep
) -> RecordingsOut:
    """Per track, its segments in order with the gaps between them: a playlist to play through."""
    found = await service.recordings(session, store, principal, view.case.id)
    return RecordingsOut(
        case_id=view.case.id,
        expires_at=found.expires_at,
        tracks=[
            TrackOut(
                track_id=track.track_id,
                kind=track.kind,
                content_type=track.segments[0].content_type if track.segments else "",
                segments=len(track.segments),
                frames=sum(int(r.meta.get("frame_count", 0)) for r in track.segments),
                entries=[_entry(entry, found.urls) for entry in track.entries],
            )
            for track in found.tracks
        ],
    )
