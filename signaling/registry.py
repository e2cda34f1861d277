"""The live rooms of one app: built per app and kept on ``app.state`` (never module-level)."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from signaling.bus import Bus, LocalBus
from signaling.media import MediaFactory, RoomMedia
from signaling.messages import CloseCode, ServerCandidate, ServerOffer
from signaling.room import Close, Effect, Identity, Room, Send

log = logging.getLogger(__name__)


@dataclass
class _RoomChannel:
    """The ``SignalChannel`` a room's media session uses to reach its participants."""

    room: Room
    bus: Bus

    def send_offer(self, participant_id: str, sdp: str) -> None:
        member = self.room.members.get(participant_id)
        if member is not None:
            self.room.server_offered(participant_id)
            self.bus.deliver(member.conn, ServerOffer(sdp=sdp))

    def send_candidate(
        self,
        participant_id: str,
        candidate: str | None,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None:
        member = self.room.members.get(participant_id)
        if member is not None:
            message = ServerCandidate(
                candidate=candidate, sdp_mid=sdp_mid, sdp_mline_index=sdp_mline_index
            )
            self.bus.deliver(member.conn, message)


ENDED_MEMORY = 60.0  # seconds a kick is remembered for joins that were being checked


@dataclass(frozen=True, slots=True)
class _Ended:
    at: float
    participant_id: str
    credential: str | None


class Registry:
    """Rooms by case id, their media sessions, and the bus that reaches connections."""

    def __init__(self, media_factory: MediaFactory, bus: Bus | None = None) -> None:
        self.bus: Bus = bus or LocalBus()
        self._media_factory = media_factory
        self._rooms: dict[str, Room] = {}
        self._media: dict[str, RoomMedia] = {}
        self._ids = itertools.count(1)
        self._ended: list[_Ended] = []

    def new_conn(self) -> str:
        return f"c{next(self._ids)}"

    def room(self, case_id: str) -> Room:
        room = self._rooms.get(case_id)
        if room is None:
            room = self._rooms[case_id] = Room(case_id)
        return room

    def existing_room(self, case_id: str) -> Room | None:
        return self._rooms.get(case_id)

    def media(self, case_id: str) -> RoomMedia:
        session = self._media.get(case_id)
        if session is None:
            channel = _RoomChannel(self.room(case_id), self.bus)
            session = self._media[case_id] = self._media_factory(case_id, channel)
        return session

    def existing_media(self, case_id: str) -> RoomMedia | None:
        return self._media.get(case_id)

    def release_if_empty(self, case_id: str) -> RoomMedia | None:
        """Forget an empty room; returns its media session for the caller to close."""
        room = self._rooms.get(case_id)
        if room is None or not room.empty:
            return None
        del self._rooms[case_id]
        return self._media.pop(case_id, None)

    async def close_all(self) -> int:
        """On shutdown: close every media session so each finishes and stores its recording.

        A session that fails to close is logged and does not stop the others.
        """
        sessions, self._media = list(self._media.values()), {}
        for session in sessions:
            try:
                await session.close()
            except Exception:
                log.exception("media session failed to close")
        return len(sessions)

    def kick(
        self,
        participant_id: str,
        *,
        credential: str | None = None,
        code: CloseCode = CloseCode.policy,
    ) -> int:
        """Close a participant's live connections (logout, disable, role change, revoked link).

        With ``credential``, only those joined with that login; closing a socket ends its
        media too (the endpoint's clean-up leaves the media session).
        """
        now = time.monotonic()
        self._ended = [e for e in self._ended if now - e.at < ENDED_MEMORY]
        self._ended.append(_Ended(now, participant_id, credential))
        closed = 0
        for room in self._rooms.values():
            member = room.members.get(participant_id)
            if member is None or credential not in (None, member.identity.credential):
                continue
            self.bus.close(member.conn, code, "access ended")
            closed += 1
        return closed

    def ended_since(self, identity: Identity, since: float) -> bool:
        """Was ``identity``'s access ended at or after ``since`` (``time.monotonic()``)?

        A join whose token was checked just before a logout committed must not slip into the
        room after the kick found nobody to close.
        """
        return any(
            e.at >= since
            and e.participant_id == identity.participant_id
            and e.credential in (None, identity.credential)
            for e in self._ended
        )

    def announce(self, case_id: str, decide: Callable[[Room], list[Effect]]) -> int:
        """Carry out what the case's live room decides about news from the server (a stored
        verdict, a rectification request); no room, nothing to do. Returns the messages sent.

        Only sends and closes: a closed socket's own clean-up leaves the room and the media.
        """
        room = self._rooms.get(case_id)
        if room is None:
            return 0
        sent = 0
        for effect in decide(room):
            match effect:
                case Send(conn, message):
                    self.bus.deliver(conn, message)
                    sent += 1
                case Close(conn, code, reason):
                    self.bus.close(conn, code, reason)
        return sent

    @property
    def rooms(self) -> dict[str, Room]:
        return dict(self._rooms)
