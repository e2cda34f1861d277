"""The media side of a case room: ``media.peers.PeerSession`` wired to storage and evidence.

One ``CaseMedia`` per live room implements ``signaling.media.RoomMedia``. Recorded segments
go to object storage and become ``segment`` evidence, a publisher's absence a ``gap``, and an
inspector's snapshot request a watermarked JPEG plus ``snapshot`` evidence. Every database
write opens its own short session: none is held for the life of a call.

The peers run in a media worker process (``media.workers``, one per core, the room pinned to
one) when the app has a worker pool, else in this process (``media_workers = 0``). Either way
storage, database and audit stay here. A worker that dies ends its rooms' calls: participants'
connections are closed with 1011 so their clients rejoin, and the next offer opens the room on
a live worker.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from media.peers import PeerSession
from media.recorder import SEGMENT_SECONDS, GapInfo, SegmentInfo
from media.snapshots import SnapshotError, Watermark
from media.workers import (
    MediaWorkerPool,
    RemoteSession,
    SessionStats,
    WorkerError,
    session_stats,
)
from server.audit.service import Actor
from server.cases.models import Case
from server.config import Settings
from server.context import AppContext
from server.db import new_id, utcnow
from server.errors import AppError
from server.evidence.models import Evidence
from server.evidence.service import Position, locate, record_evidence
from server.inspection.models import CaseChecklist
from server.live.offers import check_offer
from server.platform.fonts import CjkFontNotFound, cjk_font_path
from server.platform.storage import case_photo_key, case_recording_key
from server.platform.time import SECONDS, shanghai_time
from signaling.media import MediaError, SignalChannel
from signaling.messages import CloseCode
from signaling.registry import Registry
from signaling.room import Room

log = logging.getLogger(__name__)

SEGMENT_TYPES = {"video": "video/webm", "audio": "audio/webm"}
RECORDER = Actor.system("recorder")


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    """What signaling tells the inspectors about a snapshot request."""

    ok: bool
    snapshot_id: str | None = None
    error: str | None = None


def _font_path() -> Path | None:
    try:
        return cjk_font_path()
    except CjkFontNotFound:
        log.warning("no CJK font: the snapshot watermark uses the default font")
        return None


class _Room:
    """What the live room knows right now (members, last GPS fix), read from the registry."""

    def __init__(self, app: FastAPI, case_id: str) -> None:
        self._app, self.case_id = app, case_id

    @property
    def ctx(self) -> AppContext:
        ctx: AppContext = self._app.state.ctx
        return ctx

    def _room(self) -> Room | None:
        registry: Registry = self._app.state.live
        return registry.existing_room(self.case_id)

    def recording(self) -> bool:
        """Whether the room's rule (``Room.recording``) wants the call recorded right now."""
        room = self._room()
        return room is not None and room.recording

    def close_connections(self, reason: str) -> int:
        """Close every participant's socket with 1011: their clients rejoin by themselves."""
        registry: Registry = self._app.state.live
        room = self._room()
        members = list(room.members.values()) if room is not None else []
        for member in members:
            registry.bus.close(member.conn, CloseCode.internal, reason)
        return len(members)

    def last_fix(self) -> tuple[float, float, float | None] | None:
        room = self._room()
        if room is None or room.last_location is None:
            return None
        fix = room.last_location
        return fix.latitude, fix.longitude, fix.accuracy_m

    async def position(self, session: AsyncSession, case: Case | None = None) -> Position | None:
        fix = self.last_fix()
        if fix is None:
            return None
        case = case or await session.get(Case, self.case_id)
        return locate(case, *fix) if case is not None else None


