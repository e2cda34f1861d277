"""A test double of the media side: answers with a fixed SDP (tests/signaling, tests/live)."""

from __future__ import annotations

from dataclasses import dataclass, field

from signaling.media import MediaError, SignalChannel

FAKE_ANSWER_SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=fake-media-answer\r\nt=0 0\r\n"


@dataclass(frozen=True, slots=True)
class FakeSnapshot:
    ok: bool
    snapshot_id: str | None = None
    error: str | None = None


@dataclass
class FakeRoomMedia:
    """Records calls; ``fail_offers`` makes ``handle_offer`` refuse, as bad SDP would."""

    case_id: str
    channel: SignalChannel
    fail_offers: bool = False
    calls: list[tuple[str, str]] = field(default_factory=list)
    closed: bool = False
    recording: list[bool] = field(default_factory=list)  # each set_recording, in order

    async def handle_offer(self, participant_id: str, kind: str, sdp: str) -> str:
        self.calls.append(("offer", participant_id))
        if self.fail_offers or not sdp.startswith("v=0"):
            raise MediaError("not an SDP offer")
        return FAKE_ANSWER_SDP

    async def handle_answer(self, participant_id: str, sdp: str) -> None:
        self.calls.append(("answer", participant_id))

    async def add_ice_candidate(
        self,
        participant_id: str,
        candidate: str | None,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None:
        self.calls.append(("candidate", participant_id))

    async def ice_restart(self, participant_id: str, kind: str, sdp: str) -> str:
        self.calls.append(("ice_restart", participant_id))
        return FAKE_ANSWER_SDP

    async def snapshot(
        self, requested_by: str, requester_name: str, item_id: str | None
    ) -> FakeSnapshot:
        self.calls.append(("snapshot", requested_by))
        return FakeSnapshot(ok=True, snapshot_id=f"snap-{len(self.calls)}")

    async def set_recording(self, on: bool) -> None:
        self.recording.append(on)

    async def leave(self, participant_id: str) -> None:
        self.calls.append(("leave", participant_id))

    async def close(self) -> None:
        self.closed = True


@dataclass
class FakeMediaFactory:
    """Builds ``FakeRoomMedia``s and keeps them so a test can look at the calls."""

    fail_offers: bool = False
    sessions: dict[str, FakeRoomMedia] = field(default_factory=dict)

    def __call__(self, case_id: str, channel: SignalChannel) -> FakeRoomMedia:
        session = FakeRoomMedia(case_id, channel, fail_offers=self.fail_offers)
        self.sessions[case_id] = session
        return session
