"""A track's whole recording as one WebM: real segments in, one continuous file out, gaps kept.

Segments are made by the real recorder from aiortc's own VP8 and Opus encoders (a frame-counter
pattern and a tone), handed through the passthrough decoder as the server's receiver does, and
stored by the app's evidence sink in the session's SeaweedFS. The recorder's wall clock is a
test clock, so a gap lasts exactly as long as the test says.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterFrame
from fastapi import FastAPI
from sqlalchemy import select

from media.passthrough import PassthroughDecoder
from media.peers import MediaSession
from media.recorder import TrackRecorder
from media.relay import SourceInfo
from server.audit.models import AuditRecord
from server.auth.models import Role
from server.context import AppContext
from server.evidence.models import Evidence
from server.evidence.playback import (
    SOURCE_CLOCK_HEADER,
    STALE_WORK_SECONDS,
    GapTiming,
    Hole,
    SegmentTiming,
    gaps_header,
    plan_timeline,
    sweep_stale_work,
)
from server.live.media_adapter import EvidenceSink, _Room
from tests.fixtures.app import Api
from tests.flows import Journey, open_case, schedule, start_journey
from tests.media import (  # noqa: F401
    HEIGHT,
    WIDTH,
    connect,
    draw_counter,
    loopback_ice,
    read_counter,
    wait_for,
)

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
VIDEO = SourceInfo("video", "vp8", 90_000)
AUDIO = SourceInfo("audio", "opus", 48_000, 2)
FPS = 30
AUDIO_FRAME = 960  # 20 ms at 48 kHz
AWAY = 4.0  # seconds the phone is gone between its two runs


# --- the timeline plan (pure) --------------------------------------------------------------


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def seg(seq: int, start: float, end: float, media: tuple[float, float] | None = None) -> Any:
    media_start, media_end = media if media is not None else (start, end)
    return SegmentTiming(seq, at(start), at(end), media_start, media_end)


def test_segments_of_one_run_follow_each_other_on_the_media_clock() -> None:
    # arrival times jitter; the media clock says the next frame came 1/30 s after the last
    plan = plan_timeline([seg(0, 0, 0.967, (0, 0.967)), seg(1, 1.2, 2.0, (1.0, 1.967))])
    assert [p.offset for p in plan.placements] == pytest.approx([0, 1.0])
    assert plan.holes == []
    assert plan.duration == pytest.approx(1.967)


def test_a_recorded_gap_stays_a_hole_at_least_as_long_as_the_gap() -> None:
    gap = GapTiming(at(2.0), at(7.0), 5.0)
    plan = plan_timeline([seg(0, 0, 2.0), gap, seg(1, 7.1, 9.0, (7.1, 9.0))])
    assert plan.placements[1].offset == pytest.approx(7.1)
    assert plan.holes == [Hole(at=2.0, seconds=pytest.approx(5.1))]
    assert plan.holes[0].seconds >= gap.seconds
    assert plan.duration == pytest.approx(2.0 + 5.1 + 1.9)


def test_a_gap_longer_than_the_wall_clock_step_still_shows_in_full() -> None:
    plan = plan_timeline([seg(0, 0, 2.0), GapTiming(at(2.0), at(4.0), 6.0), seg(1, 3.0, 4.0)])
    assert plan.holes[0].seconds == pytest.approx(6.0)
    assert plan.placements[1].offset == pytest.approx(8.0)


def test_a_new_call_restarts_the_media_clock_and_is_placed_by_the_wall_clock() -> None:
    later = GapTiming(at(10.0), at(70.0), 60.0, inferred=True)
    plan = plan_timeline([seg(0, 0, 10.0), later, seg(1, 70.0, 75.0, (0.0, 5.0))])
    assert plan.placements[1].offset == pytest.approx(70.0)
    assert plan.holes == [Hole(at=10.0, seconds=pytest.approx(60.0), inferred=True)]
    assert gaps_header(plan.holes) == "at=10.000;seconds=60.000;inferred"


def test_a_media_clock_that_jumps_without_a_gap_falls_back_to_the_wall_clock() -> None:
    backwards = plan_timeline([seg(0, 0, 1.0, (5.0, 6.0)), seg(1, 1.033, 2.0, (0.0, 0.967))])
    assert backwards.placements[1].offset == pytest.approx(1.033)
    ahead = plan_timeline([seg(0, 0, 1.0), seg(1, 1.033, 2.0, (500.0, 501.0))])
    assert ahead.placements[1].offset == pytest.approx(1.033)


def test_offsets_strictly_increase_even_when_clocks_stall() -> None:
    stalled = [seg(0, 0, 1.0, (0, 1.0)), seg(1, 1.0, 1.0, (1.0, 1.0)), seg(2, 0.9, 1.5)]
    offsets = [p.offset for p in plan_timeline(stalled).placements]
    assert all(b > a for a, b in itertools.pairwise(offsets))


def test_segments_without_media_times_use_their_wall_clock() -> None:
    bare = [SegmentTiming(0, at(0), at(2.0)), SegmentTiming(1, at(2.04), at(4.0))]
    plan = plan_timeline(bare)
    assert [p.offset for p in plan.placements] == pytest.approx([0, 2.04])
    assert plan.duration == pytest.approx(4.0)


# --- real segments -------------------------------------------------------------------------


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


def pattern(number: int) -> av.VideoFrame:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    gray = ((xs + ys + number * 4) % 256).astype(np.uint8)
    draw_counter(gray, number)
    yuv = np.concatenate([gray, np.full((HEIGHT // 2, WIDTH), 128, np.uint8)])
    frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
    frame.pts, frame.time_base = number, Fraction(1, FPS)
    return frame


def vp8_frames(first: int, count: int, keyframe: list[bool]) -> Iterator[bytes]:
    """aiortc's VP8 encoder, depayloaded as the receiver's jitter buffer does; PLI honoured."""
    encoder = Vp8Encoder()
    for number in range(first, first + count):
        force, keyframe[0] = keyframe[0], False
        payloads, _ = encoder.encode(pattern(number), force_keyframe=force)
        yield b"".join(vp8_depayload(p) for p in payloads)


def opus_frames(first: int, count: int) -> Iterator[bytes]:
    """aiortc's Opus encoder on a 440 Hz tone, one 20 ms packet per frame."""
    encoder = OpusEncoder()
    for number in range(first, first + count):
        t = (np.arange(AUDIO_FRAME) + number * AUDIO_FRAME) / AUDIO.clock_rate
        tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(tone, 2).reshape(1, -1), layout="stereo")
        frame.sample_rate, frame.pts = AUDIO.clock_rate, number * AUDIO_FRAME
        frame.time_base = Fraction(1, AUDIO.clock_rate)
        payloads, _ = encoder.encode(frame)
        yield from payloads


