"""The web process's stand-in for one room running in a media worker (`RemoteSession`).

Calls cross the worker's socket (`media.workers.protocol`); finished segments and gaps come
back through `deliver` and reach the room's sink here, in the web process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from media.recorder import GapInfo, SegmentInfo, SegmentSink
from media.snapshots import Snapshot, Watermark
from media.workers.protocol import SessionStats, WorkerError, WorkerLost

logger = logging.getLogger(__name__)


class WorkerHandle(Protocol):
    """What a room needs of its worker (`media.workers.pool._Worker`)."""

    index: int
    rooms: dict[str, RemoteSession]

    @property
    def pid(self) -> int | None: ...

    async def call(self, op: str, room: str = "", **args: Any) -> Any: ...


def retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a background future's exception as seen (the next call raises it)."""
    if not future.cancelled():
        future.exception()


class RemoteSession:
    """Stands in for a `media.peers.PeerSession` running in a worker process.

    Same async interface (`handle_offer`, `leave`, `snapshot`, `close`) and the same
    exception types for the same failures, plus `stats()`. Once its worker is gone, `lost`
    is true and every call but `leave`/`close` raises `WorkerLost`.
    """

    def __init__(
        self,
        worker: WorkerHandle,
        room: str,
        sink: SegmentSink,
        open_args: dict[str, Any],
        on_lost: Callable[[RemoteSession], None] | None,
    ) -> None:
        self.room = room
        self._worker = worker
        self._sink = sink
        self._on_lost = on_lost
        self.lost = False
        self.final_stats: SessionStats | None = None
        self._closed = False
        self._deliveries: set[asyncio.Task[None]] = set()
        self._opened = asyncio.ensure_future(worker.call("open", room, **open_args))
        self._opened.add_done_callback(retrieve)  # a failure is raised by the next call

    @property
    def worker_index(self) -> int:
        return self._worker.index

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid

    async def handle_offer(self, participant_id: str, role: str, sdp: str) -> str:
        """Answer a participant's offer (see `PeerSession.handle_offer`)."""
        answer = await self._call("offer", participant_id=participant_id, role=role, sdp=sdp)
        return str(answer)

    async def add_ice_candidate(
        self,
        participant_id: str,
        candidate: str | None,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None:
        """Pass on a trickled candidate (see `PeerSession.add_ice_candidate`)."""
        await self._call(
            "candidate",
            participant_id=participant_id,
            candidate=candidate,
            sdp_mid=sdp_mid,
            sdp_mline_index=sdp_mline_index,
        )

    async def leave(self, participant_id: str) -> None:
        """Close a participant's connection; nothing to do once the worker is gone."""
        if not self.lost:
            await self._call("leave", participant_id=participant_id)

    async def set_recording(self, on: bool) -> None:
        """Record the room's tracks from now on, or stop (see `PeerSession.set_recording`)."""
        if not self.lost:
            await self._call("recording", on=on)

    async def snapshot(self, watermark: Watermark, *, wait_seconds: float = 2.0) -> Snapshot:
        """Full-resolution watermarked JPEG of the applicant's picture, made in the worker."""
        shot = await self._call("snapshot", watermark=watermark, wait_seconds=wait_seconds)
        if not isinstance(shot, Snapshot):
            raise WorkerError(f"the worker answered a snapshot with {type(shot).__name__}")
        return shot

    async def stats(self) -> SessionStats:
        """The room's relay and recorder counters (the final ones once closed)."""
        if self.final_stats is not None:
            return self.final_stats
        stats = await self._call("stats")
        if not isinstance(stats, SessionStats):
            raise WorkerError(f"the worker answered stats with {type(stats).__name__}")
        return stats

    async def close(self) -> None:
        """Close the room in its worker; returns once every finished segment reached the sink."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self.lost:
                stats = await self._call("close")
                self.final_stats = stats if isinstance(stats, SessionStats) else None
        except WorkerLost:
            logger.warning("room %s lost its worker while closing", self.room)
        finally:
            self._worker.rooms.pop(self.room, None)
            await self.settled()

    async def settled(self) -> None:
        """Wait until the segments and gaps already handed over are stored."""
        while self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)

    # called by the worker handle ------------------------------------------------------

    def deliver(self, item: SegmentInfo | GapInfo) -> asyncio.Task[None]:
        """Hand a finished segment or a gap to the sink; the task fails if the sink did."""
        task = asyncio.ensure_future(self._store(item))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)
        return task

    def worker_lost(self) -> None:
        self.lost = True
        if self._on_lost is not None and not self._closed:
            self._on_lost(self)

    async def _store(self, item: SegmentInfo | GapInfo) -> None:
        if isinstance(item, GapInfo):
            await self._sink.gap(item)
            return
        await self._sink.store(item)
        # Stored: the file can go even if the worker dies before it removes it.
        await asyncio.to_thread(item.path.unlink, True)

    async def _call(self, op: str, **args: Any) -> Any:
        if self.lost:
            raise WorkerLost(f"media worker {self._worker.index} is gone; this call is over")
        await asyncio.shield(self._opened)
        return await self._worker.call(op, self.room, **args)
