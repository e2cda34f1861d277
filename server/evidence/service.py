"""Evidence rules: write a record into the audit chain, list a case's evidence, read it back.

Every write appends ``evidence.write`` and keeps that record's ``seq`` on the row; every read
(a presigned URL handed out) appends ``evidence.read``. Services flush; the caller commits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.auth.principal import Principal
from server.cases.models import Case
from server.db import new_id, utcnow
from server.errors import BadInput, NotFound, not_found
from server.evidence.integrity import about
from server.evidence.models import Evidence
from server.platform.storage import ObjectStore, attachment_disposition

EARTH_RADIUS_M = 6_371_008.8
# A phone further than this from the registered site (after allowing for its own reported
# accuracy) is flagged: the inspectors may be looking at the wrong premises.
OFF_SITE_METRES = 200.0
URL_LIFETIME = timedelta(minutes=5)
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "video/webm", "audio/webm"})
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "video/webm": "webm", "audio/webm": "webm"}


# --- where ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """A GPS fix and how it relates to the case's site (distance None when no site is known)."""

    lat: float
    lng: float
    accuracy_m: float | None = None
    distance_m: float | None = None
    off_site: bool = False

    def detail(self) -> dict[str, Any]:
        return {
            "lat": self.lat,
            "lng": self.lng,
            "accuracy_m": self.accuracy_m,
            "distance_m": None if self.distance_m is None else round(self.distance_m, 1),
            "off_site": self.off_site,
            "off_site_threshold_m": OFF_SITE_METRES,
        }


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def locate(case: Case, lat: float, lng: float, accuracy_m: float | None) -> Position:
    """The fix against the site: off site when even its accuracy cannot bring it within range."""
    if case.site_lat is None or case.site_lng is None:
        return Position(lat, lng, accuracy_m)
    distance = haversine_m(lat, lng, case.site_lat, case.site_lng)
    off_site = distance - (accuracy_m or 0.0) > OFF_SITE_METRES
    return Position(lat, lng, accuracy_m, distance, off_site)


# --- write ---------------------------------------------------------------------------------


async def record_evidence(
    session: AsyncSession,
    *,
    case_id: str,
    kind: str,
    actor: Actor,
    captured_at: datetime,
    object_key: str | None = None,
    sha256: str = "",
    size: int = 0,
    content_type: str = "",
    item_ids: Sequence[str] = (),
    position: Position | None = None,
    meta: Mapping[str, Any] | None = None,
    evidence_id: str | None = None,
    quality: Mapping[str, Any] | None = None,
) -> Evidence:
    """Add one evidence row and its ``evidence.write`` audit record (seq kept on the row).

    ``quality`` is what ``media.quality`` measured on a photo as it was taken.
    """
    evidence = Evidence(
        id=evidence_id or new_id(),
        case_id=case_id,
        kind=kind,
        item_ids=list(item_ids),
        created_by=f"{actor.kind}:{actor.id}",
        captured_at=captured_at,
        created_at=utcnow(),
        sha256=sha256,
        object_key=object_key,
        size=size,
        content_type=content_type,
        meta=dict(meta or {}),
        off_site=False,
        quality=None if quality is None else dict(quality),
    )
    if position is not None:
        evidence.lat, evidence.lng = position.lat, position.lng
        evidence.accuracy_m, evidence.distance_m = position.accuracy_m, position.distance_m
        evidence.off_site = position.off_site
    session.add(evidence)
    await session.flush()
    detail: dict[str, Any] = {
        "evidence_id": evidence.id,
        "kind": kind,
        "item_ids": evidence.item_ids,
        "sha256": sha256,
        "object_key": object_key,
        "size": size,
        "captured_at": captured_at.isoformat(),
        "meta": evidence.meta,
    }
    if position is not None:
        detail["position"] = position.detail()
    if quality is not None:
        detail["quality"] = evidence.quality
    record = await append(session, actor, "evidence.write", case_id=case_id, detail=detail)
    evidence.audit_seq = record.seq
    await session.flush()
    return evidence


# --- read ----------------------------------------------------------------------------------


async def list_for_case(
    session: AsyncSession, case_id: str, kinds: Iterable[str] | None = None
) -> list[Evidence]:
    """A case's evidence in the order it was captured."""
    query = select(Evidence).where(Evidence.case_id == case_id)
    if kinds is not None:
        query = query.where(Evidence.kind.in_(list(kinds)))
    rows = await session.scalars(query.order_by(Evidence.captured_at, Evidence.created_at))
    return list(rows)


