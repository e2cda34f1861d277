"""The publisher process: every phone, sending a pre-encoded VP8 loop and an Opus loop."""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from bench.media.common import (
    AUDIO_RATE,
    AUDIO_SAMPLES,
    FPS,
    HEIGHT,
    KEYFRAME_EVERY,
    LOOP_FRAMES,
    VIDEO_BITRATE,
    VIDEO_TB,
    WIDTH,
    draw_counter,
    emit,
    loopback_ice,
    prefer_vp8,
    read_stdin_line,
    rtc_config,
    signal,
    wait_connected,
)


def encode_loops() -> tuple[list[tuple[bytes, bool]], list[bytes]]:
    """300 VP8 frames of the barcode pattern (loop index in the barcode) and 50 Opus packets."""
    import cv2

    rng = np.random.default_rng(7)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = ((xs + ys) % 256).astype(np.int16)
    base = np.clip(base + rng.integers(-24, 24, base.shape), 0, 255).astype(np.uint8)
    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    ctx.time_base = Fraction(1, FPS)
    ctx.framerate = FPS
    ctx.bit_rate = VIDEO_BITRATE
    ctx.gop_size = 10 * LOOP_FRAMES
    ctx.options = {
        "deadline": "realtime",
        "cpu-used": "6",
        "lag-in-frames": "0",
        "auto-alt-ref": "0",
        "error-resilient": "1",
    }
    video: list[tuple[bytes, bool]] = []
    for n in range(LOOP_FRAMES):
        gray = np.roll(base, n * 4, axis=1)
        x = (n * 8) % (WIDTH - 80)
        gray[200:280, x : x + 80] = 255
        cv2.putText(gray, f"frame {n}", (40, 420), cv2.FONT_HERSHEY_SIMPLEX, 2, 255, 3)
        draw_counter(gray, n)
        yuv = np.concatenate([gray, np.full((HEIGHT // 2, WIDTH), 128, np.uint8)])
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = n
        frame.time_base = Fraction(1, FPS)
        if n % KEYFRAME_EVERY == 0:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in ctx.encode(frame):
            video.append((bytes(packet), bool(packet.is_keyframe)))
    for packet in ctx.encode(None):
        video.append((bytes(packet), bool(packet.is_keyframe)))
    if len(video) != LOOP_FRAMES or not video[0][1]:
        raise RuntimeError(f"VP8 loop: {len(video)} packets, first keyframe {video[0][1]}")

    opus = av.CodecContext.create("libopus", "w")
    opus.sample_rate = AUDIO_RATE
    opus.layout = "stereo"
    opus.format = "s16"
    opus.bit_rate = 64000
    audio: list[bytes] = []
    t = np.arange(AUDIO_RATE) / AUDIO_RATE
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    for k in range(AUDIO_RATE // AUDIO_SAMPLES):
        chunk = tone[k * AUDIO_SAMPLES : (k + 1) * AUDIO_SAMPLES]
        frame = av.AudioFrame.from_ndarray(np.repeat(chunk, 2).reshape(1, -1), "s16", "stereo")
        frame.sample_rate = AUDIO_RATE
        frame.pts = k * AUDIO_SAMPLES
        frame.time_base = Fraction(1, AUDIO_RATE)
        audio.extend(bytes(p) for p in opus.encode(frame))
    return video, audio


def _packet_track_base() -> type:
    from aiortc.mediastreams import MediaStreamTrack

    return MediaStreamTrack


class LoopVideoTrack(_packet_track_base()):  # type: ignore[misc]
    """Sends the pre-encoded loop at 30 fps; on PLI jumps to the loop's next keyframe."""

    kind = "video"

    def __init__(self, loop: list[tuple[bytes, bool]]) -> None:
        super().__init__()
        self._loop = loop
        self._keys = [i for i, (_, key) in enumerate(loop) if key]
        self._pos = 0
        self._sent = 0
        self._start: float | None = None
        self.want_keyframe = False
        self.jumps = 0
        self.log_pos: list[int] = []
        self.log_t: list[float] = []

    def request_keyframe(self) -> None:
        self.want_keyframe = True

    async def recv(self) -> av.Packet:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        delay = self._start + self._sent / FPS - now
        if delay > 0:
            await asyncio.sleep(delay)
        if self.want_keyframe:
            self.want_keyframe = False
            if not self._loop[self._pos][1]:
                nxt = bisect.bisect_left(self._keys, self._pos)
                self._pos = self._keys[nxt] if nxt < len(self._keys) else 0
                self.jumps += 1
        data, key = self._loop[self._pos]
        packet = av.Packet(data)
        packet.pts = packet.dts = self._sent * (90000 // FPS)
        packet.time_base = VIDEO_TB
        packet.is_keyframe = key
        self.log_pos.append(self._pos)
        self.log_t.append(round(time.monotonic(), 4))
        self._pos = (self._pos + 1) % len(self._loop)
        self._sent += 1
        return packet


class LoopAudioTrack(_packet_track_base()):  # type: ignore[misc]
    kind = "audio"

    def __init__(self, loop: list[bytes]) -> None:
        super().__init__()
        self._loop = loop
        self._sent = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        delay = self._start + self._sent * AUDIO_SAMPLES / AUDIO_RATE - now
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self._loop[self._sent % len(self._loop)])
        packet.pts = packet.dts = self._sent * AUDIO_SAMPLES
        packet.time_base = Fraction(1, AUDIO_RATE)
        self._sent += 1
        return packet


async def run_publisher(args: argparse.Namespace) -> None:
    from aiortc import RTCPeerConnection, RTCSessionDescription

    loopback_ice()
    video_loop, audio_loop = encode_loops()
    pcs, tracks = [], []
    for room in range(args.rooms):
        pc = RTCPeerConnection(rtc_config())
        video = LoopVideoTrack(video_loop)
        transceiver = pc.addTransceiver(video, direction="sendonly")
        transceiver.sender._send_keyframe = video.request_keyframe  # honour PLI / FIR
        pc.addTransceiver(LoopAudioTrack(audio_loop), direction="sendonly")
        prefer_vp8(pc)
        await pc.setLocalDescription(await pc.createOffer())
        sdp = await signal(
            args.port,
            {"room": room, "pid": "phone", "role": "applicant", "sdp": pc.localDescription.sdp},
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        pcs.append(pc)
        tracks.append(video)
    await wait_connected(pcs, 30)
    emit("connected")
    await read_stdin_line()  # "stop"
    result = {
        "rooms": [{"log_pos": t.log_pos, "log_t": t.log_t, "pli_jumps": t.jumps} for t in tracks],
        "video_loop_bytes": sum(len(d) for d, _ in video_loop),
    }
    for pc in pcs:
        await pc.close()
    await asyncio.to_thread(Path(args.out).write_text, json.dumps(result))
    emit("done")


# ---------------------------------------------------------------------------------------
# subscribers