class EvidenceSink:
    """``SegmentSink``: upload each segment and record it; record each gap.

    A room that empties and fills again gets a fresh recorder whose ``seq`` restarts at 0, so
    each track's numbering continues after what the case already has (keys never collide).
    """

    def __init__(self, room: _Room, *, after: Callable[[], Awaitable[None]] | None = None) -> None:
        self._room = room
        self._offsets: dict[str, int] = {}
        # A room reopened after its worker died: the lost session's last uploads land first,
        # so the numbering read from the database already includes them.
        self._after = after

    async def _offset(self, track_id: str) -> int:
        if self._after is not None:
            await self._after()
            self._after = None
        if track_id not in self._offsets:
            async with self._room.ctx.sessionmaker() as session:
                rows = await session.scalars(
                    select(Evidence).where(
                        Evidence.case_id == self._room.case_id, Evidence.kind == "segment"
                    )
                )
                seqs = [int(r.meta["seq"]) for r in rows if r.meta.get("track_id") == track_id]
            self._offsets[track_id] = max(seqs, default=-1) + 1
        return self._offsets[track_id]

    async def store(self, segment: SegmentInfo) -> None:
        ctx, case_id = self._room.ctx, self._room.case_id
        seq = await self._offset(segment.track_id) + segment.seq
        key = case_recording_key(case_id, segment.track_id, seq, "webm")
        content_type = SEGMENT_TYPES.get(segment.kind, "application/octet-stream")
        meta = {"case-id": case_id, "track-id": segment.track_id, "seq": str(seq)}
        stored = await ctx.store.put_file(key, segment.path, content_type, meta)
        if stored.sha256 != segment.sha256:  # the recorder's hash and the upload's disagree
            log.error("segment %s changed after it was finished", key)
        async with ctx.sessionmaker() as session:
            await record_evidence(
                session,
                case_id=case_id,
                kind="segment",
                actor=RECORDER,
                captured_at=segment.started_at,
                object_key=key,
                sha256=stored.sha256 or segment.sha256,
                size=stored.size,
                content_type=content_type,
                position=await self._room.position(session),
                meta=_segment_meta(segment, seq),
            )
            await session.commit()

    async def gap(self, gap: GapInfo) -> None:
        ctx, case_id = self._room.ctx, self._room.case_id
        after = await self._offset(gap.track_id) + gap.after_seq
        async with ctx.sessionmaker() as session:
            await record_evidence(
                session,
                case_id=case_id,
                kind="gap",
                actor=RECORDER,
                captured_at=gap.started_at,
                meta={
                    "track_id": gap.track_id,
                    "kind": gap.kind,
                    "after_seq": after,
                    "gap_started_at": gap.started_at.isoformat(),
                    "gap_ended_at": gap.ended_at.isoformat(),
                    "seconds": round((gap.ended_at - gap.started_at).total_seconds(), 3),
                },
            )
            await session.commit()


def _segment_meta(segment: SegmentInfo, seq: int) -> dict[str, Any]:
    first_frame_ntp = segment.first_frame_ntp
    return {
        "track_id": segment.track_id,
        "kind": segment.kind,
        "seq": seq,
        "codec": segment.codec,
        "started_at": segment.started_at.isoformat(),
        "ended_at": segment.ended_at.isoformat(),
        "media_start": segment.media_start,
        "media_end": segment.media_end,
        "frame_count": segment.frame_count,
        "keyframe_started": segment.keyframe_started,
        # The phone's wall clock at the first frame (RTCP sender reports): aligns A and V.
        "first_frame_ntp": first_frame_ntp.isoformat() if first_frame_ntp else None,
    }


