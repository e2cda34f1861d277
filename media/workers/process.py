"""Inside a media worker process: its own event loop and aiortc, serving the rooms pinned to it.

Each room is a `media.peers.PeerSession` whose sink forwards finished segments and gaps to
the parent (which uploads and records them) and waits for the parent's answer, so a segment
file is only removed after it was stored. The parent owns the shutdown order (rooms first,
their last segments stored, then the workers) and says "stop"; the worker ignores SIGINT (a
Ctrl+C reaches the whole process group, and the parent then shuts down in order). It winds
down by itself, closing its rooms for at most `WIND_DOWN_SECONDS`, on SIGTERM or when the
parent's end of the socket closes (the parent died), so it never outlives the web process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import uvloop

from media.peers import PeerSession
from media.recorder import GapInfo, SegmentInfo
from media.workers.protocol import (
    Hello,
    Reply,
    Request,
    SinkCall,
    SinkReply,
    WorkerError,
    encode_error,
    read_frame,
    session_stats,
    write_frame,
)

logger = logging.getLogger(__name__)

EventLoop = Literal["uvloop", "asyncio"]
WIND_DOWN_SECONDS = 10.0  # SIGTERM or the parent gone: rooms get this long to close


def run(
    sock: socket.socket,
    setup: Callable[[], None] | None = None,
    event_loop: EventLoop = "uvloop",
) -> None:
    """Process entry point: quiet signals, run `setup` (a picklable function), then serve."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s media-worker[%(process)d] %(name)s %(levelname)s %(message)s",
    )
    if setup is not None:
        setup()
    # uvloop's C loop costs less CPU per room than asyncio's (bench/README.md: 0.049 against
    # 0.053 cores at 12 rooms): every RTP packet is a few loop callbacks and a datagram send.
    loop_factory = uvloop.new_event_loop if event_loop == "uvloop" else None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(WorkerServer(sock).serve())


class _ParentSink:
    """`SegmentSink` of one room: hands each item to the parent and waits until it is stored."""

    def __init__(self, server: WorkerServer, room: str) -> None:
        self._server, self._room = server, room

    async def store(self, segment: SegmentInfo) -> None:
        await self._server.sink_call(self._room, segment)

    async def gap(self, gap: GapInfo) -> None:
        await self._server.sink_call(self._room, gap)


class WorkerServer:
    """Reads requests from the parent, runs each in its own task, writes replies."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._writer: asyncio.StreamWriter | None = None
        self.rooms: dict[str, PeerSession] = {}
        self._sink_calls: dict[int, asyncio.Future[None]] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()
        self._orphaned = False

    async def serve(self) -> None:
        reader, self._writer = await asyncio.open_connection(sock=self._sock)
        terminated = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminated.set)
        loop = type(asyncio.get_running_loop()).__module__
        await self._send(Hello(os.getpid(), loop))
        reading = asyncio.create_task(self._read(reader))
        waits = [reading, asyncio.create_task(self._stopped.wait())]
        waits.append(asyncio.create_task(terminated.wait()))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if not self._stopped.is_set():
            await self._wind_down(parent_gone=reading.done())
        for task in waits:
            task.cancel()

    async def _wind_down(self, *, parent_gone: bool) -> None:
        """Close the rooms without the parent's "stop": it died, or SIGTERM came first."""
        if parent_gone:
            logger.error("the web process is gone: closing %d room(s)", len(self.rooms))
            self._orphaned = True
            self._fail_sink_calls()
        else:  # the parent may still store the last segments
            logger.warning("terminated: closing %d room(s)", len(self.rooms))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._close_all(), WIND_DOWN_SECONDS)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        """Dispatch frames until the parent's end closes (it exited or died)."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                message = await read_frame(reader)
                if isinstance(message, SinkReply):
                    self._sink_replied(message)
                elif isinstance(message, Request) and message.op == "open":
                    await self._reply(message, self._open)  # inline: later requests use it
                elif isinstance(message, Request) and message.op == "stop":
                    self._spawn(self._stop(message))
                elif isinstance(message, Request):
                    # "close" waits for sink replies: never block this loop on a request
                    self._spawn(self._reply(message, self._run))
                else:
                    logger.error("unexpected message from the parent: %r", type(message))

    # requests ---------------------------------------------------------------------------

    async def _reply(self, request: Request, handler: Callable[[Request], Awaitable[Any]]) -> None:
        try:
            reply = Reply(request.call, await handler(request))
        except Exception as exc:  # every failure goes back to the caller, typed
            reply = Reply(request.call, error=encode_error(exc))
        with contextlib.suppress(ConnectionError):
            await self._send(reply)

    async def _open(self, request: Request) -> None:
        if request.room in self.rooms:
            raise WorkerError(f"room {request.room} is already open")
        args = request.args
        self.rooms[request.room] = PeerSession(
            sink=_ParentSink(self, request.room),
            directory=Path(args["directory"]),
            segment_seconds=float(args["segment_seconds"]),
            record=bool(args["record"]),
            recording=bool(args.get("recording", True)),
        )

    async def _run(self, request: Request) -> Any:
        session = self.rooms.get(request.room)
        if session is None:
            raise WorkerError(f"room {request.room} is not open in this worker")
        args = request.args
        match request.op:
            case "offer":
                return await session.handle_offer(args["participant_id"], args["role"], args["sdp"])
            case "leave":
                return await session.leave(args["participant_id"])
            case "candidate":
                return await session.add_ice_candidate(
                    args["participant_id"],
                    args["candidate"],
                    args["sdp_mid"],
                    args["sdp_mline_index"],
                )
            case "snapshot":
                return await session.snapshot(args["watermark"], wait_seconds=args["wait_seconds"])
            case "recording":
                return session.set_recording(bool(args["on"]))
            case "stats":
                return session_stats(session)
            case "close":
                del self.rooms[request.room]
                await session.close()
                return session_stats(session)
        raise WorkerError(f"unknown request {request.op!r}")

    async def _stop(self, request: Request) -> None:
        await self._close_all()
        with contextlib.suppress(ConnectionError):
            await self._send(Reply(request.call))
        self._stopped.set()

    async def _close_all(self) -> None:
        rooms, self.rooms = list(self.rooms.values()), {}
        for session in rooms:
            try:
                await session.close()
            except Exception:
                logger.exception("a room failed to close")

    # sink calls -------------------------------------------------------------------------

    async def sink_call(self, room: str, item: SegmentInfo | GapInfo) -> None:
        """Send a segment or gap to the parent's sink; raises if the parent refused it."""
        if self._orphaned:
            raise WorkerError("the web process is gone")
        call = next(self._ids)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sink_calls[call] = future
        try:
            await self._send(SinkCall(call, room, item))
            await future
        finally:
            self._sink_calls.pop(call, None)

    def _sink_replied(self, reply: SinkReply) -> None:
        future = self._sink_calls.get(reply.call)
        if future is None or future.done():
            return
        if reply.error is None:
            future.set_result(None)
        else:
            future.set_exception(WorkerError(f"the sink refused it: {reply.error}"))

    def _fail_sink_calls(self) -> None:
        for future in self._sink_calls.values():
            if not future.done():
                future.set_exception(WorkerError("the web process is gone"))

    # plumbing ---------------------------------------------------------------------------

    async def _send(self, message: object) -> None:
        if self._writer is None or self._writer.is_closing():
            raise ConnectionError("no connection to the web process")
        write_frame(self._writer, message)
        await self._writer.drain()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
