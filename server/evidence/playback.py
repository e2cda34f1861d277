"""A track's whole recording (整段录像) as one WebM: its segments remuxed, never transcoded.

``GET …/recordings/{track_id}.webm`` fetches the track's segments, checks each against the
SHA-256 in its evidence record, and copies their packets into one file whose timestamps run on
from segment to segment. Within a run the segments follow each other on the track's media clock;
a gap (the publisher was away, or a later call began) stays a hole in the timeline at least as
long as the gap, never bridged. Where the holes are is sent along in ``X-Recording-Gaps`` (as
positions in the file), and the ``/recordings`` playlist has the same gaps in wall-clock time.
``X-Recording-Started-At`` is the server's wall-clock time (UTC) of the file's 0 s; where the
sender's RTCP reports gave one, ``X-Recording-First-Frame-Ntp`` is the sender's own clock at that
frame, which is what lines up the audio and video files of one call (arrival times can be skewed
by jitter and queueing by tens of milliseconds).

The remuxed file is not cached: building it costs the same download as fetching a cached copy
would, plus a packet copy, and a cached copy would need a trusted hash of its own before it could
be served as evidence.
"""

from __future__ import annotations

import asyncio
import math
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

import av
from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from server.deps import SessionDep, SettingsDep, StoreDep, VisibleCaseDep
from server.errors import AppError, Conflict, NotFound
from server.evidence import service
from server.evidence.integrity import about
from server.evidence.models import Evidence
from server.evidence.router import CaseStaffDep
from server.logs import get_logger
from server.platform.storage import IntegrityError, ObjectStore, attachment_disposition

log = get_logger(__name__)

router = APIRouter(prefix="/api/v1/cases/{case_id}", tags=["evidence"])
TrackId = Annotated[str, PathParam(min_length=1, max_length=64)]

# A step on the media clock is believed while it is no longer than the wall-clock step plus
# this much arrival jitter; beyond that (or backwards) the clock restarted, so the wall clock is
# used instead.
CONTINUITY_SLACK_SECONDS = 1.0
MIN_STEP_SECONDS = 0.001  # WebM counts whole milliseconds; each packet must follow the last
MS = Fraction(1, 1000)
GAPS_HEADER = "X-Recording-Gaps"
STARTED_HEADER = "X-Recording-Started-At"
SEGMENTS_HEADER = "X-Recording-Segments"
# The sender's own clock (from its RTCP sender reports) at the file's first frame: audio and
# video files of one call line up on it, unlike arrival times.
SOURCE_CLOCK_HEADER = "X-Recording-First-Frame-Ntp"


# --- the timeline (pure) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentTiming:
    """When a segment was recorded: wall clock (UTC) and the track's media clock (seconds)."""

    seq: int
    started_at: datetime
    ended_at: datetime
    media_start: float | None = None
    media_end: float | None = None

    @property
    def duration(self) -> float:
        """From the segment's first packet to its last, as its file counts it."""
        if self.media_start is not None and self.media_end is not None:
            if self.media_end >= self.media_start:
                return self.media_end - self.media_start
        return max((self.ended_at - self.started_at).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True)
class GapTiming:
    """Nothing recorded between two segments: a recorded gap, or one inferred between calls."""

    started_at: datetime
    ended_at: datetime
    seconds: float
    inferred: bool = False


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a segment's first packet goes in the file (seconds from the file's start)."""

    seq: int
    offset: float


@dataclass(frozen=True, slots=True)
class Hole:
    """A gap as the file shows it: nothing from ``at`` for ``seconds``."""

    at: float
    seconds: float
    inferred: bool = False


@dataclass(frozen=True, slots=True)
class Timeline:
    placements: list[Placement]
    holes: list[Hole]
    duration: float  # up to the last packet


def _step(before: SegmentTiming, after: SegmentTiming, gap: GapTiming | None) -> float:
    """Seconds from ``before``'s last packet to ``after``'s first packet."""
    wall = (after.started_at - before.ended_at).total_seconds()
    if gap is not None:
        return max(gap.seconds, wall, MIN_STEP_SECONDS)
    if after.media_start is not None and before.media_end is not None:
        media = after.media_start - before.media_end
        if 0 < media <= max(wall, 0.0) + CONTINUITY_SLACK_SECONDS:
            return max(media, MIN_STEP_SECONDS)
    return max(wall, MIN_STEP_SECONDS)


def plan_timeline(steps: Sequence[SegmentTiming | GapTiming]) -> Timeline:
    """Offsets for a track's segments in order, leaving each gap as a hole of its full length.

    ``steps`` is the track's playlist: segments by ``seq`` with the gaps between them.
    """
    placements: list[Placement] = []
    holes: list[Hole] = []
    previous: SegmentTiming | None = None
    end = 0.0  # where the previous segment's last packet sits
    gap: GapTiming | None = None
    for step in steps:
        if isinstance(step, GapTiming):
            gap = step if previous is not None else None  # nothing to leave a hole after yet
            continue
        offset = 0.0 if previous is None else end + _step(previous, step, gap)
        if gap is not None:
            holes.append(Hole(at=end, seconds=offset - end, inferred=gap.inferred))
        placements.append(Placement(step.seq, offset))
        end = offset + step.duration
        previous, gap = step, None
    return Timeline(placements, holes, end)


def gaps_header(holes: Sequence[Hole]) -> str:
    """``at=12.345;seconds=4.000`` per hole, comma-separated (``;inferred`` between calls)."""
    return ", ".join(
        f"at={h.at:.3f};seconds={h.seconds:.3f}" + (";inferred" if h.inferred else "")
        for h in holes
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def timing_of(entry: service.PlaylistEntry) -> SegmentTiming | GapTiming:
    """A playlist entry's timing, read from its evidence metadata."""
    meta = entry.evidence.meta if entry.evidence is not None else {}
    if entry.type == "gap":
        seconds = _number(meta.get("seconds"))
        wall = (entry.ended_at - entry.started_at).total_seconds()
        return GapTiming(entry.started_at, entry.ended_at, seconds or wall, entry.inferred)
    return SegmentTiming(
        seq=int(meta.get("seq", 0)),
        started_at=entry.started_at,
        ended_at=entry.ended_at,
        media_start=_number(meta.get("media_start")),
        media_end=_number(meta.get("media_end")),
    )