class CaseMedia:
    """``signaling.media.RoomMedia`` for one case room, on top of ``media.peers``."""

    def __init__(
        self,
        app: FastAPI,
        case_id: str,
        channel: SignalChannel,
        *,
        directory: Path,
        segment_seconds: float,
        pool: MediaWorkerPool | None = None,
        on_closed: Callable[[CaseMedia], None] | None = None,
    ) -> None:
        self.case_id = case_id
        self._on_closed = on_closed
        self.channel = channel  # the server never offers first today; kept for renegotiation
        self.directory = directory
        self._segment_seconds = segment_seconds
        self._pool = pool
        self._room = _Room(app, case_id)
        self.sink = EvidenceSink(self._room)
        # Opened at the first offer (in a worker when there is a pool); replaced after a
        # worker died, the lost ones kept until their last uploads are done.
        self.peers: PeerSession | RemoteSession | None = None
        self._lost: list[RemoteSession] = []
        self._recording = self._room.recording()  # then told by the room at each change
        self._closing = False
        self.closed = asyncio.Event()

    def _session(self) -> PeerSession | RemoteSession:
        peers = self.peers
        if isinstance(peers, RemoteSession) and peers.lost:
            self._lost.append(peers)
            self.sink = EvidenceSink(self._room, after=peers.settled)
            peers = self.peers = None
        if peers is None:
            peers = self.peers = self._open()
        return peers

    def _open(self) -> PeerSession | RemoteSession:
        if self._pool is None:
            return PeerSession(
                sink=self.sink,
                directory=self.directory,
                segment_seconds=self._segment_seconds,
                recording=self._recording,
            )
        return self._pool.open_room(
            self.case_id,
            sink=self.sink,
            directory=self.directory,
            segment_seconds=self._segment_seconds,
            recording=self._recording,
            on_lost=self._worker_lost,
        )

    def _worker_lost(self, session: RemoteSession) -> None:
        if self._closing or session is not self.peers:
            return
        closed = self._room.close_connections("media worker lost")
        log.error(
            "media worker %s lost case %s's call; %d connection(s) closed",
            session.worker_index,
            self.case_id,
            closed,
        )

    async def handle_offer(self, participant_id: str, kind: str, sdp: str) -> str:
        """``kind`` is the applicant's or an inspector's: the room lets no one else offer."""
        check_offer(sdp)
        try:
            return await self._session().handle_offer(participant_id, kind, sdp)
        except ValueError as exc:  # bad SDP, both inspector seats taken
            raise MediaError(str(exc)) from exc
        except WorkerError as exc:  # the worker died or the pool is not running
            raise MediaError(str(exc)) from exc

    async def handle_answer(self, participant_id: str, sdp: str) -> None:
        raise MediaError("the server has no offer waiting for an answer")

    async def add_ice_candidate(
        self,
        participant_id: str,
        candidate: str | None,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None:
        """A trickled candidate goes to the participant's server-side peer connection."""
        try:
            await self._session().add_ice_candidate(
                participant_id, candidate, sdp_mid, sdp_mline_index
            )
        except (ValueError, WorkerError) as exc:  # a malformed candidate; the worker is gone
            raise MediaError(str(exc)) from exc

    async def ice_restart(self, participant_id: str, kind: str, sdp: str) -> str:
        # A new connection replaces the old one; the recording shows the break as a gap.
        return await self.handle_offer(participant_id, kind, sdp)

    async def snapshot(
        self, requested_by: str, requester_name: str, item_id: str | None
    ) -> SnapshotResult:
        try:
            evidence_id = await self._snapshot(requested_by, requester_name, item_id)
        except (SnapshotError, WorkerError) as exc:
            return SnapshotResult(False, error=str(exc))
        except AppError as exc:
            log.warning("snapshot not stored: %s", exc.message_en)
            return SnapshotResult(False, error=exc.message_en)
        return SnapshotResult(True, snapshot_id=evidence_id)

    async def _snapshot(self, requested_by: str, requester_name: str, item_id: str | None) -> str:
        if self.peers is None:  # nobody has negotiated media yet
            raise SnapshotError("the applicant is not sending video")
        ctx = self._room.ctx
        async with ctx.sessionmaker() as session:
            case = await session.get(Case, self.case_id)
            if case is None:
                raise MediaError("the case is gone")
            checklist = await session.get(CaseChecklist, self.case_id)
            position = await self._room.position(session, case)
        items = [item_id] if item_id else [checklist.current_item] if checklist else []
        taken_at = utcnow()
        watermark = Watermark(
            case_number=case.number,
            inspector=requester_name or requested_by,
            taken_at=taken_at,
            taken_at_local=shanghai_time(taken_at, SECONDS),
            gps=(position.lat, position.lng) if position else None,
            font_path=await asyncio.to_thread(_font_path),
        )
        shot = await self.peers.snapshot(watermark)
        evidence_id = new_id()
        key = case_photo_key(self.case_id, evidence_id, "jpg")
        stored = await ctx.store.put(key, shot.jpeg, "image/jpeg", {"case-id": self.case_id})

        async def write(session: AsyncSession) -> None:
            await record_evidence(
                session,
                evidence_id=evidence_id,
                case_id=self.case_id,
                kind="snapshot",
                actor=Actor("staff", requested_by),
                captured_at=shot.taken_at,
                object_key=key,
                sha256=stored.sha256 or shot.sha256,
                size=stored.size,
                content_type="image/jpeg",
                item_ids=[i for i in items if i],
                position=position,
                meta={"width": shot.width, "height": shot.height, "inspector": watermark.inspector},
                quality=shot.quality.as_dict() if shot.quality is not None else None,
            )

        # The photo is stored: its row and audit record must follow even if the requester's
        # connection is replaced or times out meanwhile (the waiting is what gets cancelled).
        await ctx.detached.submit(write, what=f"snapshot {evidence_id} of case {self.case_id}")
        return evidence_id

    async def set_recording(self, on: bool) -> None:
        """The room's rule changed: record from now on, or stop (a session opened later
        starts in this state)."""
        self._recording = on
        if isinstance(self.peers, RemoteSession):
            try:
                await self.peers.set_recording(on)
            except WorkerError as exc:
                raise MediaError(str(exc)) from exc
        elif self.peers is not None:
            self.peers.set_recording(on)

    async def leave(self, participant_id: str) -> None:
        if self.peers is None:
            return
        try:
            await self.peers.leave(participant_id)
        except WorkerError as exc:
            raise MediaError(str(exc)) from exc

    async def stats(self) -> SessionStats | None:
        """Relay and recorder counters of the current session (None before the first offer)."""
        if isinstance(self.peers, RemoteSession):
            return await self.peers.stats()
        return session_stats(self.peers) if self.peers is not None else None

    async def close(self) -> None:
        """Close every peer, wait until every segment is stored, then tidy the work folder."""
        self._closing = True
        try:
            for lost in self._lost:
                await lost.close()  # nothing left in the worker: waits for its uploads
            if self.peers is not None:
                await self.peers.close()
        finally:
            try:
                await asyncio.to_thread(self.directory.rmdir)
            except OSError:  # a segment whose upload failed is kept for an operator
                log.error("recording folder %s kept: it still holds files", self.directory)
            self.closed.set()
            if self._on_closed is not None:
                self._on_closed(self)


class CaseMediaFactory:
    """``signaling.media.MediaFactory``: a ``CaseMedia`` per room; open ones kept by case id."""

    def __init__(self, app: FastAPI, *, segment_seconds: float = SEGMENT_SECONDS) -> None:
        self._app = app
        self._segment_seconds = segment_seconds
        self.open: dict[str, CaseMedia] = {}

    def __call__(self, case_id: str, channel: SignalChannel) -> CaseMedia:
        ctx: AppContext = self._app.state.ctx
        root = ctx.settings.data_dir / "recording"
        root.mkdir(parents=True, exist_ok=True)
        directory = Path(tempfile.mkdtemp(prefix=f"{case_id}-", dir=root))
        media = CaseMedia(
            self._app,
            case_id,
            channel,
            directory=directory,
            segment_seconds=self._segment_seconds,
            pool=media_pool(ctx),
            on_closed=self._forget,
        )
        self.open[case_id] = media
        return media

    def _forget(self, media: CaseMedia) -> None:
        if self.open.get(media.case_id) is media:
            del self.open[media.case_id]


def media_factory(app: FastAPI, *, segment_seconds: float = SEGMENT_SECONDS) -> CaseMediaFactory:
    """The factory ``server.live.wiring.install`` takes; the app's context is read lazily."""
    return CaseMediaFactory(app, segment_seconds=segment_seconds)


def media_pool(ctx: AppContext) -> MediaWorkerPool | None:
    """The app's media worker pool; None when media runs in the web process."""
    return ctx.media_pool


async def start_media_pool(
    settings: Settings, stack: AsyncExitStack, *, setup: Callable[[], None] | None = None
) -> MediaWorkerPool | None:
    """Start ``settings.media_workers`` worker processes; stopped when ``stack`` unwinds.

    ``setup`` runs first in each worker (a picklable function: tests restrict ICE to loopback).
    """
    if settings.media_workers == 0:
        return None
    pool = MediaWorkerPool(
        settings.media_workers, setup=setup, event_loop=settings.media_event_loop
    )
    stack.push_async_callback(pool.stop)
    await pool.start()
    log.info("media workers started: %s", [w.pid for w in pool.health()])
    return pool


def media_health(ctx: AppContext) -> dict[str, Any]:
    """``/healthz``'s media part: every worker serving (or media in the web process)."""
    pool = media_pool(ctx)
    if pool is None:
        return {"ok": True, "workers": 0}
    workers = [
        {
            "pid": w.pid,
            "state": w.state,
            "rooms": w.rooms,
            "restarts": w.restarts,
            "event_loop": w.event_loop,
        }
        for w in pool.health()
    ]
    return {"ok": pool.ok, "workers": len(workers), "processes": workers}
