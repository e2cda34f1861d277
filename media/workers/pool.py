"""The web process's side: N media worker processes and a proxy per room pinned to one of them.

One Python event loop carries ~15–20 rooms before the GIL is the limit, so media runs in one
worker process per core (multiprocessing "spawn" or "forkserver", never "fork": the parent
runs an event loop and threads). A room is pinned for its life to the worker with the fewest
open rooms. The parent keeps everything that is not media: finished segments come back as
`SegmentInfo` / `GapInfo` and go to the room's sink here (object storage, database, audit).

A worker that dies takes its rooms with it: their pending calls raise `WorkerLost`, each
room's `on_lost` callback runs (the server closes the room so signaling tells participants),
and the pool starts a replacement in the same slot. `stop()` closes any room still open (its
last segments reach the sink), then stops the workers; a worker that does not exit is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal

from media.recorder import SEGMENT_SECONDS, SegmentSink
from media.workers import process
from media.workers.protocol import (
    Hello,
    Reply,
    Request,
    SinkCall,
    SinkReply,
    WorkerError,
    WorkerLost,
    decode_error,
    read_frame,
    write_frame,
)
from media.workers.remote import RemoteSession, retrieve

logger = logging.getLogger(__name__)

StartMethod = Literal["spawn", "forkserver"]
WorkerState = Literal["starting", "ready", "lost", "stopped"]
START_SECONDS = 60.0  # importing aiortc/PyAV in a fresh interpreter on a busy machine
STOP_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 30.0


class _Worker:
    """One worker process, the socket to it, and the calls waiting for its replies."""

    def __init__(
        self,
        index: int,
        context: Any,
        setup: Callable[[], None] | None,
        on_exit: Callable[[_Worker], None],
        event_loop: process.EventLoop = "uvloop",
    ) -> None:
        self.index = index
        self._event_loop = event_loop
        self.event_loop = ""  # the loop the running process reported
        self.state: WorkerState = "starting"
        self.pid: int | None = None
        self.rooms: dict[str, RemoteSession] = {}
        self.served = False  # became ready at least once
        self._context = context
        self._setup = setup
        self._on_exit = on_exit
        self._process: BaseProcess | None = None
        self._starter: asyncio.Future[None] | None = None
        self._socket: socket.socket | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Reply]] = {}
        self._ids = itertools.count(1)
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ready.add_done_callback(retrieve)
        self._stopping = False
        self._tasks: set[asyncio.Future[None]] = set()

    def launch(self, delay: float, within: float) -> None:
        """Start the process after `delay` seconds, in the background."""
        self._starter = self._background(self._start(delay, within))

    async def _start(self, delay: float, within: float) -> None:
        try:
            await asyncio.sleep(delay)
            hello, reader = await self._spawn_process(within)
        except BaseException as exc:  # failed, timed out or cancelled by stop()
            if not isinstance(exc, asyncio.CancelledError):
                code = self._process.exitcode if self._process is not None else None
                logger.error(
                    "media worker %d failed to start (exit code %s): %r", self.index, code, exc
                )
            self._ready.set_exception(WorkerLost(f"media worker {self.index} did not start"))
            await self._exit()
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self.pid, self.state, self.served = hello.pid, "ready", True
        self.event_loop = hello.event_loop
        self._ready.set_result(None)
        self._reader = asyncio.create_task(self._read(reader))

    async def _spawn_process(self, within: float) -> tuple[Hello, asyncio.StreamReader]:
        parent_end, child_end = socket.socketpair()
        self._socket = parent_end
        try:
            proc = self._context.Process(
                target=process.run,
                args=(child_end, self._setup, self._event_loop),
                name=f"media-worker-{self.index}",
                daemon=True,
            )
            self._process = proc
            proc.start()
        finally:
            child_end.close()  # the child has its own copy; EOF must reach us when it dies
        reader, self._writer = await asyncio.open_connection(sock=parent_end)
        hello = await asyncio.wait_for(read_frame(reader), within)
        if not isinstance(hello, Hello):
            raise WorkerError(f"the worker said {type(hello).__name__} instead of hello")
        return hello, reader

    async def ready(self) -> None:
        await asyncio.shield(self._ready)

    async def call(self, op: str, room: str = "", **args: Any) -> Any:
        """Send a request and wait for its reply; worker errors are raised as their type."""
        await self.ready()
        if self.state != "ready" or self._writer is None:
            raise WorkerLost(f"media worker {self.index} is gone")
        call = next(self._ids)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[call] = future
        try:
            write_frame(self._writer, Request(call, op, room, args))
            await self._writer.drain()
            reply = await future
        except (ConnectionError, OSError) as exc:
            raise WorkerLost(f"media worker {self.index} is gone") from exc
        finally:
            self._pending.pop(call, None)
        if reply.error is not None:
            raise decode_error(reply.error)
        return reply.value

    async def stop(self, grace: float) -> None:
        """Ask the worker to stop; kill it if it has not exited within `grace` seconds."""
        self._stopping = True
        if self._process is None and self._starter is not None:
            self._starter.cancel()  # still waiting out a restart delay
            await asyncio.gather(self._starter, return_exceptions=True)
        with contextlib.suppress(WorkerLost, TimeoutError):
            await asyncio.wait_for(self.ready(), grace)
        if self.state == "ready":
            try:
                await asyncio.wait_for(self.call("stop"), grace)
            except (WorkerError, TimeoutError) as exc:
                logger.warning("media worker %d did not stop cleanly: %r", self.index, exc)
        await self._reap(grace)
        await self._exit()

    # internals --------------------------------------------------------------------------

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                message = await read_frame(reader)
                if isinstance(message, Reply):
                    future = self._pending.get(message.call)
                    if future is not None and not future.done():
                        future.set_result(message)
                elif isinstance(message, SinkCall):
                    self._background(self._sink_call(message))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the process ended
        except Exception:
            logger.exception("media worker %d sent an unreadable frame", self.index)
        # Not on cancellation: that is _exit() itself, or the event loop shutting down.
        self._background(self._exit())

    async def _sink_call(self, call: SinkCall) -> None:
        session = self.rooms.get(call.room)
        error = None
        if session is None:
            error = f"room {call.room} is not open"
        else:
            try:
                await session.deliver(call.item)
            except Exception as exc:  # storage or database down: the worker keeps the file
                logger.exception("room %s: the sink failed", call.room)
                error = f"{type(exc).__name__}: {exc}"
        if self.state == "ready" and self._writer is not None:
            write_frame(self._writer, SinkReply(call.call, error))
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.drain()

    async def _exit(self) -> None:
        """The process ended (or never started): fail what waited on it, tell the pool."""
        if self.state in ("lost", "stopped"):
            return
        self.state = "stopped" if self._stopping else "lost"
        if self.state == "lost":
            logger.error("media worker %d (pid %s) is gone", self.index, self.pid)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(WorkerLost(f"media worker {self.index} is gone"))
        rooms, self.rooms = list(self.rooms.values()), {}
        for session in rooms:
            session.worker_lost()
        if not self._ready.done():
            self._ready.set_exception(WorkerLost(f"media worker {self.index} is gone"))
        if self._writer is not None:
            self._writer.close()  # the child sees EOF and exits if it still runs
        elif self._socket is not None:
            self._socket.close()
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
        self._on_exit(self)
        if self.state == "lost":  # stop() reaps a stopped one itself
            await self._reap(STOP_SECONDS)

    def _background(self, coro: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
        """Run `coro` as a task this handle keeps a reference to until it is done."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _reap(self, grace: float) -> None:
        proc = self._process
        if proc is None or proc.exitcode is not None:
            return
        await asyncio.to_thread(proc.join, grace)
        if proc.exitcode is None:
            logger.error("media worker %d did not exit: killing it", self.index)
            proc.kill()
            await asyncio.to_thread(proc.join, grace)


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    index: int
    pid: int | None
    state: WorkerState
    rooms: int
    restarts: int
    event_loop: str = ""


