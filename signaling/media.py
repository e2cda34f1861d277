"""What signaling needs from the media side (``media/``), as structural protocols.

The topology is a star: each participant has one peer connection with the server, so offers
and answers go between a participant and the server's ``RoomMedia`` for the case. ``media``
must not import ``signaling``; its classes satisfy these protocols by shape, and ``server`` wires
a factory in. Arguments are plain values for that reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from signaling.messages import ParticipantKind


class MediaError(Exception):
    """The media side refuses a request (bad SDP, unknown participant…); the client is told."""


class SnapshotOutcome(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def snapshot_id(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...


class SignalChannel(Protocol):
    """How the media side reaches one participant's browser (renegotiation, trickle ICE)."""

    def send_offer(self, participant_id: str, sdp: str) -> None: ...

    def send_candidate(
        self,
        participant_id: str,
        candidate: str | None,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None: ...


class RoomMedia(Protocol):
    """The server's media side of one case room."""

    async def handle_offer(self, participant_id: str, kind: ParticipantKind, sdp: str) -> str:
        """Apply the participant's offer; return the server's answer SDP.

        ``kind`` (applicant or inspector: the room lets no one else send media) picks the seat.
        """
        ...

    async def handle_answer(self, participant_id: str, sdp: str) -> None:
        """Apply the participant's answer to an offer the server sent."""
        ...

    async def add_ice_candidate(
        self,
        participant_id: str,
        candidate: str | None,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None: ...

    async def ice_restart(self, participant_id: str, kind: ParticipantKind, sdp: str) -> str:
        """Apply an ICE-restart offer (network changed); return the answer SDP."""
        ...

    async def snapshot(
        self, requested_by: str, requester_name: str, item_id: str | None
    ) -> SnapshotOutcome:
        """Take a full-resolution frame of the applicant's camera for ``item_id``.

        ``requester_name`` is the inspector's display name, for the watermark.
        """
        ...

    async def set_recording(self, on: bool) -> None:
        """Record the room's tracks from now on (``on``), or stop recording them.

        The room decides (``Room.recording``); a media side opened later asks the room.
        """
        ...

    async def leave(self, participant_id: str) -> None:
        """The participant is gone (left, timed out or replaced): drop its peer connection."""
        ...

    async def close(self) -> None:
        """The room is empty: release everything."""
        ...


MediaFactory = Callable[[str, SignalChannel], RoomMedia]
"""``(case_id, channel) → RoomMedia``; called when the first participant joins a room."""
