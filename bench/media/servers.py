"""The server process: ours (rooms in media worker processes) or aiortc's stock path."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

from bench.media.common import emit, loopback_ice, read_stdin_line, rtc_config


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
    """A `media.peers.PeerSession` per room, in `workers` worker processes (0: in this one).

    With workers, rooms are pinned by the pool (fewest open rooms first) and this process
    keeps what the web process keeps: signaling and the sink.
    """

    def __init__(self, work: Path, workers: int, event_loop: str = "uvloop") -> None:
        self.work = work
        self.workers = workers
        self.event_loop = event_loop
        self.pool: Any = None
        self.sessions: dict[int, Any] = {}
        self.sinks: dict[int, KeepSink] = {}

    async def start(self) -> None:
        if self.workers:
            from media.workers import MediaWorkerPool

            self.pool = MediaWorkerPool(
                self.workers, setup=loopback_ice, event_loop=self.event_loop
            )
            await self.pool.start()

    def _session(self, room: int) -> Any:
        from media.peers import PeerSession

        if room not in self.sessions:
            base = self.work / f"room{room}"
            (base / "tmp").mkdir(parents=True)
            (base / "keep").mkdir()
            sink = self.sinks[room] = KeepSink(base / "keep")
            if self.pool is None:
                session = PeerSession(sink=sink, directory=base / "tmp", record=True)
            else:
                session = self.pool.open_room(
                    f"room{room}", sink=sink, directory=base / "tmp", record=True
                )
            self.sessions[room] = session
        return self.sessions[room]

    async def answer(self, msg: dict[str, Any]) -> str:
        session = self._session(msg["room"])
        return str(await session.handle_offer(msg["pid"], msg["role"], msg["sdp"]))

    def worker_pids(self) -> list[dict[str, Any]]:
        if self.pool is None:
            return []
        return [{"index": w.index, "pid": w.pid} for w in self.pool.health()]

    @staticmethod
    async def _stats(session: Any) -> Any:
        from media.workers import RemoteSession, session_stats

        if isinstance(session, RemoteSession):
            return await session.stats()
        return session_stats(session)

    async def close(self) -> dict[str, Any]:
        rooms: dict[int, dict[str, Any]] = {}
        for room, session in self.sessions.items():
            stats = await self._stats(session)
            video = stats.relays.get("applicant.video")
            audio = stats.relays.get("applicant.audio")
            rooms[room] = {
                "worker": getattr(session, "worker_index", None),
                "video_packets_in": video.packets_in if video else 0,
                "audio_packets_in": audio.packets_in if audio else 0,
                "pli_sent": video.pli_sent if video else 0,
                "consumers": [
                    {"sent": sent, "overflows": overflows}
                    for sent, overflows in zip(
                        video.consumers_sent if video else (),
                        video.consumers_overflows if video else (),
                        strict=True,
                    )
                ],
            }
        for room, session in self.sessions.items():
            await session.close()
            stats = await self._stats(session)
            rooms[room]["recorders"] = {
                slot: {
                    "received": r.received,
                    "recorded": r.recorded,
                    "skipped_before_keyframe": r.skipped_before_keyframe,
                }
                for slot, r in stats.recorders.items()
            }
            rooms[room]["segments"] = self.sinks[room].segments
            rooms[room]["gaps"] = self.sinks[room].gaps
        workers = self.worker_pids()
        if self.pool is not None:
            await self.pool.stop()
        return {"rooms": rooms, "workers": workers}


class StockServer:
    """aiortc's documented path: MediaRelay per published track, MediaRecorder(.webm)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.rooms: dict[int, dict[str, Any]] = {}

    async def start(self) -> None:
        return None

    def worker_pids(self) -> list[dict[str, Any]]:
        return []  # everything in the server process

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
    if args.mode == "ours":
        server: Any = OursServer(work, args.workers, args.event_loop)
    else:
        server = StockServer(work)
    await server.start()

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
    workers = [str(w["pid"]) for w in server.worker_pids()] or ["-"]
    emit(f"ready {tcp.sockets[0].getsockname()[1]} {','.join(workers)}")
    await read_stdin_line()  # "close"
    tcp.close()
    result = await server.close()
    await asyncio.to_thread(Path(args.out).write_text, json.dumps(result))
    emit("done")
