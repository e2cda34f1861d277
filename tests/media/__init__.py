"""Media tests: real in-process aiortc peers on loopback, and shared synthetic clients."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aioice.ice
import av
import numpy as np
import pytest
from aiortc import (
    AudioStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError

from media.recorder import GapInfo, SegmentInfo

WIDTH, HEIGHT, FPS = 640, 480, 30
BITS = 16
BAR_Y, BAR_H, BAR_W = 8, 16, WIDTH // BITS


@pytest.fixture
def loopback_ice() -> Iterator[None]:
    """aioice skips 127.0.0.1 host candidates; offer only loopback in this test process."""
    mp = pytest.MonkeyPatch()
    mp.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    yield
    mp.undo()


def draw_counter(image: np.ndarray, number: int) -> None:
    for bit in range(BITS):
        value = 255 if number >> bit & 1 else 0
        image[BAR_Y : BAR_Y + BAR_H, bit * BAR_W : (bit + 1) * BAR_W] = value


def read_counter(image: np.ndarray) -> int:
    """Frame number from the barcode row of a decoded (gray or BGR) picture."""
    number = 0
    for bit in range(BITS):
        block = image[BAR_Y + 4 : BAR_Y + BAR_H - 4, bit * BAR_W + 8 : (bit + 1) * BAR_W - 8]
        if float(block.mean()) > 128:
            number |= 1 << bit
    return number


class PatternTrack(VideoStreamTrack):  # type: ignore[misc]
    """Moving test pattern with a frame-counter barcode, 640×480 at 30 fps."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
        self._base = ((xs + ys) % 256).astype(np.uint8)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        gray = np.roll(self._base, self.count * 4, axis=1)
        x = (self.count * 8) % (WIDTH - 80)
        gray[200:280, x : x + 80] = 255
        draw_counter(gray, self.count)
        self.count += 1
        yuv = np.concatenate([gray, np.full((HEIGHT // 2, WIDTH), 128, np.uint8)])
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        return frame


class StillTrack(VideoStreamTrack):  # type: ignore[misc]
    """The same RGB picture at 30 fps: a phone held still on one scene."""

    def __init__(self, picture: np.ndarray) -> None:
        super().__init__()
        self._picture = picture

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self._picture, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneTrack(AudioStreamTrack):  # type: ignore[misc]
    """A 440 Hz tone, 20 ms frames."""

    def __init__(self) -> None:
        super().__init__()
        self._t = 0

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()
        samples = frame.samples
        t = (np.arange(samples) + self._t) / frame.sample_rate
        self._t += samples
        tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
        data = (
            np.repeat(tone, 2).reshape(1, -1)
            if frame.layout.name == "stereo"
            else tone.reshape(1, -1)
        )
        out = av.AudioFrame.from_ndarray(data, format="s16", layout=frame.layout.name)
        out.sample_rate, out.pts = frame.sample_rate, frame.pts
        out.time_base = fractions.Fraction(1, frame.sample_rate)
        return out


@dataclass
class Received:
    """What a client peer got on one track."""

    kind: str
    frames: list[tuple[float, int]] = field(default_factory=list)  # (arrival, counter)
    sizes: set[tuple[int, int]] = field(default_factory=set)


def prefer_vp8(pc: RTCPeerConnection) -> None:
    codecs = [
        c
        for c in RTCRtpSender.getCapabilities("video").codecs
        if c.mimeType in ("video/VP8", "video/rtx")
    ]
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            transceiver.setCodecPreferences(codecs)


async def consume(track: Any, received: Received) -> None:
    try:
        while True:
            frame = await track.recv()
            now = time.monotonic()
            if received.kind == "video":
                gray = frame.to_ndarray(format="gray")
                received.sizes.add((frame.width, frame.height))
                received.frames.append((now, read_counter(gray)))
            else:
                received.frames.append((now, 0))
    except MediaStreamError:
        pass


@dataclass
class Client:
    """A synthetic phone or inspector peer."""

    pc: RTCPeerConnection
    received: list[Received] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    video: VideoStreamTrack | None = None

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()


async def connect(
    answer: Callable[[str], Awaitable[str]], *, role: str, video: VideoStreamTrack | None = None
) -> Client:
    """Phone: sends video (``video``, else the counter pattern) + tone, receives 2 audio.
    Inspector: sends tone, receives 3 tracks."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    client = Client(pc)
    if role == "applicant":
        client.video = video or PatternTrack()
        pc.addTransceiver(client.video, direction="sendonly")
        pc.addTransceiver(ToneTrack(), direction="sendrecv")
        pc.addTransceiver("audio", direction="recvonly")
    else:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver(ToneTrack(), direction="sendrecv")
    prefer_vp8(pc)

    @pc.on("track")  # type: ignore[misc]
    def on_track(track: Any) -> None:
        received = Received(track.kind)
        client.received.append(received)
        client.tasks.append(asyncio.ensure_future(consume(track, received)))

    await pc.setLocalDescription(await pc.createOffer())
    sdp = await answer(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
    return client


class MemorySink:
    """SegmentSink that keeps segment files (copied) and gaps for inspection."""

    def __init__(self, keep: Path) -> None:
        self.keep = keep
        self.segments: list[SegmentInfo] = []
        self.gaps: list[GapInfo] = []

    async def store(self, segment: SegmentInfo) -> None:
        target = self.keep / segment.path.name
        target.write_bytes(segment.path.read_bytes())
        self.segments.append(segment)

    async def gap(self, gap: GapInfo) -> None:
        self.gaps.append(gap)
