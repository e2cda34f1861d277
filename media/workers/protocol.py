"""What crosses the socket between the web process and a media worker, and how.

A frame is a 4-byte big-endian length and a pickle of one of the dataclasses below. Both ends
are this program talking over a socketpair the parent made, so pickle is safe here. Payloads
are plain values: str, bytes, numbers, datetimes, paths and the media dataclasses
(`SegmentInfo`, `GapInfo`, `Watermark`, `Snapshot`, `SessionStats`), never an aiortc object.

Errors travel as `RemoteError(type, message)` and are raised again in the parent as the same
type when it is one of `KNOWN_ERRORS` (the worker names the first known class in the
exception's MRO), else as `WorkerError`.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from dataclasses import dataclass, field
from typing import Any

from media.aiortc_hooks import HookError
from media.peers import PeerSession
from media.recorder import GapInfo, SegmentInfo
from media.snapshots import SnapshotError

HEADER = struct.Struct("!I")
MAX_FRAME = 64 * 2**20  # a snapshot JPEG is the largest payload, well under this


class WorkerError(RuntimeError):
    """The media worker could not do what was asked (or answered with an unexpected error)."""


class WorkerLost(WorkerError):
    """The media worker process is gone; the rooms it hosted are over."""


KNOWN_ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (ValueError, SnapshotError, HookError, WorkerLost, WorkerError, TimeoutError)
}


@dataclass(frozen=True, slots=True)
class Hello:
    """The worker's first frame: it is up and serving."""

    pid: int
    event_loop: str = ""  # the running loop's module: "uvloop" or "asyncio.unix_events"


@dataclass(frozen=True, slots=True)
class Request:
    """Parent → worker: `op` on `room` ("open", "offer", "leave", "recording", "snapshot",
    "stats", "close", "stop")."""

    call: int
    op: str
    room: str = ""
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RemoteError:
    type: str
    message: str


@dataclass(frozen=True, slots=True)
class Reply:
    """Worker → parent: the result of request `call`."""

    call: int
    value: Any = None
    error: RemoteError | None = None


@dataclass(frozen=True, slots=True)
class SinkCall:
    """Worker → parent: a finished segment file or a gap of `room`, for the room's sink."""

    call: int
    room: str
    item: SegmentInfo | GapInfo


@dataclass(frozen=True, slots=True)
class SinkReply:
    """Parent → worker: the sink took (or refused, with `error`) sink call `call`."""

    call: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RecorderStats:
    received: int
    recorded: int
    skipped_before_keyframe: int


@dataclass(frozen=True, slots=True)
class RelayStats:
    packets_in: int
    pli_sent: int
    publishing: bool
    consumers_sent: tuple[int, ...]
    consumers_overflows: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SessionStats:
    """Counters of one room, by slot ("applicant.video"…), readable after it closed."""

    relays: dict[str, RelayStats]
    recorders: dict[str, RecorderStats]


def session_stats(session: PeerSession) -> SessionStats:
    """The counters of an in-process `PeerSession` (the worker sends these to the parent)."""
    relays = {
        slot: RelayStats(
            packets_in=relay.packets_in,
            pli_sent=relay.pli_sent,
            publishing=relay.publishing,
            consumers_sent=tuple(c.sent for c in relay.consumers),
            consumers_overflows=tuple(c.overflows for c in relay.consumers),
        )
        for slot, relay in session.relays.items()
    }
    recorders = {
        slot: RecorderStats(r.received, r.recorded, r.skipped_before_keyframe)
        for slot, r in session.recorders.items()
    }
    return SessionStats(relays, recorders)


def encode_error(exc: BaseException) -> RemoteError:
    name = next((c.__name__ for c in type(exc).__mro__ if c.__name__ in KNOWN_ERRORS), None)
    if name is None:
        return RemoteError(type(exc).__name__, str(exc))
    return RemoteError(name, str(exc))


def decode_error(error: RemoteError) -> Exception:
    cls = KNOWN_ERRORS.get(error.type)
    if cls is None:
        return WorkerError(f"{error.type}: {error.message}")
    return cls(error.message)


async def read_frame(reader: asyncio.StreamReader) -> object:
    """The next message; `asyncio.IncompleteReadError` when the other end is gone."""
    (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
    if size > MAX_FRAME:
        raise WorkerError(f"frame of {size} bytes is over the {MAX_FRAME} limit")
    return pickle.loads(await reader.readexactly(size))


def write_frame(writer: asyncio.StreamWriter, message: object) -> None:
    """Queue one message; a single `write()` so frames never interleave (callers drain)."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(HEADER.pack(len(data)) + data)
