"""The live room of one case (视频踏勘房间), as pure rules: messages in, effects out.

No I/O, no clock, no asyncio: the endpoint authenticates, asks the room what to do, and carries
out the returned effects (send, close, hand to the media side, report an event to the server).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from signaling.messages import (
    Answer,
    Candidate,
    ClientMessage,
    CloseCode,
    CurrentItem,
    CurrentItemChanged,
    ErrorCode,
    IceRestart,
    Join,
    Joined,
    Leave,
    LeftReason,
    Location,
    LocationReported,
    Mute,
    MuteChanged,
    Offer,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantKind,
    ParticipantLeft,
    Ping,
    Point,
    Pointed,
    RecordingChanged,
    RectificationRequested,
    ServerMessage,
    ServerPong,
    SnapshotRequest,
    SnapshotResultMessage,
    VerdictStored,
    VerdictValueName,
    error,
)

INSPECTORS_ONLY: frozenset[ParticipantKind] = frozenset({"inspector"})
APPLICANT_ONLY: frozenset[ParticipantKind] = frozenset({"applicant"})
# Who sends media (negotiates a peer connection): the applicant and the case's inspectors.
MEDIA_SENDERS: frozenset[ParticipantKind] = frozenset({"applicant", "inspector"})
# Who may send which message type; types not listed are open to every participant.
SENDERS: dict[str, frozenset[ParticipantKind]] = {
    "current_item": INSPECTORS_ONLY,
    "snapshot_request": INSPECTORS_ONLY,
    "point": INSPECTORS_ONLY,
    "location": APPLICANT_ONLY,
    "offer": MEDIA_SENDERS,
    "answer": MEDIA_SENDERS,
    "candidate": MEDIA_SENDERS,
    "ice_restart": MEDIA_SENDERS,
}
STAFF_KINDS: frozenset[ParticipantKind] = frozenset({"inspector", "observer"})
# An inspector's "show me here" taps, at most one per this many seconds (a tap, not a drag).
POINT_INTERVAL = 0.25

ConnId = str
MediaRequest = Offer | Answer | Candidate | IceRestart | SnapshotRequest


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a token belongs to, as the server's authenticator says."""

    participant_id: str
    kind: ParticipantKind
    display_name: str = ""
    case_id: str | None = None  # the one case an applicant's link opens; None for staff
    # STUN/TURN entries for this participant's RTCConfiguration (TURN credentials are minted
    # per join and expire), sent back only to them in ``joined``.
    ice_servers: tuple[dict[str, object], ...] = ()
    # The login (or link) that admitted this connection, so that ending one login ends only
    # the calls joined with it.
    credential: str | None = None


@dataclass(frozen=True, slots=True)
class Site:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class RoomFacts:
    """What the server knows about the case at join time.

    ``joinable``: the case's state lets a call be joined (the server decides, from its state
    machine; the room only applies it after the membership check).
    """

    case_id: str
    joinable: bool
    inspector_ids: frozenset[str]
    applicant_ids: frozenset[str] = frozenset()  # link ids; empty: any link of this case
    observer_ids: frozenset[str] = frozenset()
    site: Site | None = None


# --- effects ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    conn: ConnId
    message: ServerMessage


@dataclass(frozen=True, slots=True)
class Close:
    conn: ConnId
    code: CloseCode
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ToMedia:
    """Hand a negotiation or snapshot message to the media side for this participant.

    Carries who sends it (kind, name), so the media side needs no look-up of its own: the
    kind picks the media seat, the name goes on a snapshot's watermark.
    """

    participant_id: str
    conn: ConnId
    message: MediaRequest
    kind: ParticipantKind
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class MediaLeave:
    participant_id: str


@dataclass(frozen=True, slots=True)
class ParticipantEntered:
    case_id: str
    participant_id: str
    kind: ParticipantKind


@dataclass(frozen=True, slots=True)
class ParticipantExited:
    case_id: str
    participant_id: str
    kind: ParticipantKind
    reason: LeftReason


