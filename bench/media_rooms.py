"""Benchmark: media rooms per core, zero-transcode passthrough vs aiortc's stock path.

    .venv/bin/python -m bench.media_rooms                 # ours @1,12 rooms; stock @1,2; x2
    .venv/bin/python -m bench.media_rooms --quick         # 1 room each mode, 10 s window
    .venv/bin/python -m bench.media_rooms --modes ours --rooms 12 --repeats 3

One room = one phone (640x480 @ 30 fps VP8 + Opus) -> two inspectors + recording. Three OS
processes, as in shared/reference/media-passthrough.md section 1:

* server (``--role server``): hosts every room, answers offers received as JSON lines over
  loopback TCP. ``ours`` = ``media.peers.MediaSession`` (recording on, segments hard-linked
  aside by the sink); ``stock`` = aiortc ``MediaRelay`` (a VP8 re-encode per subscriber) +
  ``MediaRecorder`` to ``.webm``.
* publisher (``--role publisher``): every phone. A light load generator: a pre-encoded VP8
  loop (10 s of a barcode pattern, libvpx realtime ~1 Mb/s, keyframe every 60 frames) and a
  1 s Opus loop, sent as ``av.Packet`` s (the sender only ``pack()`` s them). It honours PLI by
  jumping to the next keyframe of the loop.
* subscriber (``--role subscriber``): every inspector. Inspector 0 joins first, inspector 1
  ``--late`` seconds later. Tracks are counted without decoding (the project's passthrough
  receiver hook), except the video of the first ``--decode-rooms`` rooms, which is decoded
  to read the barcode (frames lost / duplicated and latency on one monotonic clock).

Server CPU = psutil ``cpu_times`` (user+sys, all threads) of the server PID over the window.
Writes ``bench/results/media_rooms.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import aioice.ice
import av
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "media_rooms.json"
ROOT = Path(__file__).resolve().parent.parent

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


class KeepSink:
    """SegmentSink that hard-links each finished segment aside (the recorder deletes it)."""

    def __init__(self, keep: Path) -> None:
        self.keep = keep
        self.segments: list[dict[str, Any]] = []
        self.gaps = 0

    async def store(self, segment: Any) -> None:
        target = self.keep / segment.path.name
        os.link(segment.path, target)
        self.segments.append(
            {
                "file": str(target),
                "track": segment.track_id,
                "seq": segment.seq,
                "frames": segment.frame_count,
                "keyframe_started": segment.keyframe_started,
                "media_start": segment.media_start,
                "media_end": segment.media_end,
                "size": segment.size,
            }
        )

    async def gap(self, gap: Any) -> None:
        self.gaps += 1


class OursServer:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.sessions: dict[int, Any] = {}
        self.sinks: dict[int, KeepSink] = {}

    def _session(self, room: int) -> Any:
        from media.peers import MediaSession

        if room not in self.sessions:
            base = self.work / f"room{room}"
            (base / "tmp").mkdir(parents=True)
            (base / "keep").mkdir()
            self.sinks[room] = KeepSink(base / "keep")
            self.sessions[room] = MediaSession(
                sink=self.sinks[room], directory=base / "tmp", record=True
            )
        return self.sessions[room]

    async def answer(self, msg: dict[str, Any]) -> str:
        session = self._session(msg["room"])
        return str(await session.handle_offer(msg["pid"], msg["role"], msg["sdp"]))

    async def close(self) -> dict[str, Any]:
        rooms = {}
        for room, session in self.sessions.items():
            video = session.relays.get("applicant.video")
            audio = session.relays.get("applicant.audio")
            rooms[room] = {
                "video_packets_in": video.packets_in if video else 0,
                "audio_packets_in": audio.packets_in if audio else 0,
                "pli_sent": video.pli_sent if video else 0,
                "consumers": [
                    {"sent": c.sent, "overflows": c.overflows}
                    for c in (video.consumers if video else [])
                ],
            }
        for room, session in self.sessions.items():
            await session.close()
            rec = session.recorders
            rooms[room]["recorders"] = {
                slot: {
                    "received": r.received,
                    "recorded": r.recorded,
                    "skipped_before_keyframe": r.skipped_before_keyframe,
                }
                for slot, r in rec.items()
            }
            rooms[room]["segments"] = self.sinks[room].segments
            rooms[room]["gaps"] = self.sinks[room].gaps
        return {"rooms": rooms}


class StockServer:
    """aiortc's documented path: MediaRelay per published track, MediaRecorder(.webm)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.rooms: dict[int, dict[str, Any]] = {}

    async def answer(self, msg: dict[str, Any]) -> str:
        from aiortc import RTCPeerConnection, RTCSessionDescription
        from aiortc.contrib.media import MediaRecorder, MediaRelay

        room = self.rooms.setdefault(
            msg["room"], {"relay": MediaRelay(), "tracks": {}, "pcs": [], "recorder": None}
        )
        pc = RTCPeerConnection(rtc_config())
        room["pcs"].append(pc)
        if msg["role"] == "applicant":
            path = self.work / f"room{msg['room']}.webm"
            recorder = MediaRecorder(str(path))
            room["recorder"], room["file"] = recorder, str(path)

            @pc.on("track")  # type: ignore[misc]
            def on_track(track: Any) -> None:
                room["tracks"][track.kind] = track
                recorder.addTrack(room["relay"].subscribe(track))

            await pc.setRemoteDescription(RTCSessionDescription(sdp=msg["sdp"], type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            await recorder.start()
        else:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=msg["sdp"], type="offer"))
            for kind in ("video", "audio"):
                pc.addTrack(room["relay"].subscribe(room["tracks"][kind]))
            await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def close(self) -> dict[str, Any]:
        rooms = {}
        for number, room in self.rooms.items():
            for pc in room["pcs"]:
                await pc.close()
            error = None
            if room["recorder"] is not None:
                try:
                    await asyncio.wait_for(room["recorder"].stop(), 60)
                except Exception as exc:  # report, do not hide
                    error = repr(exc)
            rooms[number] = {"file": room.get("file"), "recorder_stop_error": error}
        return {"rooms": rooms}