# --- fetching and remuxing -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentFile:
    """A downloaded, checked segment and where its first packet goes in the file."""

    segment: Evidence
    path: Path
    offset: float


_PROBLEMS = {
    "mismatch": (
        "与登记的 SHA-256 不一致，可能已损坏或被替换",
        "does not match its recorded SHA-256; it may be damaged or replaced",
    ),
    "missing": ("在对象存储中找不到", "is missing from object storage"),
}


def _damaged(track_id: str, segment: Evidence, problem: str, **extra: Any) -> IntegrityError:
    """The whole file is refused, naming the segment that cannot be trusted."""
    seq = segment.meta.get("seq")
    zh, en = _PROBLEMS[problem]
    return IntegrityError(
        f"录像轨道 {track_id} 的第 {seq} 段（证据 {segment.id}）{zh}。"
        "未提供合并录像，请联系运维人员核查。",
        f"Segment {seq} of track {track_id} (evidence {segment.id}) {en}. "
        "The whole recording was not served; ask operations to investigate.",
        evidence_id=segment.id,
        seq=seq,
        track_id=track_id,
        **extra,
    )


async def _fetch(store: ObjectStore, track_id: str, segment: Evidence, path: Path) -> None:
    """Download one segment to ``path`` after checking it against its evidence record."""
    if segment.object_key is None:
        raise _damaged(track_id, segment, "missing")
    try:
        described = about(segment, "playback")
        data = await store.get_verified(segment.object_key, segment.sha256, about=described)
    except IntegrityError as exc:
        hashes = {k: exc.extra[k] for k in ("key", "expected_sha256", "actual_sha256")}
        log.error("recording.segment_mismatch", evidence_id=segment.id, **hashes)
        raise _damaged(track_id, segment, "mismatch", **hashes) from exc
    except NotFound as exc:
        log.error("recording.segment_missing", evidence_id=segment.id, key=segment.object_key)
        raise _damaged(track_id, segment, "missing", key=segment.object_key) from exc
    await asyncio.to_thread(path.write_bytes, data)


def _copy_packets(
    source: Any, output: Any, stream: Any, offset_ms: int, last_ms: int
) -> tuple[int, int]:
    """Mux one segment's packets at ``offset_ms``; returns (packets copied, last timestamp)."""
    template = source.streams[0]
    first: int | None = None
    copied = 0
    for packet in source.demux(template):
        if packet.pts is None:  # the demuxer's end-of-stream marker
            continue
        first = packet.pts if first is None else first
        ms = offset_ms + int((packet.pts - first) * template.time_base * 1000)
        last_ms = max(ms, last_ms + 1)
        packet.pts = packet.dts = last_ms
        packet.time_base = MS
        packet.stream = stream
        output.mux(packet)
        copied += 1
    return copied, last_ms


def remux(parts: Sequence[SegmentFile], target: Path) -> int:
    """Copy every packet of ``parts`` into one WebM at ``target`` (blocking: run in a thread)."""
    output: Any = av.open(str(target), "w", format="webm")
    stream: Any = None
    first_codec = ""
    copied, last_ms = 0, -1
    with output:
        for part in parts:
            try:
                with av.open(str(part.path)) as source:
                    codec = source.streams[0].codec_context.name
                    if stream is None:
                        stream = output.add_stream_from_template(source.streams[0])
                        first_codec = codec
                    elif codec != first_codec:
                        raise _mixed_codecs(part.segment, first_codec, codec)
                    # never earlier than planned, so a hole is never shorter than its gap
                    offset_ms = math.ceil(part.offset * 1000 - 1e-6)
                    count, last_ms = _copy_packets(source, output, stream, offset_ms, last_ms)
            except av.FFmpegError as exc:
                raise _unreadable(part.segment, exc) from exc
            copied += count
    return copied