@dataclass
class Phone:
    """Publishes one track into a recorder, in runs; between runs it is away for a while."""

    recorder: TrackRecorder
    clock: Clock
    source: SourceInfo
    keyframe: list[bool]
    sent: int = 0
    media: float = 0.0  # the track's media clock, kept running across rejoins like the relay's

    @property
    def step(self) -> float:
        return 1 / FPS if self.source.kind == "video" else AUDIO_FRAME / self.source.clock_rate

    async def run(self, count: int) -> None:
        decoder = PassthroughDecoder(self.source.codec_name, self.source.clock_rate)
        self.recorder.on_start(self.source)
        frames = (
            vp8_frames(self.sent, count, self.keyframe)
            if self.source.kind == "video"
            else opus_frames(self.sent, count)
        )
        for data in frames:
            self.clock.now = at(self.media)
            timestamp = round(self.media * self.source.clock_rate)
            (packet,) = decoder.decode(JitterFrame(data=data, timestamp=timestamp))
            self.recorder.on_packet(packet)
            self.sent += 1
            self.media += self.step
            await asyncio.sleep(0)  # lets the recorder's keyframe request reach the encoder

    def leave(self, away: float) -> None:
        self.recorder.on_stop()
        self.media += away


def phone(app: FastAPI, case_id: str, kind: str, directory: Path) -> Phone:
    clock, keyframe = Clock(), [False]

    async def ask_keyframe() -> None:
        keyframe[0] = True

    recorder = TrackRecorder(
        f"applicant.{kind}",
        kind,
        EvidenceSink(_Room(app, case_id)),
        directory,
        segment_seconds=1.0,
        request_keyframe=ask_keyframe,
        now=clock,
    )
    return Phone(recorder, clock, VIDEO if kind == "video" else AUDIO, keyframe)


