"""A phone that records tracks through the real recorder, and what the playback tests read back.

Segments are made by the real recorder from aiortc's own VP8 and Opus encoders (a frame-counter
pattern and a tone), handed through the passthrough decoder as the server's receiver does, and
stored by the app's evidence sink in the session's SeaweedFS. The recorder's wall clock is a
test clock, so a gap lasts exactly as long as the test says.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterFrame
from fastapi import FastAPI
from sqlalchemy import select

from media.passthrough import PassthroughDecoder
from media.recorder import TrackRecorder
from media.relay import SourceInfo
from server.audit.models import AuditRecord
from server.context import AppContext
from server.evidence.models import Evidence
from server.live.media_adapter import EvidenceSink, _Room
from tests.fixtures.app import Api
from tests.flows import Journey, schedule, start_journey
from tests.helpers import wait_until
from tests.media import (
    HEIGHT,
    WIDTH,
    draw_counter,
    read_counter,
)

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
VIDEO = SourceInfo("video", "vp8", 90_000)
AUDIO = SourceInfo("audio", "opus", 48_000, 2)
FPS = 30
AUDIO_FRAME = 960  # 20 ms at 48 kHz
AWAY = 4.0  # seconds the phone is gone between its two runs


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


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


async def poll(rows: Any, count: int, seconds: float = 10.0) -> None:
    """Bounded polling until ``rows()`` returns ``count`` rows."""

    async def stored() -> bool:
        return len(await rows()) >= count

    await wait_until(stored, within=seconds, what=f"{count} segments stored")


@pytest.fixture
async def journey(api: Api) -> Journey:
    return await started_case(api)
