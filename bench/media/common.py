"""Shared by every process of the benchmark: the clip's barcode, ICE, signaling."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import aioice.ice
import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "results" / "media_rooms.json"
ROOT = Path(__file__).resolve().parents[2]

WIDTH, HEIGHT, FPS = 640, 480, 30
LOOP_FRAMES = 300
KEYFRAME_EVERY = 60
VIDEO_BITRATE = 1_000_000
AUDIO_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms
VIDEO_TB = Fraction(1, 90000)

# The barcode of tests/media/__init__.py (copied: that module imports pytest).
BITS = 16
BAR_Y, BAR_H, BAR_W = 8, 16, WIDTH // BITS

TARGETS = {
    "cores_per_room_at_12": 0.05,
    "cpu_ratio_vs_stock_with_recording": 20.0,
    "late_joiner_first_frame_s": 0.5,
    "recording_frames_missing": 0,
    "join_to_first_frame_median_s": 1.0,
    "implied_capacity_rooms_2_cores": 35,
}


def draw_counter(image: np.ndarray, number: int) -> None:
    for bit in range(BITS):
        value = 255 if number >> bit & 1 else 0
        image[BAR_Y : BAR_Y + BAR_H, bit * BAR_W : (bit + 1) * BAR_W] = value


def read_counter(image: np.ndarray) -> int:
    number = 0
    for bit in range(BITS):
        block = image[BAR_Y + 4 : BAR_Y + BAR_H - 4, bit * BAR_W + 8 : (bit + 1) * BAR_W - 8]
        if float(block.mean()) > 128:
            number |= 1 << bit
    return number


def loopback_ice() -> None:
    """aioice skips 127.0.0.1 host candidates; offer only loopback (as tests/media does)."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # type: ignore


def rtc_config() -> Any:
    from aiortc import RTCBundlePolicy, RTCConfiguration

    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def prefer_vp8(pc: Any) -> None:
    from aiortc import RTCRtpSender

    codecs = [
        c
        for c in RTCRtpSender.getCapabilities("video").codecs
        if c.mimeType in ("video/VP8", "video/rtx")
    ]
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            transceiver.setCodecPreferences(codecs)


async def read_stdin_line() -> str:
    return (await asyncio.to_thread(sys.stdin.readline)).strip()


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------
# load generator: pre-encoded loops


async def signal(port: int, message: dict[str, Any]) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((json.dumps(message) + "\n").encode())
    await writer.drain()
    reply = json.loads(await reader.readline())
    writer.close()
    if "error" in reply:
        raise RuntimeError(reply["error"])
    return str(reply["sdp"])


async def wait_connected(pcs: list[Any], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(pc.connectionState != "connected" for pc in pcs):
        if time.monotonic() > deadline:
            states = [pc.connectionState for pc in pcs]
            raise RuntimeError(f"peers not connected: {states}")
        await asyncio.sleep(0.05)
