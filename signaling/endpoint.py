"""The WebSocket endpoint ``/ws/cases/{case_id}``: auth by the first message, then the room.

One reader (limits, parsing, the room's rules), one writer (the outbox), one pinger per socket.
The token comes in the ``join`` message, never the URL, so it stays out of access logs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from signaling.admission import AdmissionFactory, Verdict
from signaling.bus import CloseRequest, Outbox
from signaling.media import MediaError, RoomMedia
from signaling.messages import (
    MAX_FRAME_BYTES,
    Answer,
    Candidate,
    ClientMessage,
    CloseCode,
    Error,
    ErrorCode,
    IceRestart,
    Join,
    LeftReason,
    Offer,
    ProtocolError,
    ServerAnswer,
    ServerPing,
    SnapshotRequest,
    error,
    parse_client,
)
from signaling.registry import Registry
from signaling.room import (
    Close,
    Effect,
    Emit,
    Identity,
    MediaLeave,
    MediaRecording,
    Room,
    RoomEvent,
    RoomFacts,
    Send,
    ToMedia,
)

log = logging.getLogger(__name__)

MAX_CASE_ID = 64


class AuthenticationFailed(Exception):
    """The join token is unknown, expired or revoked (close 4401)."""


Authenticator = Callable[[str], Awaitable[Identity]]
"""``token → Identity``; raises ``AuthenticationFailed``."""
FactsLookup = Callable[[str], Awaitable[RoomFacts | None]]
"""``case_id → RoomFacts``, or None when there is no such case."""
EventSink = Callable[[RoomEvent, datetime], asyncio.Future[None]]
"""Persists what happened in a room (applicant joined, current item, location, left).