async def run_server(args: argparse.Namespace) -> None:
    loopback_ice()
    work = Path(args.work)
    server: Any = OursServer(work) if args.mode == "ours" else StockServer(work)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            msg = json.loads(await reader.readline())
            reply = {"sdp": await server.answer(msg)}
        except Exception as exc:
            logging.exception("offer failed")
            reply = {"error": repr(exc)}
        writer.write((json.dumps(reply) + "\n").encode())
        await writer.drain()
        writer.close()

    tcp = await asyncio.start_server(handle, "127.0.0.1", 0)
    emit(f"ready {tcp.sockets[0].getsockname()[1]}")
    await read_stdin_line()  # "close"
    tcp.close()
    result = await server.close()
    await asyncio.to_thread(Path(args.out).write_text, json.dumps(result))
    emit("done")


# ---------------------------------------------------------------------------------------
# orchestration


class Child:
    def __init__(self, name: str, argv: list[str], work: Path) -> None:
        self.name = name
        self.stderr_path = work / f"{name}.stderr"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.media_rooms", *argv],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr_path.open("w"),
            text=True,
            bufsize=1,
        )

    def expect(self, prefix: str, seconds: float) -> str:
        import selectors

        sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                line = self.proc.stdout.readline()
                if not line:
                    break
                if line.startswith(prefix):
                    return line.strip()
        raise RuntimeError(f"{self.name}: no {prefix!r}; stderr tail:\n{self.stderr_tail()}")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stderr_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.stderr_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # only this child, by its own handle
            self.proc.wait()


def pin(child: Child, cpus: list[int], args: argparse.Namespace) -> None:
    """--pin: server on CPU 0, load generators on CPU 1 (as the reference's taskset run)."""
    if args.pin:
        import psutil

        psutil.Process(child.proc.pid).cpu_affinity(cpus)


def cpu_sample(pid: int) -> dict[str, float]:
    import psutil

    proc = psutil.Process(pid)
    times = proc.cpu_times()
    loop = next((t.user_time + t.system_time for t in proc.threads() if t.id == pid), 0.0)
    return {
        "cpu": times.user + times.system,
        "loop": loop,
        "rss": proc.memory_info().rss,
    }