def _mixed_codecs(segment: Evidence, first: str, other: str) -> Conflict:
    return Conflict(
        f"该轨道前后使用了不同的编码（{first}、{other}），无法合并为一个文件；"
        "请在录像列表中逐段播放。",
        f"The track changed codec ({first}, {other}) and cannot be joined into one file; "
        "play its segments one by one from the recordings list.",
        evidence_id=segment.id,
    )


def _unreadable(segment: Evidence, exc: Exception) -> AppError:
    return AppError(
        f"录像片段（证据 {segment.id}）无法读取，未能合并录像。",
        f"Segment (evidence {segment.id}) could not be read; the recording was not joined.",
        evidence_id=segment.id,
        reason=str(exc),
    )


# --- the endpoint --------------------------------------------------------------------------


def _track(tracks: Sequence[service.TrackPlaylist], track_id: str) -> service.TrackPlaylist:
    for track in tracks:
        if track.track_id == track_id and track.segments:
            return track
    known = "、".join(t.track_id for t in tracks) or "无"
    raise NotFound(
        f"本案没有录像轨道“{track_id}”。已有的轨道：{known}。",
        f"This case has no recorded track '{track_id}'. "
        f"Known tracks: {', '.join(t.track_id for t in tracks) or 'none'}.",
        track_id=track_id,
        tracks=[t.track_id for t in tracks],
    )


STALE_WORK_SECONDS = 3600.0  # older than any download: left by a process that died mid-request


def sweep_stale_work(data_dir: Path, *, now: float | None = None) -> int:
    """Blocking: remove work folders a crashed process left behind; returns how many.

    Only old ones: another app process sharing the data folder may be serving one right now.
    """
    root = data_dir / "playback"
    if not root.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - STALE_WORK_SECONDS
    stale = [p for p in root.iterdir() if p.is_dir() and p.stat().st_mtime < cutoff]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return len(stale)


def _work_dir(data_dir: Path, case_id: str) -> Path:
    root = data_dir / "playback"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{case_id}-", dir=root))


def _file_name(case_number: str, track_id: str) -> str:
    """``{case number}-{track}.webm``, without characters a file system would refuse."""
    return re.sub(r'[\\/:*?"<>|\s]+', "_", f"{case_number}-{track_id}") + ".webm"


async def build_file(
    store: ObjectStore, track: service.TrackPlaylist, timeline: Timeline, directory: Path
) -> Path:
    """Fetch and check every segment, then remux them into ``directory / "track.webm"``."""
    offsets = {p.seq: p.offset for p in timeline.placements}
    parts = []
    for segment in track.segments:
        seq = int(segment.meta.get("seq", 0))
        path = directory / f"{seq:08d}.webm"
        await _fetch(store, track.track_id, segment, path)
        parts.append(SegmentFile(segment, path, offsets[seq]))
    target = directory / "track.webm"
    packets = await asyncio.to_thread(remux, parts, target)
    log.info("recording.remuxed", track_id=track.track_id, segments=len(parts), packets=packets)
    return target


@router.get(
    "/recordings/{track_id}.webm",
    response_class=FileResponse,
    responses={200: {"content": {"video/webm": {}, "audio/webm": {}}}},
)
async def recording_file(
    track_id: TrackId,
    view: VisibleCaseDep,
    principal: CaseStaffDep,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
) -> FileResponse:
    """One track's whole recording as a WebM: segments joined, not transcoded; gaps kept."""
    rows = await service.list_for_case(session, view.case.id, kinds=("segment", "gap"))
    track = _track(service.playlists(rows), track_id)
    timeline = plan_timeline([timing_of(entry) for entry in track.entries])
    directory = await asyncio.to_thread(_work_dir, settings.data_dir, view.case.id)
    try:
        target = await build_file(store, track, timeline, directory)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, directory, True)
        raise
    segments = track.segments
    await service.audit_read(
        session, principal, view.case.id, segments, what=f"recording:{track_id}"
    )
    headers = {
        "Content-Disposition": attachment_disposition(_file_name(view.case.number, track_id)),
        STARTED_HEADER: track.entries[0].started_at.isoformat(),
        SEGMENTS_HEADER: str(len(segments)),
        GAPS_HEADER: gaps_header(timeline.holes),
    }
    first_frame_ntp = segments[0].meta.get("first_frame_ntp")
    if first_frame_ntp:
        headers[SOURCE_CLOCK_HEADER] = str(first_frame_ntp)
    return FileResponse(
        target,
        media_type=segments[0].content_type or "video/webm",
        headers=headers,
        background=BackgroundTask(shutil.rmtree, directory, True),
    )