async def record(app: FastAPI, case_id: str, kind: str, directory: Path) -> Phone:
    """Two runs (2.5 s, then 1.5 s after being away AWAY s), every segment stored."""
    publisher = phone(app, case_id, kind, directory)
    per_second = FPS if kind == "video" else AUDIO.clock_rate // AUDIO_FRAME
    await publisher.run(int(2.5 * per_second))
    publisher.leave(AWAY)
    await publisher.run(int(1.5 * per_second))
    publisher.leave(0)
    await publisher.recorder.drain()
    return publisher


async def started_case(api: Api) -> Journey:
    """A case whose inspection is in progress (its room may still be live)."""
    journey = await start_journey(api)
    await schedule(journey)
    started = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/start", headers=journey.inspector_headers(0)
    )
    assert started.status_code == 200, started.text
    return journey


async def evidence(ctx: AppContext, case_id: str, kind: str, track_id: str) -> list[Evidence]:
    async with ctx.sessionmaker() as session:
        rows = await session.scalars(
            select(Evidence).where(Evidence.case_id == case_id, Evidence.kind == kind)
        )
        found = [r for r in rows if r.meta.get("track_id") == track_id]
    return sorted(found, key=lambda r: int(r.meta.get("seq", r.meta.get("after_seq", 0))))


async def reads(ctx: AppContext, case_id: str) -> list[AuditRecord]:
    async with ctx.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditRecord).where(
                AuditRecord.case_id == case_id, AuditRecord.action == "evidence.read"
            )
        )
        return list(rows)


def url(case_id: str, track_id: str) -> str:
    return f"/api/v1/cases/{case_id}/recordings/{track_id}.webm"


def decoded(data: bytes, kind: str) -> tuple[list[int], list[Any]]:
    """Presentation times (ms) of every decoded frame, and the frames' counters (video)."""
    container: Any = av.open(io.BytesIO(data))
    with container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        assert stream.time_base == Fraction(1, 1000)
        frames = list(container.decode(stream))
    counters = (
        [read_counter(f.to_ndarray(format="gray")) for f in frames] if kind == "video" else []
    )
    return [f.pts for f in frames], counters


def work_files(ctx: AppContext) -> list[Path]:
    root = ctx.settings.data_dir / "playback"
    return list(root.rglob("*")) if root.exists() else []


@pytest.fixture
async def journey(api: Api) -> Journey:
    return await started_case(api)