def machine_busy() -> float:
    import psutil

    t = psutil.cpu_times()
    return float(
        t.user + t.system + getattr(t, "nice", 0) + getattr(t, "irq", 0) + getattr(t, "softirq", 0)
    )


def run_once(mode: str, rooms: int, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"media_rooms_{mode}{rooms}_"))
    children: list[Child] = []
    result: dict[str, Any] = {"mode": mode, "rooms": rooms, "work": str(work), "pinned": args.pin}
    try:
        server = Child(
            "server",
            [
                "--role",
                "server",
                "--mode",
                mode,
                "--work",
                str(work),
                "--out",
                str(work / "server.json"),
            ],
            work,
        )
        children.append(server)
        pin(server, [0], args)
        port = int(server.expect("ready", 60).split()[1])
        publisher = Child(
            "publisher",
            [
                "--role",
                "publisher",
                "--port",
                str(port),
                "--rooms",
                str(rooms),
                "--out",
                str(work / "pub.json"),
            ],
            work,
        )
        children.append(publisher)
        pin(publisher, [1], args)
        publisher.expect("connected", 90)
        subscriber = Child(
            "subscriber",
            [
                "--role",
                "subscriber",
                "--port",
                str(port),
                "--rooms",
                str(rooms),
                "--late",
                str(args.late),
                "--decode-rooms",
                str(args.decode_rooms),
                "--out",
                str(work / "sub.json"),
            ],
            work,
        )
        children.append(subscriber)
        pin(subscriber, [1], args)
        t0 = float(subscriber.expect("joined0", 90).split()[1])
        subscriber.expect("joined1", 90 + args.late)
        window_start = t0 + args.late + args.settle
        time.sleep(max(0.0, window_start - time.monotonic()))
        pids = {c.name: c.proc.pid for c in children}
        before = {name: cpu_sample(pid) for name, pid in pids.items()}
        busy0, w0 = machine_busy(), time.monotonic()
        time.sleep(args.window)
        after = {name: cpu_sample(pid) for name, pid in pids.items()}
        busy1, w1 = machine_busy(), time.monotonic()
        wall = w1 - w0
        subscriber.send("stop")
        subscriber.expect("done", 60)
        server.send("close")
        server.expect("done", 180)
        publisher.send("stop")
        publisher.expect("done", 60)
        for child in children:
            child.proc.wait(30)
        cores = {n: (after[n]["cpu"] - before[n]["cpu"]) / wall for n in pids}
        result.update(
            window=[w0, w1],
            server_cores=cores["server"],
            server_cores_per_room=cores["server"] / rooms,
            server_loop_thread_cores=(after["server"]["loop"] - before["server"]["loop"]) / wall,
            publisher_cores=cores["publisher"],
            subscriber_cores=cores["subscriber"],
            machine_busy_cores=(busy1 - busy0) / wall,
            server_rss_start_mb=before["server"]["rss"] / 2**20,
            server_rss_growth_mb=(after["server"]["rss"] - before["server"]["rss"]) / 2**20,
        )
        pub = json.loads((work / "pub.json").read_text())
        sub = json.loads((work / "sub.json").read_text())
        srv = json.loads((work / "server.json").read_text())
        result.update(analyse_clients(pub, sub, w0, w1))
        result["server_stats"] = summarise_server(mode, srv)
        result["recording"] = verify_recordings(mode, srv, pub, args.verify_rooms)
        result["server_stderr_warnings"] = count_warnings(server.stderr_path)
    except Exception as exc:
        result["error"] = repr(exc)
        for child in children:
            result[f"{child.name}_stderr"] = child.stderr_tail()
    finally:
        for child in children:
            child.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return result


def count_warnings(path: Path) -> dict[str, Any]:
    text = path.read_text(errors="replace") if path.exists() else ""
    lines = [line for line in text.splitlines() if "Error" in line or "WARNING" in line]
    return {"count": len(lines), "first": lines[:3]}


