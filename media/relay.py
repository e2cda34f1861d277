"""Zero-transcode fan-out of one published track to N subscriber tracks and listeners.

A `Relay` is a slot ("the applicant's video"), not a connection: it outlives publisher
reconnects, so subscribers keep their sender and simply wait for the next keyframe, and the
recorder sees an explicit stop/start (a gap). Packets are shared read-only between consumers.
A video relay also forwards the lowest subscriber bandwidth estimate to the publisher (REMB),
and every relay hands its listeners the publisher's sender-report clock (A/V sync).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.bandwidth import RembForwarder
from media.passthrough import media_pts
from media.sync import MediaClock

logger = logging.getLogger(__name__)

QUEUE_PACKETS = 90  # ~3 s of video
PLI_INTERVAL = 0.3  # at most one keyframe request per 300 ms
GOP_PACKETS = 900  # snapshot buffer limit (30 s at 30 fps)
REMB_KEPT = 16


@dataclass(frozen=True)
class SourceInfo:
    """What a listener needs to know about the publisher's stream."""

    kind: str
    codec_name: str
    clock_rate: int
    channels: int = 1


class Publisher(Protocol):
    """The publishing side: a packet track, keyframe requests (PLI), bandwidth limits (REMB)."""

    @property
    def track(self) -> MediaStreamTrack: ...

    @property
    def sender_clock(self) -> MediaClock | None:
        """The track's sender-report clock on its own timeline (None until an SR arrived)."""

    async def send_pli(self) -> bool: ...

    async def send_remb(self, bitrate: int) -> bool: ...

    def limit_remb(self, transform: Callable[[int], int]) -> None:
        """Route the publisher side's own bandwidth estimate through `transform`."""


class PacketListener(Protocol):
    """Synchronous per-packet consumer in the event loop (the recorder)."""

    def on_start(self, source: SourceInfo) -> None: ...

    def on_packet(self, packet: av.Packet[Any]) -> None: ...

    def on_clock(self, clock: MediaClock) -> None:
        """A (new) sender-report clock for the packets' timeline of the current publisher."""

    def on_stop(self) -> None: ...