async def test_a_video_track_plays_as_one_file_with_the_gap_kept_as_a_hole(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    publisher = await record(app, journey.case_id, "video", tmp_path)
    segments = await evidence(ctx, journey.case_id, "segment", "applicant.video")
    (gap,) = await evidence(ctx, journey.case_id, "gap", "applicant.video")
    assert len(segments) >= 4

    response = await client.get(
        url(journey.case_id, "applicant.video"), headers=journey.inspector_headers(0)
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/webm"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert f"{journey.case['number']}-applicant.video.webm" in disposition
    assert response.headers["x-recording-segments"] == str(len(segments))
    assert response.headers["x-recording-started-at"] == segments[0].meta["started_at"]
    pts, counters = decoded(response.content, "video")
    frames = sum(int(s.meta["frame_count"]) for s in segments)
    assert len(pts) == frames == publisher.recorder.recorded == publisher.sent
    assert counters == list(range(publisher.sent))  # every frame, in order, none twice
    assert all(b > a for a, b in itertools.pairwise(pts))
    jumps = [b - a for a, b in itertools.pairwise(pts)]
    hole = max(jumps)
    assert hole >= round(gap.meta["seconds"] * 1000)
    assert counters[jumps.index(hole) + 1] == int(2.5 * FPS)  # the hole is where the phone left
    assert sorted(jumps)[-2] <= 1000 / FPS + 1  # elsewhere frames follow at the frame rate
    covered = sum(s.meta["media_end"] - s.meta["media_start"] for s in segments)
    assert pts[-1] / 1000 >= covered + gap.meta["seconds"] - 0.01
    where, seconds = (
        float(v.split("=")[1]) for v in response.headers["x-recording-gaps"].split(";")
    )
    assert where * 1000 == pytest.approx(pts[jumps.index(hole)], abs=1)
    assert seconds * 1000 == pytest.approx(hole, abs=1)
    (read,) = await reads(ctx, journey.case_id)
    assert read.detail == {
        "what": "recording:applicant.video",
        "evidence_ids": [s.id for s in segments],
    }
    assert work_files(ctx) == []


async def test_an_audio_track_plays_as_one_file_with_its_opus_header(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    publisher = await record(app, journey.case_id, "audio", tmp_path)
    segments = await evidence(ctx, journey.case_id, "segment", "applicant.audio")
    (gap,) = await evidence(ctx, journey.case_id, "gap", "applicant.audio")

    response = await client.get(url(journey.case_id, "applicant.audio"), headers=journey.dispatcher)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/webm"
    with av.open(io.BytesIO(response.content)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus"
        assert stream.codec_context.extradata[:8] == b"OpusHead"
    pts, _ = decoded(response.content, "audio")
    assert len(pts) == sum(int(s.meta["frame_count"]) for s in segments) == publisher.sent
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert max(b - a for a, b in itertools.pairwise(pts)) >= round(gap.meta["seconds"] * 1000)
    assert pts[-1] / 1000 >= publisher.media - publisher.step - 0.01  # 2.5 s + away + 1.5 s


async def test_a_track_still_being_recorded_serves_what_is_stored(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    publisher = phone(app, journey.case_id, "video", tmp_path)
    await publisher.run(int(2.5 * FPS))  # segments 0 and 1 closed, segment 2 still open
    await poll(lambda: evidence(ctx, journey.case_id, "segment", "applicant.video"), 2)
    segments = await evidence(ctx, journey.case_id, "segment", "applicant.video")

    response = await client.get(
        url(journey.case_id, "applicant.video"), headers=journey.inspector_headers(1)
    )

    assert response.status_code == 200, response.text
    pts, counters = decoded(response.content, "video")
    assert len(pts) == sum(int(s.meta["frame_count"]) for s in segments) < publisher.sent
    assert counters == list(range(len(pts)))
    assert response.headers["x-recording-gaps"] == ""
    publisher.leave(0)
    await publisher.recorder.drain()


async def poll(rows: Any, count: int, seconds: float = 10.0) -> None:
    """Bounded polling until ``rows()`` returns ``count`` rows."""
    deadline = time.monotonic() + seconds
    while len(await rows()) < count:
        assert time.monotonic() < deadline, "segments not stored in time"
        await asyncio.sleep(0.05)


# --- who may, and what is refused ----------------------------------------------------------


async def test_only_the_cases_staff_get_the_file(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    await record(app, journey.case_id, "audio", tmp_path)
    path = url(journey.case_id, "applicant.audio")
    outsider = next(s for s in journey.inspectors if s.id not in journey.case["inspector_ids"])
    other = await start_journey(journey.api)
    await open_case(other, number="SQ-2")  # another case, with its own applicant link
    _, window = await journey.api.staff_headers(Role.window)

    applicant = await client.get(path, headers=journey.applicant)
    assert applicant.status_code == 403
    assert applicant.headers["content-type"] == "application/problem+json"
    assert applicant.json()["detail_en"] == "Recordings are for staff only."
    assert (await client.get(path, headers=journey.headers[outsider.id])).status_code == 404
    assert (await client.get(path, headers=window)).status_code == 404  # not issued yet
    assert (await client.get(path, headers=other.applicant)).status_code == 404
    assert (await client.get(path)).status_code == 401
    assert await reads(ctx, journey.case_id) == []


async def test_an_unknown_track_is_404_naming_the_tracks_there_are(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    await record(app, journey.case_id, "audio", tmp_path)

    response = await client.get(url(journey.case_id, "inspector7.video"), headers=journey.admin)

    assert response.status_code == 404
    body = response.json()
    assert body["track_id"] == "inspector7.video"
    assert body["tracks"] == ["applicant.audio"]
    assert "applicant.audio" in body["detail"]
    assert await reads(ctx, journey.case_id) == []


async def test_a_segment_altered_in_storage_is_reported_and_nothing_is_served(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    await record(app, journey.case_id, "video", tmp_path)
    segments = await evidence(ctx, journey.case_id, "segment", "applicant.video")
    victim = segments[2]
    assert victim.object_key is not None
    original = await ctx.store.get(victim.object_key)
    altered = original[:-1] + bytes([original[-1] ^ 0xFF])
    await ctx.store.put(victim.object_key, altered, "video/webm")  # its metadata hash follows

    response = await client.get(
        url(journey.case_id, "applicant.video"), headers=journey.inspector_headers(0)
    )

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "integrity_error"
    assert body["evidence_id"] == victim.id
    assert body["seq"] == victim.meta["seq"]
    assert body["expected_sha256"] == victim.sha256
    assert f"Segment {victim.meta['seq']} of track applicant.video" in body["detail_en"]
    assert await reads(ctx, journey.case_id) == []
    assert work_files(ctx) == []
    async with ctx.sessionmaker() as session:
        audited = await session.scalars(
            select(AuditRecord).where(AuditRecord.action == "evidence.integrity_failed")
        )
        (refusal,) = [r.detail for r in audited if r.case_id == journey.case_id]
    assert (refusal["evidence_id"], refusal["what"]) == (victim.id, "playback")
    assert refusal["expected_sha256"] == victim.sha256
    assert refusal["actual_sha256"] == hashlib.sha256(altered).hexdigest()


async def test_a_segment_missing_from_storage_is_reported(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    await record(app, journey.case_id, "audio", tmp_path)
    victim = (await evidence(ctx, journey.case_id, "segment", "applicant.audio"))[0]
    assert victim.object_key is not None
    await ctx.store.delete(victim.object_key)

    response = await client.get(url(journey.case_id, "applicant.audio"), headers=journey.admin)

    assert response.status_code == 500
    body = response.json()
    assert body["evidence_id"] == victim.id
    assert "missing from object storage" in body["detail_en"]
    assert work_files(ctx) == []


# --- a real call ---------------------------------------------------------------------------


@pytest.mark.usefixtures("loopback_ice")
async def test_a_real_call_with_a_rejoin_plays_through_with_its_gap(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    session = MediaSession(
        sink=EvidenceSink(_Room(app, journey.case_id)), directory=tmp_path, segment_seconds=1.0
    )
    try:
        for _ in range(2):  # the phone joins, drops, and rejoins
            camera = await connect(
                lambda s: session.handle_offer("p", "applicant", s), role="applicant"
            )
            relay = session.relays["applicant.video"]
            target = relay.packets_in + 60
            await wait_for(lambda r=relay, t=target: r.packets_in >= t)
            await camera.close()
            await session.leave("p")
    finally:
        await session.close()
    recorder = session.recorders["applicant.video"]
    (gap,) = await evidence(ctx, journey.case_id, "gap", "applicant.video")

    response = await client.get(url(journey.case_id, "applicant.video"), headers=journey.admin)

    assert response.status_code == 200, response.text
    pts, counters = decoded(response.content, "video")
    assert len(pts) == recorder.recorded
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert max(b - a for a, b in itertools.pairwise(pts)) >= round(gap.meta["seconds"] * 1000)
    runs = [c for a, c in itertools.pairwise(counters) if c != a + 1]
    assert len(runs) == 1  # two runs of the phone, each without a missing frame
    # The phone's sender reports put its own clock on the segments, and on the file's first frame.
    segments = await evidence(ctx, journey.case_id, "segment", "applicant.video")
    assert any(row.meta.get("first_frame_ntp") for row in segments)
    first_ntp = segments[0].meta.get("first_frame_ntp")
    assert response.headers.get(SOURCE_CLOCK_HEADER) == (str(first_ntp) if first_ntp else None)
    audio = await client.get(url(journey.case_id, "applicant.audio"), headers=journey.admin)
    assert audio.status_code == 200, audio.text
    audio_pts, _ = decoded(audio.content, "audio")
    assert len(audio_pts) == session.recorders["applicant.audio"].recorded
    assert all(b > a for a, b in itertools.pairwise(audio_pts))


def test_startup_sweeps_only_work_folders_left_long_ago(tmp_path: Path) -> None:
    root = tmp_path / "playback"
    old, fresh = root / "case-old", root / "case-fresh"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "track.webm").write_bytes(b"partial")
    now = time.time()
    long_ago = now - STALE_WORK_SECONDS - 60
    os.utime(old, (long_ago, long_ago))

    assert sweep_stale_work(tmp_path, now=now) == 1
    assert not old.exists()
    assert fresh.exists()  # another process may be serving it right now
    assert sweep_stale_work(tmp_path / "nothing-here", now=now) == 0