class MediaWorkerPool:
    """`size` media worker processes; `open_room()` pins a room to the least busy one."""

    def __init__(
        self,
        size: int,
        *,
        setup: Callable[[], None] | None = None,
        start_method: StartMethod = "spawn",
        start_timeout: float = START_SECONDS,
        event_loop: process.EventLoop = "uvloop",
    ) -> None:
        if size < 1:
            raise ValueError(f"a media worker pool needs at least 1 worker, not {size}")
        if event_loop not in ("uvloop", "asyncio"):
            raise ValueError(f"event loop {event_loop!r}: use 'uvloop' or 'asyncio'")
        if start_method not in ("spawn", "forkserver"):
            raise ValueError(
                f"start method {start_method!r}: use 'spawn' or 'forkserver' (a forked copy of "
                "a process running an event loop and threads is not safe)"
            )
        self.size = size
        self._setup = setup
        self._event_loop = event_loop
        self._context = multiprocessing.get_context(start_method)
        self._start_timeout = start_timeout
        self._workers: list[_Worker] = []
        self._restarts = [0] * size
        self._failures = [0] * size  # consecutive starts that never became ready
        self._room_ids = itertools.count(1)
        self._stopping = False

    async def start(self) -> None:
        """Start every worker and wait until all serve; raises `WorkerError` if one cannot."""
        if self._workers:
            raise WorkerError("the media worker pool is already started")
        self._workers = [self._launch(i, delay=0.0) for i in range(self.size)]
        try:
            await asyncio.gather(*(w.ready() for w in self._workers))
        except WorkerLost as exc:
            await self.stop()
            raise WorkerError(f"media workers failed to start: {exc}") from exc

    def open_room(
        self,
        name: str,
        *,
        sink: SegmentSink,
        directory: Path,
        segment_seconds: float = SEGMENT_SECONDS,
        record: bool = True,
        recording: bool = True,
        on_lost: Callable[[RemoteSession], None] | None = None,
    ) -> RemoteSession:
        """A room on the worker with the fewest open rooms; `directory` holds its segments."""
        if self._stopping or not self._workers:
            raise WorkerError("the media worker pool is not running")
        worker = min(
            (w for w in self._workers if w.state in ("ready", "starting")),
            key=lambda w: (len(w.rooms), w.state != "ready", w.index),
            default=None,
        )
        if worker is None:
            raise WorkerLost("no media worker is running")
        room = f"{name}#{next(self._room_ids)}"
        args = {
            "directory": str(directory),
            "segment_seconds": segment_seconds,
            "record": record,
            "recording": recording,
        }
        session = RemoteSession(worker, room, sink, args, on_lost)
        worker.rooms[room] = session
        return session

    def health(self) -> list[WorkerHealth]:
        return [
            WorkerHealth(
                w.index, w.pid, w.state, len(w.rooms), self._restarts[w.index], w.event_loop
            )
            for w in self._workers
        ]

    @property
    def ok(self) -> bool:
        """Every slot has a serving worker."""
        return bool(self._workers) and all(w.state == "ready" for w in self._workers)

    async def stop(self, grace: float = STOP_SECONDS) -> None:
        """Close the rooms still open (their segments reach the sink), then stop every worker."""
        self._stopping = True
        sessions = [s for w in self._workers for s in list(w.rooms.values())]
        results = await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                logger.error("a room failed to close on shutdown: %r", result)
        await asyncio.gather(*(w.stop(grace) for w in self._workers))

    # restarts ---------------------------------------------------------------------------

    def _launch(self, index: int, delay: float) -> _Worker:
        worker = _Worker(index, self._context, self._setup, self._exited, self._event_loop)
        worker.launch(delay, self._start_timeout)
        return worker

    def _exited(self, worker: _Worker) -> None:
        index = worker.index
        if self._stopping or self._workers[index] is not worker:
            return
        self._failures[index] = 0 if worker.served else self._failures[index] + 1
        delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** self._failures[index]) * bool(
            self._failures[index]
        )
        self._restarts[index] += 1
        logger.warning("restarting media worker %d in %.1f s", index, delay)
        self._workers[index] = self._launch(index, delay)