async def evidence_of_case(
    session: AsyncSession, case_id: str, ids: Iterable[str]
) -> dict[str, Evidence]:
    """The case's evidence among ``ids``, by id; ids of other cases (or none) are simply absent.

    Every lookup of evidence by id goes through here, so an id never reaches across cases.
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    query = select(Evidence).where(Evidence.case_id == case_id, Evidence.id.in_(wanted))
    return {row.id: row for row in await session.scalars(query)}


async def get_for_case(session: AsyncSession, case_id: str, evidence_id: str) -> Evidence:
    evidence = (await evidence_of_case(session, case_id, [evidence_id])).get(evidence_id)
    if evidence is None:
        raise not_found("该证据", "Evidence")
    return evidence


async def require_refs_of_case(
    session: AsyncSession, case_id: str, refs: Sequence[str], *, field: str = "evidence_refs"
) -> list[Evidence]:
    """The cited evidence, in citing order, when every id is this case's; else a 422 naming them.

    An id of another case and an id of nothing get the same answer (no hint that it exists).
    """
    found = await evidence_of_case(session, case_id, refs)
    strangers = [ref for ref in dict.fromkeys(refs) if ref not in found]
    if strangers:
        first = strangers[0]
        raise BadInput(
            f"证据 {first} 不是本案件的证据，不能引用；请从本案件的照片和截图中选择。",
            f"Evidence {first} is not evidence of this case and cannot be cited; "
            "choose from this case's photos and snapshots.",
            field=field,
            evidence_id=first,
            evidence_ids=strangers,
        )
    return [found[ref] for ref in dict.fromkeys(refs)]


def _disposition(evidence: Evidence) -> str:
    ext = EXTENSIONS.get(evidence.content_type, "bin")
    name = f"{evidence.kind}-{evidence.id}.{ext}"
    return attachment_disposition(name, inline=evidence.content_type in INLINE_TYPES)


@dataclass(frozen=True, slots=True)
class SignedUrl:
    url: str
    expires_at: datetime


async def sign(
    store: ObjectStore, evidence: Evidence, now: datetime, by: Actor | None = None
) -> SignedUrl:
    """A short presigned GET that makes the browser use the recorded type (no sniffing).

    Only for bytes that still hash as recorded: a mismatch is refused (500) and audited.
    """
    if evidence.object_key is None:
        raise NotFound(
            "该证据没有可下载的文件（例如录像中断的记录）。",
            "This evidence has no file to download (for example a recording gap).",
        )
    described = about(evidence, evidence.kind, by)
    await store.check_verified(evidence.object_key, evidence.sha256, about=described)
    url = await store.presigned_get(
        evidence.object_key,
        URL_LIFETIME,
        response_content_type=evidence.content_type or "application/octet-stream",
        response_content_disposition=_disposition(evidence),
    )
    return SignedUrl(url, now + URL_LIFETIME)


async def read_url(
    session: AsyncSession, principal: Principal, evidence: Evidence, store: ObjectStore
) -> SignedUrl:
    """Hand out a download URL for one piece of evidence; the read is audited."""
    signed = await sign(store, evidence, utcnow(), principal.actor)
    await audit_read(session, principal, evidence.case_id, [evidence], what=evidence.kind)
    return signed


async def audit_read(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    evidence: Sequence[Evidence],
    *,
    what: str,
) -> None:
    detail = {"what": what, "evidence_ids": [e.id for e in evidence if e.object_key]}
    await append(session, principal.actor, "evidence.read", case_id=case_id, detail=detail)


# --- recordings as playlists ---------------------------------------------------------------

# Two segments of one track further apart than this, with no recorded gap between them (the
# room emptied and a new call began), are shown with an inferred gap.
INFERRED_GAP_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class PlaylistEntry:
    """A segment to play, or a gap (nothing recorded) to show as such, in track order."""

    type: str  # segment | gap
    started_at: datetime
    ended_at: datetime
    evidence: Evidence | None = None
    inferred: bool = False


@dataclass(frozen=True, slots=True)
class TrackPlaylist:
    track_id: str
    kind: str
    entries: list[PlaylistEntry]

    @property
    def segments(self) -> list[Evidence]:
        return [e.evidence for e in self.entries if e.type == "segment" and e.evidence]


def _when(row: Evidence, key: str) -> datetime:
    value = row.meta.get(key)
    return datetime.fromisoformat(value) if isinstance(value, str) else row.captured_at


def playlists(rows: Sequence[Evidence]) -> list[TrackPlaylist]:
    """Per track, its segments by ``seq`` with the gaps between them (recorded or inferred)."""
    by_track: dict[str, list[Evidence]] = {}
    gaps: dict[tuple[str, int], Evidence] = {}
    for row in rows:
        track = str(row.meta.get("track_id", ""))
        if row.kind == "segment":
            by_track.setdefault(track, []).append(row)
        elif row.kind == "gap":
            gaps[(track, int(row.meta.get("after_seq", -1)))] = row
    out = []
    for track, segments in sorted(by_track.items()):
        segments.sort(key=lambda r: int(r.meta.get("seq", 0)))
        entries: list[PlaylistEntry] = []
        previous: Evidence | None = None
        for row in segments:
            if previous is not None:
                entries += _gap_between(previous, row, gaps.get((track, previous.meta["seq"])))
            entries.append(
                PlaylistEntry("segment", _when(row, "started_at"), _when(row, "ended_at"), row)
            )
            previous = row
        kind = str(segments[0].meta.get("kind", ""))
        out.append(TrackPlaylist(track, kind, entries))
    return out


@dataclass(frozen=True, slots=True)
class Recordings:
    """A case's recordings as playlists, with a signed link per segment until ``expires_at``."""

    tracks: list[TrackPlaylist]
    urls: dict[str, str]  # segment evidence id -> short-lived download link
    expires_at: datetime


async def recordings(
    session: AsyncSession, store: ObjectStore, principal: Principal, case_id: str
) -> Recordings:
    """The case's recordings to play through; every segment's link is signed and the read
    is audited."""
    rows = await list_for_case(session, case_id, kinds=("segment", "gap"))
    tracks = playlists(rows)
    now = utcnow()
    urls: dict[str, str] = {}
    for track in tracks:
        for row in track.segments:
            urls[row.id] = (await sign(store, row, now, principal.actor)).url
    segments = [row for track in tracks for row in track.segments]
    await audit_read(session, principal, case_id, segments, what="recordings")
    return Recordings(tracks, urls, now + URL_LIFETIME)


def _gap_between(before: Evidence, after: Evidence, gap: Evidence | None) -> list[PlaylistEntry]:
    if gap is not None:
        return [PlaylistEntry("gap", _when(gap, "gap_started_at"), _when(gap, "gap_ended_at"), gap)]
    end, start = _when(before, "ended_at"), _when(after, "started_at")
    if (start - end).total_seconds() > INFERRED_GAP_SECONDS:
        return [PlaylistEntry("gap", end, start, None, inferred=True)]
    return []