class PacketTrack(MediaStreamTrack):  # type: ignore[misc,unused-ignore]
    """Subscriber track: `recv()` returns `av.Packet[Any]`s, which the sender `pack()`s."""

    def __init__(self, relay: Relay, kind: str, *, wait_keyframe: bool) -> None:
        super().__init__()
        self.kind = kind
        self._relay = relay
        self._queue: asyncio.Queue[av.Packet[Any] | None] = asyncio.Queue(QUEUE_PACKETS)
        self.waiting_keyframe = wait_keyframe
        self.sent = 0
        self.overflows = 0

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        self.sent += 1
        return packet

    def offer(self, packet: av.Packet[Any]) -> bool:
        """Queue a packet; returns False when this consumer needs a keyframe."""
        if self.waiting_keyframe:
            if not packet.is_keyframe:
                return False
            self.waiting_keyframe = False
        try:
            self._queue.put_nowait(packet)
        except asyncio.QueueFull:
            self._flush()
            self.overflows += 1
            self.waiting_keyframe = self.kind == "video"
            return not self.waiting_keyframe
        return True

    def _flush(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    def end(self) -> None:
        self._flush()
        self._queue.put_nowait(None)

    def stop(self) -> None:
        super().stop()
        self._relay.unsubscribe(self)


class Relay:
    """Fan-out for one source slot; `attach()` a publisher, `subscribe()` consumers."""

    def __init__(self, kind: str, name: str = "") -> None:
        self.kind = kind
        self.name = name
        self._consumers: list[PacketTrack] = []
        self._listeners: list[PacketListener] = []
        self._publisher: Publisher | None = None
        self._source: SourceInfo | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._last_pli = 0.0
        self.pli_sent = 0
        self.packets_in = 0
        # Output pts stay monotonic across publisher reconnects (RTP clock restarts at 0).
        self._pts_offset = 0
        self._last_pts: int | None = None
        self._last_wall = 0.0
        self._rebase_next = False
        self._gop: list[av.Packet[Any]] = []
        self._gop_valid = False
        self._bandwidth = RembForwarder()
        self.remb_sent: list[int] = []  # forwarded bitrates, most recent last (a few kept)
        self._clock_source: MediaClock | None = None
        self._clock: MediaClock | None = None  # on the output timeline (after rebase)

    # consumers -------------------------------------------------------------------------

    def subscribe(self) -> PacketTrack:
        """A new subscriber track; video ones start waiting for a keyframe and ask for one."""
        consumer = PacketTrack(self, self.kind, wait_keyframe=self.kind == "video")
        self._consumers.append(consumer)
        if consumer.waiting_keyframe:
            self._spawn(self.request_keyframe())
        return consumer

    def unsubscribe(self, consumer: PacketTrack) -> None:
        with contextlib.suppress(ValueError):
            self._consumers.remove(consumer)
        self._bandwidth.remove(consumer)

    def add_listener(self, listener: PacketListener) -> None:
        self._listeners.append(listener)
        if self._publisher is not None and self._source is not None:
            listener.on_start(self._source)
            if self._clock is not None:
                listener.on_clock(self._clock)

    def report_estimate(self, consumer: PacketTrack, bitrate: int) -> None:
        """A subscriber's receive estimate (REMB) arrived; the publisher may be told the min."""
        if self.kind != "video" or consumer not in self._consumers:
            return
        now = time.monotonic()
        self._bandwidth.subscriber_estimate(consumer, bitrate, now)
        if self._publisher is None:
            return
        target = self._bandwidth.due(now)
        if target is not None:
            self._spawn(self._send_remb(self._publisher, target))

    @property
    def consumers(self) -> list[PacketTrack]:
        return list(self._consumers)

    # publisher -------------------------------------------------------------------------

    def attach(self, publisher: Publisher, source: SourceInfo) -> None:
        """Start forwarding a (new) publisher's packets; replaces any previous one."""
        self.detach()
        self._publisher = publisher
        self._source = source
        self._rebase_next = self._last_pts is not None
        self._clock_source = self._clock = None
        if self.kind == "video":
            publisher.limit_remb(self._limit_uplink)
        for listener in self._listeners:
            listener.on_start(source)
        self._reader = asyncio.ensure_future(self._run(publisher))

    def detach(self) -> None:
        """Stop reading the current publisher (it left); subscribers stay subscribed."""
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        if self._publisher is not None:
            self._publisher = None
            self._gop_valid = False
            self._gop = []
            for listener in self._listeners:
                listener.on_stop()

    @property
    def source(self) -> SourceInfo | None:
        return self._source

    @property
    def publishing(self) -> bool:
        return self._publisher is not None

    async def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe (PLI), at most once per `PLI_INTERVAL`."""
        if self.kind != "video" or self._publisher is None:
            return
        now = time.monotonic()
        if now - self._last_pli < PLI_INTERVAL:
            return
        self._last_pli = now
        if await self._publisher.send_pli():
            self.pli_sent += 1

    async def close(self) -> None:
        self.detach()
        for consumer in list(self._consumers):
            consumer.end()
        self._consumers.clear()

    def latest_gop(self) -> list[av.Packet[Any]]:
        """Packets from the last keyframe to now (empty until a keyframe arrived)."""
        return list(self._gop) if self._gop_valid else []

    # internals -------------------------------------------------------------------------

    async def _run(self, publisher: Publisher) -> None:
        try:
            while True:
                packet = await publisher.track.recv()
                if isinstance(packet, av.Packet):
                    self._forward(packet, publisher)
                if self._needs_keyframe():
                    await self.request_keyframe()
        except MediaStreamError:
            pass
        finally:
            if self._publisher is publisher:
                self._reader = None
                self.detach()

    def _forward(self, packet: av.Packet[Any], publisher: Publisher) -> None:
        self._rebase(packet)
        self._follow_clock(publisher)
        self.packets_in += 1
        self._remember_gop(packet)
        for listener in self._listeners:
            listener.on_packet(packet)
        for consumer in self._consumers:
            consumer.offer(packet)

    def _follow_clock(self, publisher: Publisher) -> None:
        """Hand listeners a new sender-report clock, shifted like the packets (`_rebase`)."""
        source = publisher.sender_clock
        if source is None or source is self._clock_source:
            return
        self._clock_source = source
        self._clock = source.shifted(self._pts_offset)
        for listener in self._listeners:
            listener.on_clock(self._clock)

    def _limit_uplink(self, bitrate: int) -> int:
        return self._bandwidth.uplink_estimate(bitrate, time.monotonic())

    async def _send_remb(self, publisher: Publisher, bitrate: int) -> None:
        if await publisher.send_remb(bitrate):
            self.remb_sent = [*self.remb_sent[-(REMB_KEPT - 1) :], bitrate]

    def _needs_keyframe(self) -> bool:
        return any(consumer.waiting_keyframe for consumer in self._consumers)

    def _rebase(self, packet: av.Packet[Any]) -> None:
        now = time.monotonic()
        pts = media_pts(packet)
        if self._rebase_next and self._last_pts is not None:
            elapsed = round((now - self._last_wall) / packet.time_base)
            self._pts_offset = self._last_pts + max(elapsed, 1) - pts
            self._rebase_next = False
        if self._pts_offset:
            packet.pts = packet.dts = pts + self._pts_offset
        self._last_pts = media_pts(packet)
        self._last_wall = now

    def _remember_gop(self, packet: av.Packet[Any]) -> None:
        if self.kind != "video":
            return
        if packet.is_keyframe:
            self._gop = [packet]
            self._gop_valid = True
        elif self._gop_valid:
            self._gop.append(packet)
            if len(self._gop) > GOP_PACKETS:
                self._gop, self._gop_valid = [], False

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