@dataclass(frozen=True, slots=True)
class ItemChanged:
    case_id: str
    item_id: str | None
    by: str


@dataclass(frozen=True, slots=True)
class LocationEvent:
    case_id: str
    participant_id: str
    latitude: float
    longitude: float
    accuracy_m: float | None


@dataclass(frozen=True, slots=True)
class RecordingSwitched:
    """The call's recording started or stopped (录像开始/停止)."""

    case_id: str
    on: bool


RoomEvent = ParticipantEntered | ParticipantExited | ItemChanged | LocationEvent | RecordingSwitched


@dataclass(frozen=True, slots=True)
class Emit:
    """An event the server persists (applicant joined, item changed, location, left)."""

    event: RoomEvent


@dataclass(frozen=True, slots=True)
class MediaRecording:
    """Tell the media side to record the call's tracks (``on``) or to stop recording."""

    on: bool


Effect = Send | Close | ToMedia | MediaLeave | MediaRecording | Emit


# --- rules -----------------------------------------------------------------------------------


def admission(identity: Identity, facts: RoomFacts) -> CloseCode | None:
    """None if ``identity`` may join the room of ``facts``; else the close code to refuse with.

    Membership is checked before the case state, so an outsider learns nothing about the case.
    """
    pid = identity.participant_id
    match identity.kind:
        case "inspector":
            member = pid in facts.inspector_ids
        case "applicant":
            member = identity.case_id == facts.case_id and (
                not facts.applicant_ids or pid in facts.applicant_ids
            )
        case "observer":
            member = pid in facts.observer_ids
    if not member:
        return CloseCode.policy
    if not facts.joinable:
        return CloseCode.not_joinable
    return None


@dataclass(slots=True)
class Member:
    identity: Identity
    conn: ConnId
    audio: bool = True
    video: bool = True
    offered: bool = False  # the client has sent its first offer
    server_offer_pending: bool = False  # the media side sent an offer awaiting an answer
    last_point: float | None = None  # when this inspector last pointed (the caller's clock)

    @property
    def info(self) -> ParticipantInfo:
        i = self.identity
        return ParticipantInfo(
            participant_id=i.participant_id,
            kind=i.kind,
            display_name=i.display_name,
            audio=self.audio,
            video=self.video,
        )