def analyse_clients(
    pub: dict[str, Any], sub: dict[str, Any], w0: float, w1: float
) -> dict[str, Any]:
    wall = w1 - w0
    per_sub = []
    joins, late = [], []
    latencies: list[float] = []
    lost = dups = expected_total = 0
    for s in sub["subs"]:
        vt = s["video_t"]
        fps = sum(1 for t in vt if w0 <= t < w1) / wall
        afps = sum(1 for t in s["audio_t"] if w0 <= t < w1) / wall
        first = s["first_key"] - s["start"] if s["first_key"] is not None else None
        after_ice = (
            s["first_key"] - s["connected"]
            if s["first_key"] is not None and s["connected"] is not None
            else None
        )
        entry = {
            "room": s["room"],
            "index": s["index"],
            "video_fps": round(fps, 2),
            "audio_pps": round(afps, 2),
            "join_to_first_frame_s": first,
            "ice_connected_to_first_frame_s": after_ice,
        }
        if first is not None:
            joins.append(first)
            if s["index"] == 1:
                late.append(first)
        if s["decoded"]:
            room_log = pub["rooms"][s["room"]]
            sends: dict[int, list[tuple[float, int]]] = {}
            for seq, (pos, t) in enumerate(
                zip(room_log["log_pos"], room_log["log_t"], strict=False)
            ):
                sends.setdefault(pos, []).append((t, seq))
            matched: set[int] = set()
            sub_lat = []
            d = 0
            for t, idx in zip(vt, s["video_idx"], strict=False):
                if not w0 <= t < w1:
                    continue
                cands = sends.get(idx, [])
                k = bisect.bisect_right(cands, (t, 1 << 30)) - 1
                if k < 0:
                    continue
                t_send, seq = cands[k]
                if seq in matched:
                    d += 1
                    continue
                matched.add(seq)
                sub_lat.append(t - t_send)
            expected = {seq for seq, t in enumerate(room_log["log_t"]) if w0 <= t < w1 - 1.0}
            miss = len(expected - matched)
            entry.update(
                frames_lost=miss,
                frames_duplicated=d,
                frames_expected=len(expected),
                latency_p50_ms=round(1000 * statistics.median(sub_lat), 1) if sub_lat else None,
                latency_p95_ms=round(1000 * float(np.percentile(sub_lat, 95)), 1)
                if sub_lat
                else None,
            )
            latencies += sub_lat
            lost += miss
            dups += d
            expected_total += len(expected)
        per_sub.append(entry)
    return {
        "min_subscriber_fps": min(e["video_fps"] for e in per_sub),
        "median_subscriber_fps": statistics.median(e["video_fps"] for e in per_sub),
        "min_subscriber_audio_pps": min(e["audio_pps"] for e in per_sub),
        "join_to_first_frame_median_s": statistics.median(joins) if joins else None,
        "late_joiner_first_frame_max_s": max(late) if len(late) == len(sub["subs"]) // 2 else None,
        "late_joiner_first_frame_median_s": statistics.median(late) if late else None,
        "late_joiners_without_video": len(sub["subs"]) // 2 - len(late),
        "decoded_frames_lost": lost,
        "decoded_frames_duplicated": dups,
        "decoded_frames_expected": expected_total,
        "latency_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "latency_p95_ms": round(1000 * float(np.percentile(latencies, 95)), 1)
        if latencies
        else None,
        "publisher_pli_jumps": [r["pli_jumps"] for r in pub["rooms"]],
        "subscribers": per_sub,
    }


def summarise_server(mode: str, srv: dict[str, Any]) -> Any:
    if mode != "ours":
        return srv["rooms"]
    out = {}
    for room, r in srv["rooms"].items():
        out[room] = {k: v for k, v in r.items() if k != "segments"}
        out[room]["segments"] = len(r.get("segments", []))
    return out


def decode_file(path: str, kind: str) -> dict[str, Any]:
    idx: list[int] = []
    samples = 0
    pts: list[float] = []
    info: dict[str, Any] = {}
    try:
        with av.open(path) as container:
            stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
            info["container_duration_s"] = (
                container.duration / 1e6 if container.duration is not None else None
            )
            info["packets"] = 0
            info["undecodable_packets"] = 0
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                info["packets"] += 1
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    info["undecodable_packets"] += 1
                    continue
                for frame in frames:
                    if frame.pts is not None:
                        pts.append(float(frame.pts * frame.time_base))
                    if kind == "video":
                        idx.append(read_counter(frame.to_ndarray(format="gray")))
                    else:
                        samples += frame.samples
                        info["rate"] = frame.sample_rate
    except Exception as exc:
        info["error"] = repr(exc)
    info["frames"] = len(idx) if kind == "video" else None
    info["span_s"] = (max(pts) - min(pts)) if pts else 0.0
    if kind == "audio":
        info["audio_s"] = samples / info["rate"] if info.get("rate") else 0.0
    info["idx"] = idx
    return info


