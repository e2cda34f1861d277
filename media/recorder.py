"""Segmented, bit-exact recording (录像) of one incoming track to WebM, without transcoding.

One recorder per track and one file per segment: each segment is a self-contained WebM
(video segments start on a keyframe, ~6 s long) handed to a `SegmentSink` (the server puts it in
object storage). Per-track files because tracks come and go independently (a phone rejoins, an
inspector mutes), video must cut on keyframes while audio can cut anywhere, and each object key
then names one track. Players align the tracks with `SegmentInfo.first_frame_ntp`: the sender's
wall-clock time of the segment's first frame, from the publisher's RTCP sender reports, so
audio and video share one clock whatever order their packets arrived in.

Muxing a packet runs in the event loop (measured cheap); closing a file and hashing it run in
a thread. A publisher that leaves and comes back produces an explicit `GapInfo`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av

from media.passthrough import media_pts
from media.relay import SourceInfo
from media.sync import MediaClock

logger = logging.getLogger(__name__)

MS = Fraction(1, 1000)
SEGMENT_SECONDS = 6.0


@dataclass(frozen=True)
class SegmentInfo:
    """A finished segment file, ready to upload; `path` is removed after `store()` returns."""

    track_id: str
    kind: str
    seq: int
    path: Path
    sha256: str
    size: int
    codec: str
    started_at: datetime  # wall clock, UTC, first packet
    ended_at: datetime  # wall clock, UTC, last packet
    media_start: float  # seconds on the track's media clock (RTP, continuous across rejoins)
    media_end: float
    frame_count: int
    keyframe_started: bool
    # When the first frame was captured, on the publisher's wall clock (UTC), mapped through
    # this track's RTCP sender reports as they stood when the segment closed (media/sync.py);
    # None: no sender report had arrived yet.
    first_frame_ntp: datetime | None = None


@dataclass(frozen=True)
class GapInfo:
    """The publisher was away between `started_at` and `ended_at` (UTC): nothing recorded."""

    track_id: str
    kind: str
    after_seq: int
    started_at: datetime
    ended_at: datetime


class SegmentSink(Protocol):
    """Where finished segments go (the server: object storage + a database row)."""

    async def store(self, segment: SegmentInfo) -> None: ...

    async def gap(self, gap: GapInfo) -> None: ...


def vp8_size(data: bytes) -> tuple[int, int]:
    """Width and height from a VP8 keyframe header (RFC 6386 §9.1)."""
    if len(data) < 10 or data[3:6] != b"\x9d\x01\x2a":
        raise ValueError("not a VP8 keyframe")
    return int.from_bytes(data[6:8], "little") & 0x3FFF, int.from_bytes(
        data[8:10], "little"
    ) & 0x3FFF


def _finish_file(container: Any, path: Path) -> tuple[str, int]:
    container.close()
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest(), path.stat().st_size


@dataclass
class _Segment:
    seq: int
    path: Path
    container: Any
    stream: Any
    first_pts: int
    time_base: Fraction
    started_at: datetime
    keyframe_started: bool
    ended_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_pts: int = 0
    last_ms: int = -1
    frames: int = 0

    def seconds(self, pts: int) -> float:
        return float((pts - self.first_pts) * self.time_base)


class TrackRecorder:
    """`PacketListener` for a `Relay`: writes the track's packets into WebM segments."""

    def __init__(
        self,
        track_id: str,
        kind: str,
        sink: SegmentSink,
        directory: Path,
        *,
        segment_seconds: float = SEGMENT_SECONDS,
        request_keyframe: Callable[[], Awaitable[None]] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.track_id = track_id
        self.kind = kind
        self._sink = sink
        self._directory = directory
        self._segment_seconds = segment_seconds
        self._request_keyframe = request_keyframe
        self._now = now
        self._source: SourceInfo | None = None
        self._clock: MediaClock | None = None
        self._segment: _Segment | None = None
        self._next_seq = 0
        self._left_at: datetime | None = None
        self._jobs: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self.paused = False  # nobody to record for yet (the room's rule): packets are dropped
        self.received = 0
        self.recorded = 0
        self.skipped_before_keyframe = 0

    # PacketListener --------------------------------------------------------------------

    def on_start(self, source: SourceInfo) -> None:
        self._source = source
        self._clock = None  # a new publisher run: the old sender reports no longer apply

    def on_clock(self, clock: MediaClock) -> None:
        self._clock = clock

    def on_packet(self, packet: av.Packet[Any]) -> None:
        self.received += 1
        if self.paused:
            return
        segment = self._segment
        if segment is not None and self._should_cut(segment, packet):
            self._close_segment()
            segment = None
        if segment is None:
            if self.kind == "video" and not packet.is_keyframe:
                self.skipped_before_keyframe += 1
                self._ask_keyframe()
                return
            segment = self._segment = self._open_segment(packet)
        self._mux(segment, packet)

    def on_stop(self) -> None:
        self._close_segment()
        if self._left_at is None:  # paused earlier: the gap began then
            self._left_at = self._now()

    def pause(self) -> None:
        """Stop recording: the open segment is finished; resuming later records a gap."""
        if self.paused:
            return
        self.paused = True
        if self._next_seq > 0 and self._left_at is None:
            self._close_segment()
            self._left_at = self._now()

    def resume(self) -> None:
        """Record again from the next packet (a video track from its next keyframe)."""
        self.paused = False

    async def drain(self) -> None:
        """Close the open segment and wait until every segment reached the sink."""
        self._close_segment()
        while self._jobs is not None and not self._jobs.done():
            await self._jobs

    # segments --------------------------------------------------------------------------

    def _should_cut(self, segment: _Segment, packet: av.Packet[Any]) -> bool:
        if segment.seconds(media_pts(packet)) < self._segment_seconds:
            return False
        if self.kind == "video" and not packet.is_keyframe:
            self._ask_keyframe()
            return False
        return True

    def _ask_keyframe(self) -> None:
        if self._request_keyframe is not None:
            self._spawn(self._request_keyframe())

    def _open_segment(self, packet: av.Packet[Any]) -> _Segment:
        if self._source is None:
            raise RuntimeError("on_start() must come before packets")
        seq = self._next_seq
        self._next_seq += 1
        now = self._now()
        if self._left_at is not None:
            gap = GapInfo(self.track_id, self.kind, seq - 1, self._left_at, now)
            self._left_at = None
            self._enqueue(self._sink.gap(gap))
        path = self._directory / f"{self.track_id}-{seq:06d}.webm"
        container = av.open(str(path), "w", format="webm")
        stream = self._add_stream(container, self._source, packet)
        return _Segment(
            seq=seq,
            path=path,
            container=container,
            stream=stream,
            first_pts=media_pts(packet),
            time_base=packet.time_base,
            started_at=now,
            keyframe_started=bool(packet.is_keyframe),
        )

    @staticmethod
    def _add_stream(container: Any, source: SourceInfo, packet: av.Packet[Any]) -> Any:
        codec = source.codec_name.lower()
        if codec == "vp8":
            width, height = vp8_size(bytes(packet))
            return container.add_mux_stream("vp8", width=width, height=height)
        if codec == "opus":
            # A mux-only Opus stream gets no OpusHead CodecPrivate (PyAV ignores extradata);
            # an opened, never-used libopus encoder context makes the muxer write one.
            layout = "stereo" if source.channels == 2 else "mono"
            return container.add_stream("libopus", rate=source.clock_rate, layout=layout)
        raise ValueError(f"cannot record {source.codec_name} to WebM")

    def _mux(self, segment: _Segment, packet: av.Packet[Any]) -> None:
        ms = int(segment.seconds(media_pts(packet)) * 1000)
        ms = max(ms, segment.last_ms + 1)  # WebM wants strictly increasing per stream
        copy = av.Packet(bytes(packet))  # never mux the shared packet: mux() mutates it
        copy.pts = copy.dts = ms
        copy.time_base = MS
        copy.is_keyframe = packet.is_keyframe
        copy.stream = segment.stream
        segment.container.mux(copy)
        segment.last_ms = ms
        segment.last_pts = media_pts(packet)
        segment.frames += 1
        segment.ended_at = self._now()
        self.recorded += 1

    def _close_segment(self) -> None:
        segment, self._segment = self._segment, None
        if segment is not None and self._source is not None:
            first_frame_ntp = None
            if self._clock is not None:
                first_frame_ntp = self._clock.datetime_at(segment.first_pts)
            self._enqueue(self._finish(segment, self._source.codec_name, first_frame_ntp))

    async def _finish(
        self, segment: _Segment, codec: str, first_frame_ntp: datetime | None
    ) -> None:
        sha256, size = await asyncio.to_thread(_finish_file, segment.container, segment.path)
        info = SegmentInfo(
            track_id=self.track_id,
            kind=self.kind,
            seq=segment.seq,
            path=segment.path,
            sha256=sha256,
            size=size,
            codec=codec,
            started_at=segment.started_at,
            ended_at=segment.ended_at,
            media_start=float(segment.first_pts * segment.time_base),
            media_end=float(segment.last_pts * segment.time_base),
            frame_count=segment.frames,
            keyframe_started=segment.keyframe_started,
            first_frame_ntp=first_frame_ntp,
        )
        await self._sink.store(info)
        await asyncio.to_thread(segment.path.unlink, True)

    def _enqueue(self, job: Awaitable[None]) -> None:
        """Sink calls run one after another, in order, off the packet path."""
        previous = self._jobs

        async def run() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                await job
            except Exception:
                logger.exception("recording %s: sink failed, file kept", self.track_id)

        self._jobs = asyncio.ensure_future(run())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