@dataclass
class Room:
    case_id: str
    members: dict[str, Member] = field(default_factory=dict)  # by participant id
    current_item: str | None = None
    current_item_by: str = ""
    last_location: LocationReported | None = None

    @property
    def empty(self) -> bool:
        return not self.members

    @property
    def recording(self) -> bool:
        """The call is recorded while the applicant and at least one inspector are both in:
        never while the applicant waits alone, nor while inspectors wait for the phone."""
        kinds = {m.identity.kind for m in self.members.values()}
        return {"applicant", "inspector"} <= kinds

    def member_at(self, conn: ConnId) -> Member | None:
        return next((m for m in self.members.values() if m.conn == conn), None)

    def conns(self, kinds: frozenset[ParticipantKind] | None = None) -> list[ConnId]:
        return [m.conn for m in self.members.values() if kinds is None or m.identity.kind in kinds]

    def send_to(
        self, message: ServerMessage, kinds: frozenset[ParticipantKind] | None = None
    ) -> list[Effect]:
        return [Send(c, message) for c in self.conns(kinds)]

    def _others(self, conn: ConnId, message: ServerMessage) -> list[Effect]:
        return [Send(m.conn, message) for m in self.members.values() if m.conn != conn]

    # join / leave ---------------------------------------------------------------------------

    def join(self, conn: ConnId, identity: Identity, facts: RoomFacts) -> list[Effect]:
        """Admit ``identity`` on ``conn``; a rejoin replaces (and closes) the older connection."""
        refused = admission(identity, facts)
        if refused is not None or facts.case_id != self.case_id:
            return [Close(conn, refused or CloseCode.policy, "not admitted")]
        was_recording = self.recording
        effects: list[Effect] = []
        pid = identity.participant_id
        old = self.members.get(pid)
        if old is not None:
            effects += [Close(old.conn, CloseCode.replaced, "replaced"), MediaLeave(pid)]
        member = Member(identity, conn)
        if old is not None:
            member.audio, member.video = old.audio, old.video
        self.members[pid] = member
        effects.append(Send(conn, self._replay(member)))
        if self.last_location is not None and identity.kind in STAFF_KINDS:
            effects.append(Send(conn, self.last_location))
        effects += self._others(conn, ParticipantJoined(participant=member.info))
        effects.append(Emit(ParticipantEntered(self.case_id, pid, identity.kind)))
        return effects + self._recording_since(was_recording, replayed=conn)

    def _replay(self, member: Member) -> Joined:
        return Joined(
            participant_id=member.identity.participant_id,
            kind=member.identity.kind,
            participants=[m.info for m in self.members.values()],
            current_item=self.current_item,
            ice_servers=list(member.identity.ice_servers),
            recording=self.recording,
        )

    def leave(self, conn: ConnId, reason: LeftReason) -> list[Effect]:
        """``conn`` is gone; nothing happens if it was already replaced by a newer one."""
        member = self.member_at(conn)
        if member is None:
            return []
        pid, kind = member.identity.participant_id, member.identity.kind
        was_recording = self.recording
        del self.members[pid]
        return [
            MediaLeave(pid),
            *self._others(conn, ParticipantLeft(participant_id=pid, reason=reason)),
            Emit(ParticipantExited(self.case_id, pid, kind, reason)),
            *self._recording_since(was_recording),
        ]

    def _recording_since(self, was_recording: bool, replayed: ConnId | None = None) -> list[Effect]:
        """Start or stop recording when the last join or leave changed whether it is due;
        everyone is told (a joiner, ``replayed``, already read it in its ``joined``)."""
        on = self.recording
        if on == was_recording:
            return []
        told = [Send(c, RecordingChanged(on=on)) for c in self.conns() if c != replayed]
        return [MediaRecording(on), *told, Emit(RecordingSwitched(self.case_id, on))]

    def server_offered(self, participant_id: str) -> None:
        """The media side sent this participant an offer; their answer is now in order."""
        member = self.members.get(participant_id)
        if member is not None:
            member.server_offer_pending = True

    # messages -------------------------------------------------------------------------------

    def receive(self, conn: ConnId, message: ClientMessage, now: float = 0.0) -> list[Effect]:
        """What to do with a parsed message from ``conn`` (``join`` is the endpoint's job).

        ``now`` is the caller's monotonic clock in seconds, for the rules that pace a sender.
        """
        member = self.member_at(conn)
        if member is None:
            if isinstance(message, Ping):
                return [Send(conn, ServerPong())]
            return [Send(conn, error(ErrorCode.not_joined, about=message.type))]
        allowed = SENDERS.get(message.type)
        if allowed is not None and member.identity.kind not in allowed:
            return [Send(conn, error(ErrorCode.forbidden, about=message.type))]
        return self._dispatch(member, message, now)

    def _dispatch(self, member: Member, message: ClientMessage, now: float) -> list[Effect]:
        conn, pid = member.conn, member.identity.participant_id
        match message:
            case Join():
                return [Send(conn, error(ErrorCode.already_joined, about="join"))]
            case Ping():
                return [Send(conn, ServerPong())]
            case Leave():
                return [*self.leave(conn, "left"), Close(conn, CloseCode.normal, "left")]
            case Mute(audio=audio, video=video):
                member.audio, member.video = audio, video
                changed = MuteChanged(participant_id=pid, audio=audio, video=video)
                return self._others(conn, changed)
            case CurrentItem(item_id=item_id):
                return self._set_item(pid, item_id)
            case Location():
                return self._located(pid, message)
            case Point():
                return self._point(member, message, now)
            case Offer() | Answer() | Candidate() | IceRestart() | SnapshotRequest():
                return self._negotiate(member, message)
        return []  # pong: liveness only

    def _set_item(self, pid: str, item_id: str | None) -> list[Effect]:
        if item_id == self.current_item:
            return []
        self.current_item, self.current_item_by = item_id, pid
        changed = CurrentItemChanged(item_id=item_id, by=pid)
        return [*self.send_to(changed), Emit(ItemChanged(self.case_id, item_id, pid))]

    def _located(self, pid: str, message: Location) -> list[Effect]:
        reported = LocationReported(
            participant_id=pid,
            latitude=message.latitude,
            longitude=message.longitude,
            accuracy_m=message.accuracy_m,
        )
        self.last_location = reported
        event = LocationEvent(
            self.case_id, pid, message.latitude, message.longitude, message.accuracy_m
        )
        return [*self.send_to(reported, STAFF_KINDS), Emit(event)]

    def _point(self, member: Member, message: Point, now: float) -> list[Effect]:
        """Show the applicant the spot an inspector points at, one tap per POINT_INTERVAL."""
        conn = member.conn
        last = member.last_point
        if last is not None and now - last < POINT_INTERVAL:
            return [Send(conn, error(ErrorCode.rate_limited, about=message.type))]
        if not self.conns(APPLICANT_ONLY):
            return [Send(conn, error(ErrorCode.applicant_absent, about=message.type))]
        member.last_point = now
        pointed = Pointed(x=message.x, y=message.y, by=member.identity.participant_id)
        return self.send_to(pointed, APPLICANT_ONLY)

    def _negotiate(self, member: Member, message: MediaRequest) -> list[Effect]:
        conn, pid = member.conn, member.identity.participant_id
        out_of_order: list[Effect] = [Send(conn, error(ErrorCode.out_of_order, about=message.type))]
        match message:
            case Offer():
                member.offered = True
            case Candidate() | IceRestart() if not member.offered:
                return out_of_order
            case Answer():
                if not member.server_offer_pending:
                    return out_of_order
                member.server_offer_pending = False
            case SnapshotRequest():
                if not self.conns(APPLICANT_ONLY):
                    return [Send(conn, error(ErrorCode.applicant_absent, about=message.type))]
        identity = member.identity
        return [ToMedia(pid, conn, message, identity.kind, identity.display_name)]

    def snapshot_taken(
        self,
        request: SnapshotRequest,
        requested_by: str,
        *,
        ok: bool,
        snapshot_id: str | None = None,
        failure: str | None = None,
    ) -> list[Effect]:
        """The media side answered ``request``: every inspector sees the outcome."""
        result = SnapshotResultMessage(
            request_id=request.request_id,
            requested_by=requested_by,
            item_id=request.item_id,
            ok=ok,
            snapshot_id=snapshot_id,
            error=failure,
        )
        return self.send_to(result, INSPECTORS_ONLY)

    # news from the server (stored, committed) ------------------------------------------------

    def verdict_stored(
        self, item_id: str, inspector_id: str, value: VerdictValueName
    ) -> list[Effect]:
        """A verdict was stored: every staff member in the call sees it (not the applicant)."""
        stored = VerdictStored(item_id=item_id, inspector_id=inspector_id, value=value)
        return self.send_to(stored, STAFF_KINDS)

    def rectification_requested(
        self, items: list[str], deadline: str, *, end_call: bool
    ) -> list[Effect]:
        """A rectification request was stored: everyone is told at once; with ``end_call`` the
        call then ends for all (their sockets close after the message, so none reconnects)."""
        told = RectificationRequested(items=items, deadline=deadline, call_ends=end_call)
        effects = self.send_to(told)
        if end_call:
            effects += [Close(c, CloseCode.call_ended, "call ended") for c in self.conns()]
        return effects