def align(sent: list[int], got: list[int]) -> dict[str, int]:
    """Recorded barcode sequence vs the publisher's sent loop positions (a subsequence)."""
    j, last, missing, dups, unmatched = 0, None, 0, 0, 0
    for r in got:
        if last is not None and sent[last] == r:
            dups += 1
            continue
        k = next((i for i in range(j, min(len(sent), j + 400)) if sent[i] == r), None)
        if k is None:
            unmatched += 1
            continue
        if last is not None:
            missing += k - last - 1
        last, j = k, k + 1
    return {"missing": missing, "duplicated": dups, "unreadable_or_unmatched": unmatched}


def fix_empty_recording(entry: dict[str, Any]) -> None:
    """A recording with no video frame misses everything the phone sent, not nothing."""
    if entry.get("frames_decoded") == 0:
        entry["barcode_vs_sent"]["missing"] = entry["publisher_frames_sent"]
        entry["no_video_in_recording"] = True


def verify_recordings(
    mode: str, srv: dict[str, Any], pub: dict[str, Any], rooms: int
) -> dict[str, Any]:
    per_room = []
    for room_key, r in sorted(srv["rooms"].items(), key=lambda kv: int(kv[0])):
        room = int(room_key)
        if room >= rooms:
            continue
        sent = pub["rooms"][room]["log_pos"]
        if mode == "ours":
            segs = sorted(r["segments"], key=lambda s: (s["track"], s["seq"]))
            vids = [
                decode_file(s["file"], "video") for s in segs if s["track"] == "applicant.video"
            ]
            auds = [
                decode_file(s["file"], "audio") for s in segs if s["track"] == "applicant.audio"
            ]
            idx = [i for v in vids for i in v["idx"]]
            rec = r["recorders"].get("applicant.video", {})
            entry = {
                "segments_video": len(vids),
                "segments_audio": len(auds),
                "decode_errors": [v["error"] for v in vids + auds if "error" in v],
                "frames_decoded": len(idx),
                "packets_in_files": sum(v.get("packets", 0) for v in vids),
                "undecodable_packets": sum(v.get("undecodable_packets", 0) for v in vids),
                "server_received": rec.get("received"),
                "server_recorded": rec.get("recorded"),
                "skipped_before_first_keyframe": rec.get("skipped_before_keyframe"),
                # frames the server received but whose packet is not in the files
                "missing_vs_server_received": (rec.get("received") or 0)
                - (rec.get("skipped_before_keyframe") or 0)
                - sum(v.get("packets", 0) for v in vids),
                "server_received_of_sent": round((rec.get("received") or 0) / max(1, len(sent)), 4),
                "video_s": round(sum(v["span_s"] + 1 / FPS for v in vids), 2),
                "audio_s": round(sum(a.get("audio_s", 0.0) for a in auds), 2),
            }
        else:
            v = (
                decode_file(r["file"], "video")
                if r.get("file") and Path(r["file"]).exists()
                else {"idx": [], "error": "no file"}
            )
            a = (
                decode_file(r["file"], "audio")
                if r.get("file") and Path(r["file"]).exists()
                else {}
            )
            idx = v["idx"]
            entry = {
                "frames_decoded": len(idx),
                "packets_in_file": v.get("packets"),
                "undecodable_packets": v.get("undecodable_packets"),
                "decode_errors": [e for e in (v.get("error"), a.get("error")) if e],
                "container_duration_s": v.get("container_duration_s"),
                "video_s": round(v.get("span_s", 0.0), 2),
                "audio_s": round(a.get("audio_s", 0.0), 2),
                "recorder_stop_error": r.get("recorder_stop_error"),
            }
        entry["publisher_frames_sent"] = len(sent)
        entry["barcode_vs_sent"] = align(sent, idx)
        fix_empty_recording(entry)
        entry["room"] = room
        per_room.append(entry)
    return {
        "rooms_checked": len(per_room),
        "total_missing_vs_sent": sum(e["barcode_vs_sent"]["missing"] for e in per_room),
        "total_missing_vs_server_received": (
            sum(e["missing_vs_server_received"] for e in per_room) if mode == "ours" else None
        ),
        "per_room": per_room,
    }


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import aiortc
    import psutil

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "aiortc": aiortc.__version__,
        "av": av.__version__,
        "psutil": psutil.__version__,
        "loadavg_at_start": os.getloadavg(),
    }