Called without awaiting, it has already started the write, which must finish even if the
returned future is cancelled (the connection that asked was replaced or closed meanwhile).
"""


@dataclass(frozen=True, slots=True)
class Timing:
    join_timeout: float = 10.0  # seconds to send ``join`` after connecting
    ping_interval: float = 5.0  # the server sends ``ping``; any frame counts as an answer
    idle_timeout: float = 15.0  # silent this long: dropped, others told ``timeout``
    call_timeout: float = 15.0  # a media or persistence call that takes longer fails


@dataclass(frozen=True, slots=True)
class SignalingDeps:
    authenticate: Authenticator
    room_facts: FactsLookup
    on_event: EventSink
    registry: Registry
    admission: AdmissionFactory  # each connection's flood limit, asked about every frame
    timing: Timing = field(default_factory=Timing)


def make_router(deps: SignalingDeps) -> APIRouter:
    router = APIRouter()

    @router.websocket("/ws/cases/{case_id}")
    async def case_room(websocket: WebSocket, case_id: str) -> None:
        await serve(websocket, case_id, deps)

    return router


async def serve(websocket: WebSocket, case_id: str, deps: SignalingDeps) -> None:
    await websocket.accept()
    if not 0 < len(case_id) <= MAX_CASE_ID:
        await websocket.close(CloseCode.policy, "bad case id")
        return
    await _Connection(websocket, case_id, deps).run()


class _Stop(Exception):
    """The reader is done with this socket."""


class _Connection:
    def __init__(self, websocket: WebSocket, case_id: str, deps: SignalingDeps) -> None:
        self.ws, self.case_id, self.deps = websocket, case_id, deps
        self.registry = deps.registry
        self.conn = self.registry.new_conn()
        self.outbox: Outbox = self.registry.bus.open(self.conn)
        self.admission = deps.admission()
        self.room: Room | None = None
        self.reason: LeftReason = "closed"

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._write()),
            asyncio.create_task(self._read()),
            asyncio.create_task(self._ping()),
        ]
        writer, reader = tasks[0], tasks[1]
        try:
            await asyncio.wait([writer, reader], return_when=asyncio.FIRST_COMPLETED)
            if reader.done() and self.outbox.closing is not None:
                # let the writer flush what is queued and the close frame
                await asyncio.wait([writer], timeout=self.deps.timing.call_timeout)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._cleanup()

    async def _cleanup(self) -> None:
        try:
            if self.room is not None:
                await self._apply(self.room.leave(self.conn, self.reason))
                media = self.registry.release_if_empty(self.case_id)
                if media is not None:
                    await self._call(media.close())
        finally:
            self.registry.bus.release(self.conn)

    # writer / pinger ------------------------------------------------------------------------

    async def _write(self) -> None:
        try:
            while True:
                item = await self.outbox.next()
                if isinstance(item, CloseRequest):
                    await self.ws.close(item.code, item.reason)
                    return
                await self.ws.send_text(item)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the client is gone; the reader notices too

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(self.deps.timing.ping_interval)
            self.registry.bus.deliver(self.conn, ServerPing())

    # reader ---------------------------------------------------------------------------------

    async def _read(self) -> None:
        timing = self.deps.timing
        deadline = time.monotonic() + timing.join_timeout
        try:
            while self.outbox.closing is None:
                joined = self.room is not None and self.room.member_at(self.conn) is not None
                wait = timing.idle_timeout if joined else deadline - time.monotonic()
                text = await self._receive(max(wait, 0.0), joined)
                await self._frame(text)
        except _Stop:
            return

    def _close(self, code: CloseCode, reason: str) -> None:
        self.registry.bus.close(self.conn, code, reason)

    async def _receive(self, wait: float, joined: bool) -> str | None:
        try:
            frame = await asyncio.wait_for(self.ws.receive(), timeout=wait)
        except TimeoutError:
            self.reason = "timeout"
            self._close(CloseCode.timeout, "silent" if joined else "no join")
            raise _Stop from None
        except (WebSocketDisconnect, RuntimeError, OSError):
            raise _Stop from None
        if frame["type"] == "websocket.disconnect":
            raise _Stop
        text, data = frame.get("text"), frame.get("bytes")
        size = len(text.encode()) if text is not None else len(data or b"")
        if size > MAX_FRAME_BYTES:
            self._close(CloseCode.too_big, "frame too big")
            raise _Stop
        return text

    async def _frame(self, text: str | None) -> None:
        verdict = self.admission.admit(time.monotonic())
        if verdict is Verdict.close:
            self._close(CloseCode.policy, "rate limit")
            raise _Stop
        if verdict is not Verdict.ok:
            if verdict is Verdict.throttle:
                self._send_error(error(ErrorCode.rate_limited))
            return
        try:
            if text is None:
                raise ProtocolError(ErrorCode.bad_json, "binary frames are not accepted")
            message = parse_client(text)
        except ProtocolError as exc:
            self._send_error(error(exc.code, detail=exc.detail))
            return
        await self._message(message)

    def _send_error(self, message: Error) -> None:
        self.registry.bus.deliver(self.conn, message)

    async def _message(self, message: ClientMessage) -> None:
        if isinstance(message, Join) and (
            self.room is None or self.room.member_at(self.conn) is None
        ):
            await self._join(message)
            return
        # Before joining, an empty room answers: "join first" (or a pong).
        room = self.room or Room(self.case_id)
        await self._apply(room.receive(self.conn, message, time.monotonic()))

    async def _join(self, message: Join) -> None:
        asked = time.monotonic()
        try:
            identity = await self.deps.authenticate(message.token)
        except AuthenticationFailed:
            self._close(CloseCode.bad_token, "bad token")
            raise _Stop from None
        facts = await self.deps.room_facts(self.case_id)
        if facts is None:
            self._close(CloseCode.policy, "not admitted")
            raise _Stop
        if self.registry.ended_since(identity, asked):  # logged out while we checked
            self._close(CloseCode.policy, "access ended")
            raise _Stop
        room = self.registry.room(self.case_id)
        effects = room.join(self.conn, identity, facts)
        if room.member_at(self.conn) is None:
            self.registry.release_if_empty(self.case_id)
        else:
            self.room = room
        await self._apply(effects)

    # effects --------------------------------------------------------------------------------

    async def _apply(self, effects: list[Effect]) -> None:
        # Every event is handed over before the first await below: a cancellation at any of
        # them (a rejoin replacing this connection) must not drop what the room decided.
        now = datetime.now(UTC)
        persisting = {
            id(e): self.deps.on_event(e.event, now) for e in effects if isinstance(e, Emit)
        }
        for effect in effects:
            match effect:
                case Send(conn, message):
                    self.registry.bus.deliver(conn, message)
                case Close(conn, code, reason):
                    self.registry.bus.close(conn, code, reason)
                case ToMedia():
                    await self._to_media(effect)
                case MediaLeave(participant_id):
                    media = self.registry.existing_media(self.case_id)
                    if media is not None:  # no session yet: nobody negotiated
                        await self._call(media.leave(participant_id))
                case MediaRecording(on):
                    media = self.registry.existing_media(self.case_id)
                    if media is not None:  # else it reads the room's rule when it opens
                        await self._call(media.set_recording(on))
                case Emit():
                    await self._call(persisting[id(effect)])

    async def _call(self, awaitable: Awaitable[object]) -> bool:
        """Await a media or persistence call; a failure is logged, never fatal to the socket."""
        try:
            await asyncio.wait_for(awaitable, timeout=self.deps.timing.call_timeout)
        except Exception:
            log.exception("signaling call failed", extra={"case_id": self.case_id})
            return False
        return True

    async def _to_media(self, effect: ToMedia) -> None:
        media = self.registry.media(self.case_id)
        try:
            effects = await asyncio.wait_for(
                self._negotiate(media, effect), timeout=self.deps.timing.call_timeout
            )
        except (MediaError, TimeoutError) as exc:
            failed = error(ErrorCode.media_error, detail=str(exc)[:200], about=effect.message.type)
            self.registry.bus.deliver(effect.conn, failed)
            return
        except Exception:
            log.exception("media side failed", extra={"case_id": self.case_id})
            failed = error(ErrorCode.media_error, about=effect.message.type)
            self.registry.bus.deliver(effect.conn, failed)
            return
        await self._apply(effects)

    async def _negotiate(self, media: RoomMedia, effect: ToMedia) -> list[Effect]:
        """Carry ``effect`` out on the media side; returns what the room makes of the outcome."""
        pid, kind, bus = effect.participant_id, effect.kind, self.registry.bus
        match effect.message:
            case Offer(sdp=sdp):
                answer = await media.handle_offer(pid, kind, sdp)
                bus.deliver(effect.conn, ServerAnswer(sdp=answer))
            case IceRestart(sdp=sdp):
                answer = await media.ice_restart(pid, kind, sdp)
                bus.deliver(effect.conn, ServerAnswer(sdp=answer))
            case Answer(sdp=sdp):
                await media.handle_answer(pid, sdp)
            case Candidate(candidate=c, sdp_mid=mid, sdp_mline_index=index):
                await media.add_ice_candidate(pid, c, mid, index)
            case SnapshotRequest(item_id=item_id) as request:
                outcome = await media.snapshot(pid, effect.display_name, item_id)
                if self.room is not None:
                    return self.room.snapshot_taken(
                        request,
                        pid,
                        ok=outcome.ok,
                        snapshot_id=outcome.snapshot_id,
                        failure=outcome.error,
                    )
        return []
