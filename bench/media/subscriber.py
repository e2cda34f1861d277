"""The subscriber process: every inspector; inspector 1 of each room joins late."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from bench.media.common import (
    emit,
    loopback_ice,
    prefer_vp8,
    read_counter,
    read_stdin_line,
    rtc_config,
    signal,
)


async def run_subscriber(args: argparse.Namespace) -> None:
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from media.aiortc_hooks import enable_passthrough

    loopback_ice()
    subs: list[dict[str, Any]] = []
    pcs: list[Any] = []
    tasks: list[asyncio.Task[None]] = []

    async def consume(track: Any, sub: dict[str, Any], decode: bool) -> None:
        video = track.kind == "video"
        times = sub["video_t"] if video else sub["audio_t"]
        try:
            while True:
                item = await track.recv()
                now = round(time.monotonic(), 4)
                times.append(now)
                if not video:
                    continue
                if sub["first_video"] is None:
                    sub["first_video"] = now
                if decode:
                    sub["video_idx"].append(read_counter(item.to_ndarray(format="gray")))
                    if sub["first_key"] is None:
                        sub["first_key"] = now
                elif sub["first_key"] is None and item.is_keyframe:
                    sub["first_key"] = now
        except MediaStreamError:
            pass

    async def join(room: int, index: int) -> None:
        decode = room < args.decode_rooms
        sub: dict[str, Any] = {
            "room": room,
            "index": index,
            "decoded": decode,
            "start": time.monotonic(),
            "connected": None,
            "first_video": None,
            "first_key": None,
            "video_t": [],
            "video_idx": [],
            "audio_t": [],
        }
        subs.append(sub)
        pc = RTCPeerConnection(rtc_config())
        pcs.append(pc)
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        prefer_vp8(pc)

        @pc.on("connectionstatechange")  # type: ignore[misc]
        def on_state() -> None:
            if pc.connectionState == "connected" and sub["connected"] is None:
                sub["connected"] = time.monotonic()

        @pc.on("track")  # type: ignore[misc]
        def on_track(track: Any) -> None:
            if not (decode and track.kind == "video"):
                transceiver = next(t for t in pc.getTransceivers() if t.receiver.track is track)
                enable_passthrough(transceiver.receiver, lambda _receiver: None)
            tasks.append(asyncio.ensure_future(consume(track, sub, decode)))

        await pc.setLocalDescription(await pc.createOffer())
        sdp = await signal(
            args.port,
            {
                "room": room,
                "pid": f"inspector{index}",
                "role": "inspector",
                "sdp": pc.localDescription.sdp,
            },
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    t0 = time.monotonic()
    await asyncio.gather(*(join(room, 0) for room in range(args.rooms)))
    emit(f"joined0 {t0}")
    await asyncio.sleep(max(0.0, t0 + args.late - time.monotonic()))
    await asyncio.gather(*(join(room, 1) for room in range(args.rooms)))
    emit("joined1")
    await read_stdin_line()  # "stop"
    for pc in pcs:
        await pc.close()
    for task in tasks:
        task.cancel()
    await asyncio.to_thread(Path(args.out).write_text, json.dumps({"t0": t0, "subs": subs}))
    emit("done")


# ---------------------------------------------------------------------------------------
# server