KEYS = [
    "server_cores",
    "server_cores_per_room",
    "server_loop_thread_cores",
    "min_subscriber_fps",
    "min_subscriber_audio_pps",
    "late_joiner_first_frame_max_s",
    "join_to_first_frame_median_s",
    "latency_p50_ms",
    "server_rss_growth_mb",
    "publisher_cores",
    "subscriber_cores",
    "machine_busy_cores",
    "decoded_frames_lost",
    "decoded_frames_duplicated",
]


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        pinned = " pinned" if run.get("pinned") else ""
        groups.setdefault(f"{run['mode']}@{run['rooms']}{pinned}", []).append(run)
    out = {}
    for name, group in groups.items():
        ok = [r for r in group if "error" not in r]
        entry: dict[str, Any] = {"runs": len(group), "failed_runs": len(group) - len(ok)}
        for key in KEYS:
            values = [r[key] for r in ok if r.get(key) is not None]
            if values:
                entry[key] = {
                    "min": min(values),
                    "median": statistics.median(values),
                    "max": max(values),
                }
        ingress = [
            min(e["server_received_of_sent"] for e in r["recording"]["per_room"])
            for r in ok
            if r.get("recording", {}).get("per_room")
            and "server_received_of_sent" in r["recording"]["per_room"][0]
        ]
        if ingress:
            entry["server_received_of_sent_worst_room"] = {"min": min(ingress), "max": max(ingress)}
        missing = [r["recording"]["total_missing_vs_sent"] for r in ok if "recording" in r]
        if missing:
            entry["recording_missing_vs_sent"] = {"min": min(missing), "max": max(missing)}
        missing_srv = [
            r["recording"]["total_missing_vs_server_received"]
            for r in ok
            if r.get("recording", {}).get("total_missing_vs_server_received") is not None
        ]
        if missing_srv:
            entry["recording_missing_vs_server_received"] = {
                "min": min(missing_srv),
                "max": max(missing_srv),
            }
        out[name] = entry
    return out


def fmt(entry: dict[str, Any], key: str, digits: int = 3) -> str:
    v = entry.get(key)
    if not v:
        return "n/a"
    if v["min"] == v["max"]:
        return f"{v['median']:.{digits}f}"
    return f"{v['median']:.{digits}f} ({v['min']:.{digits}f}–{v['max']:.{digits}f})"


def failed_note(entry: dict[str, Any]) -> str:
    return f" ({entry['failed_runs']} failed)" if entry["failed_runs"] else ""


