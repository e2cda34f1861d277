"""Segmented WebM recording: bit-exact, complete, and an explicit gap on a rejoin."""

from __future__ import annotations

import asyncio
import itertools
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.peers import PeerSession
from tests.helpers import wait_until
from tests.media import (  # noqa: F401
    HEIGHT,
    WIDTH,
    MemorySink,
    connect,
    draw_counter,
    loopback_ice,
    prefer_vp8,
    read_counter,
)

pytestmark = pytest.mark.usefixtures("loopback_ice")

SYNC_TOLERANCE = 0.040  # seconds: the audio/video offset the recording must stay within
OPUS_RATE, OPUS_FRAME = 48_000, 960  # 20 ms frames
AUDIO_DELAY = 0.2  # seconds the audio packets are held back on their way to the server
PACED_FPS = 15  # pre-encoded video: fewer frames to encode before the call
CLICK_FRAMES = (70, 135, 220)  # audio frames holding a click; mid-segment with 1 s segments
CLICK_THRESHOLD = 0.2  # decoded float samples; the click is ~0.49, silence ~0


def decode_counters(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [read_counter(f.to_ndarray(format="gray")) for f in container.decode(video=0)]


async def test_segments_cover_every_received_frame_and_a_rejoin_leaves_a_gap(
    tmp_path: Path,
) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    sink = MemorySink(kept)
    session = PeerSession(sink=sink, directory=tmp_path, segment_seconds=1.0)
    relay = None
    try:
        for _ in range(2):  # the phone joins, drops, and rejoins
            phone = await connect(
                lambda s: session.handle_offer("p", "applicant", s), role="applicant"
            )
            relay = session.relays["applicant.video"]
            target = relay.packets_in + 75
            await wait_until(lambda r=relay, t=target: r.packets_in >= t)
            await phone.close()
            await session.leave("p")
    finally:
        await session.close()
    recorder = session.recorders["applicant.video"]
    video = sorted((s for s in sink.segments if s.kind == "video"), key=lambda s: s.seq)
    audio = [s for s in sink.segments if s.kind == "audio"]

    assert len(video) >= 4
    assert audio
    assert [s.seq for s in video] == list(range(len(video)))
    assert all(s.keyframe_started for s in video)
    counters = [n for s in video for n in decode_counters(kept / s.path.name)]
    frames = sum(s.frame_count for s in video)
    assert len(counters) == frames == recorder.recorded
    assert recorder.recorded == recorder.received - recorder.skipped_before_keyframe
    runs = [0]  # two publisher runs, each contiguous: 0 missing frames
    for previous, current in itertools.pairwise(counters):
        if current != previous + 1:
            runs.append(current)
    assert len(runs) == 2
    assert runs[1] < 5
    assert sorted(g.track_id for g in sink.gaps) == ["applicant.audio", "applicant.video"]
    gap = next(g for g in sink.gaps if g.kind == "video")
    assert gap.started_at < gap.ended_at
    for segment in video:
        assert segment.started_at <= segment.ended_at
    with av.open(str(kept / audio[0].path.name)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.extradata[:8] == b"OpusHead"
        assert sum(1 for _ in container.decode(audio=0)) > 10


async def test_nothing_is_recorded_until_told_and_a_pause_leaves_a_gap(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    sink = MemorySink(kept)
    session = PeerSession(sink=sink, directory=tmp_path, segment_seconds=1.0, recording=False)
    phone = await connect(lambda s: session.handle_offer("p", "applicant", s), role="applicant")
    try:
        relay = session.relays["applicant.video"]
        await wait_until(lambda: relay.packets_in >= 45)  # the phone is sending
        recorder = session.recorders["applicant.video"]
        assert recorder.received > 0
        assert recorder.recorded == 0
        assert not sink.segments
        for _ in range(2):  # an inspector comes, goes, comes back
            session.set_recording(True)
            target = recorder.recorded + 45
            await wait_until(lambda t=target: recorder.recorded >= t)
            session.set_recording(False)
            stopped_at = recorder.recorded
            target = relay.packets_in + 30
            await wait_until(lambda t=target: relay.packets_in >= t)
            assert recorder.recorded == stopped_at  # paused: nothing more is written
    finally:
        await phone.close()
        await session.close()
    video = sorted((s for s in sink.segments if s.kind == "video"), key=lambda s: s.seq)
    assert video
    assert all(s.keyframe_started for s in video)
    assert sum(s.frame_count for s in video) == recorder.recorded
    (gap,) = [g for g in sink.gaps if g.kind == "video"]  # the pause between the two runs
    assert gap.started_at < gap.ended_at
    assert gap.after_seq < max(s.seq for s in video)


def encode_pattern(frames: int) -> list[bytes]:
    """The numbered test pattern as VP8 at `PACED_FPS`, a keyframe at least every second."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base, codec.framerate = Fraction(1, PACED_FPS), Fraction(PACED_FPS)
    codec.bit_rate, codec.gop_size = 1_000_000, PACED_FPS
    codec.thread_count = 1  # libvpx's automatic threads crawl on a busy 2-core machine
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = ((xs + ys) % 256).astype(np.uint8)
    packets = []
    for number in range(frames):
        gray = np.roll(base, number * 4, axis=1)
        draw_counter(gray, number)
        yuv = np.concatenate([gray, np.full((HEIGHT // 2, WIDTH), 128, np.uint8)])
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = number
        packets += codec.encode(frame)
    packets += codec.encode(None)
    assert len(packets) == frames
    return [bytes(p) for p in packets]


def encode_clicks(frames: int) -> list[bytes]:
    """Opus silence with a 20 ms 1 kHz click in each of `CLICK_FRAMES`."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = OPUS_RATE, "mono", "s16"
    codec.bit_rate = 64_000
    t = np.arange(OPUS_FRAME) / OPUS_RATE
    click = (np.sin(2 * np.pi * 1000 * t) * 16000).astype(np.int16)
    packets = []
    for index in range(frames):
        samples = click if index in CLICK_FRAMES else np.zeros(OPUS_FRAME, np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = OPUS_RATE, index * OPUS_FRAME
        packets += codec.encode(frame)
    packets += codec.encode(None)
    return [bytes(p) for p in packets[:frames]]


class PacedPackets(MediaStreamTrack):  # type: ignore[misc,unused-ignore]
    """A phone's pre-encoded track, sent in real time: frame i is captured at start + i·step.

    aiortc's sender `pack()`s the packets and stamps its sender reports with the time it sent
    the last one; without an encoder in between, that is the capture time (no encoder delay,
    and no resampler holding Opus back one frame), so the reports are honest ground truth.
    """

    def __init__(self, kind: str, payloads: list[bytes], time_base: Fraction, step: int) -> None:
        super().__init__()
        self.kind = kind
        self._payloads = payloads
        self._time_base = time_base
        self._step = step
        self.start: float | None = None
        self.sent = 0

    def captured(self, index: int) -> float:
        assert self.start is not None
        return self.start + float(index * self._step * self._time_base)

    async def recv(self) -> av.Packet[Any]:
        if self.sent >= len(self._payloads):
            self.stop()
            raise MediaStreamError
        if self.start is None:
            self.start = time.time()
        index = self.sent
        await asyncio.sleep(self.captured(index) - time.time())
        packet = av.Packet(self._payloads[index])
        packet.pts = packet.dts = index * self._step
        packet.time_base = self._time_base
        self.sent += 1
        return packet


def delay_arrivals(receiver: Any, seconds: float) -> None:
    """Hold each RTP packet of `receiver` back by `seconds` (a slower path); RTCP is not."""
    original = receiver._handle_rtp_packet
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    def deliver(packet: Any, arrival_time_ms: int) -> None:
        task = asyncio.ensure_future(original(packet, arrival_time_ms=arrival_time_ms))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def handle_rtp_packet(packet: Any, arrival_time_ms: int) -> None:
        loop.call_later(seconds, deliver, packet, arrival_time_ms + int(seconds * 1000))

    receiver._handle_rtp_packet = handle_rtp_packet


def click_onset(path: Path) -> float | None:
    """Seconds from a segment's start to the first loud sample, if it holds a click."""
    with av.open(str(path)) as container:
        samples = np.concatenate(
            [f.to_ndarray()[0].astype(np.float64) for f in container.decode(audio=0)]
        )
        rate = container.streams.audio[0].rate
    loud = np.flatnonzero(np.abs(samples) > CLICK_THRESHOLD)
    return float(loud[0]) / rate if loud.size else None


async def test_audio_and_video_segments_are_placed_on_the_phones_clock(tmp_path: Path) -> None:
    seconds = 6
    video = PacedPackets(
        "video",
        await asyncio.to_thread(encode_pattern, seconds * PACED_FPS),
        Fraction(1, 90_000),
        90_000 // PACED_FPS,
    )
    audio = PacedPackets(
        "audio",
        await asyncio.to_thread(encode_clicks, seconds * OPUS_RATE // OPUS_FRAME),
        Fraction(1, OPUS_RATE),
        OPUS_FRAME,
    )
    kept = tmp_path / "kept"
    kept.mkdir()
    sink = MemorySink(kept)
    session = PeerSession(sink=sink, directory=tmp_path, segment_seconds=1.0)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    pc.addTransceiver(video, direction="sendonly")
    pc.addTransceiver(audio, direction="sendonly")
    prefer_vp8(pc)
    try:
        await pc.setLocalDescription(await pc.createOffer())
        answer = await session.handle_offer("p", "applicant", pc.localDescription.sdp)
        # Audio reaches the server 0.2 s after the video captured with it: arrival order
        # would misplace it; the sender reports (RTCP, not delayed) must not.
        server_pc = session._participants["p"].pc
        audio_receiver = next(t for t in server_pc.getTransceivers() if t.kind == "audio")
        delay_arrivals(audio_receiver.receiver, AUDIO_DELAY)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await wait_until(
            lambda: video.readyState == "ended" and audio.readyState == "ended", within=30
        )
    finally:
        await pc.close()
        await session.close()

    # Video: the decoded first frame's number says when it was captured.
    video_segments = [s for s in sink.segments if s.kind == "video" and s.first_frame_ntp]
    assert len(video_segments) >= 3
    for segment in video_segments:
        assert segment.first_frame_ntp is not None
        captured = video.captured(decode_counters(kept / segment.path.name)[0])
        assert abs(segment.first_frame_ntp.timestamp() - captured) <= SYNC_TOLERANCE

    # Audio: each click is heard at (segment's first frame + its offset in the segment).
    audio_segments = sorted((s for s in sink.segments if s.kind == "audio"), key=lambda s: s.seq)
    onsets = [(s, click_onset(kept / s.path.name)) for s in audio_segments]
    with_click = [(s, onset) for s, onset in onsets if onset is not None]
    assert len(with_click) == len(CLICK_FRAMES)
    for (segment, onset), frame in zip(with_click, CLICK_FRAMES, strict=True):
        assert segment.first_frame_ntp is not None  # the first SR comes within 1.5 s
        heard = segment.first_frame_ntp.timestamp() + onset
        assert abs(heard - audio.captured(frame)) <= SYNC_TOLERANCE
        arrived = segment.started_at.timestamp() + onset
        assert arrived - audio.captured(frame) >= AUDIO_DELAY  # the delay was in effect