def markdown(summary: dict[str, Any]) -> str:
    rows = [
        "| config | runs | server cores | cores / room | min inspector fps "
        "| late joiner 1st frame (s, worst) | join→1st frame median (s) | latency p50 (ms) "
        "| recording missing (vs sent / vs server rx) | server RSS growth (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in summary.items():
        rec = e.get("recording_missing_vs_sent")
        srv = e.get("recording_missing_vs_server_received")
        rec_s = f"{rec['min']}–{rec['max']}" if rec else "n/a"
        srv_s = f"{srv['min']}–{srv['max']}" if srv else "n/a"
        rows.append(
            f"| {name} | {e['runs']}{failed_note(e)} "
            f"| {fmt(e, 'server_cores')} | {fmt(e, 'server_cores_per_room')} "
            f"| {fmt(e, 'min_subscriber_fps', 1)} | {fmt(e, 'late_joiner_first_frame_max_s', 2)} "
            f"| {fmt(e, 'join_to_first_frame_median_s', 2)} | {fmt(e, 'latency_p50_ms', 0)} "
            f"| {rec_s} / {srv_s} | {fmt(e, 'server_rss_growth_mb', 1)} |"
        )
    return "\n".join(rows)


def ratios(summary: dict[str, Any]) -> dict[str, Any]:
    out = {}
    stock1 = summary.get("stock@1", {}).get("server_cores_per_room")
    if stock1:
        for name, e in summary.items():
            if name.startswith("ours@") and e.get("server_cores_per_room"):
                out[f"stock@1 / {name} (cores per room, medians)"] = round(
                    stock1["median"] / e["server_cores_per_room"]["median"], 1
                )
    return out


def orchestrate(args: argparse.Namespace) -> None:
    if args.quick:
        args.rooms, args.stock_rooms, args.window, args.repeats = "1", "1", 10.0, 1
    plan = []
    for _ in range(args.repeats):
        if "ours" in args.modes:
            plan += [("ours", int(n)) for n in args.rooms.split(",") if n]
        if "stock" in args.modes:
            plan += [("stock", int(n)) for n in args.stock_rooms.split(",") if n]
    started = time.time()
    runs = []
    machine = machine_info()
    for mode, rooms in plan:
        print(f"[media_rooms] {mode} x {rooms} rooms ...", flush=True)
        t = time.time()
        run = run_once(mode, rooms, args)
        run["run_seconds"] = round(time.time() - t, 1)
        run["loadavg_after"] = os.getloadavg()
        runs.append(run)
        brief = {
            k: run.get(k)
            for k in (
                "server_cores",
                "server_cores_per_room",
                "min_subscriber_fps",
                "late_joiner_first_frame_max_s",
                "error",
            )
        }
        print(f"[media_rooms]   {json.dumps(brief, default=str)}", flush=True)
    if args.merge and Path(args.out).exists():
        previous = json.loads(Path(args.out).read_text())
        for run in previous.get("runs", []):
            rec = run.get("recording")
            if rec and rec.get("per_room"):
                for entry in rec["per_room"]:
                    fix_empty_recording(entry)
                rec["total_missing_vs_sent"] = sum(
                    e["barcode_vs_sent"]["missing"] for e in rec["per_room"]
                )
        runs = previous.get("runs", []) + runs
        machine["earlier_invocations"] = previous.get("machine", {})
    summary = summarise(runs)
    table = markdown(summary)
    out = {
        "benchmark": "media_rooms",
        "command": " ".join(["python -m bench.media_rooms", *sys.argv[1:]]),
        "machine": machine,
        "settings": {
            "window_s": args.window,
            "settle_s": args.settle,
            "late_joiner_s": args.late,
            "decode_rooms": args.decode_rooms,
            "video": "640x480@30 VP8 pre-encoded loop, 300 frames, "
            "~1 Mb/s, keyframe every 60, PLI honoured (jump to next loop keyframe)",
            "audio": "Opus 48 kHz stereo 20 ms, 1 s loop",
        },
        "targets": TARGETS,
        "summary": summary,
        "ratios": ratios(summary),
        "markdown": table,
        "total_seconds": round(time.time() - started, 1),
        "runs": runs,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str))
    print(table)
    print(json.dumps(out["ratios"], indent=1))
    print(f"[media_rooms] wrote {path} in {out['total_seconds']} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--role",
        choices=["orchestrator", "server", "publisher", "subscriber"],
        default="orchestrator",
    )
    parser.add_argument("--modes", default="ours,stock")
    parser.add_argument("--rooms", default="1,12", help="room counts for ours")
    parser.add_argument("--stock-rooms", default="1,2", help="room counts for stock")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=7.0)
    parser.add_argument("--late", type=float, default=5.0)
    parser.add_argument("--decode-rooms", type=int, default=1)
    parser.add_argument("--verify-rooms", type=int, default=100)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    parser.add_argument("--pin", action="store_true", help="server on CPU 0, clients on CPU 1")
    parser.add_argument("--merge", action="store_true", help="add these runs to --out's runs")
    parser.add_argument("--out", default=str(RESULTS))
    # child-only
    parser.add_argument("--mode", default="ours")
    parser.add_argument("--work", default="")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.role == "orchestrator":
        orchestrate(args)
        return
    args.rooms = int(args.rooms.split(",")[0])
    runner = {"server": run_server, "publisher": run_publisher, "subscriber": run_subscriber}[
        args.role
    ]
    asyncio.run(runner(args))


if __name__ == "__main__":
    main()
