"""The signaling protocol: typed JSON messages on ``/ws/cases/{case_id}``, one per text frame.

Every frame is an object with a ``type``. Client → server: ``join`` (first, with a staff or
applicant-link token), ``offer``/``answer``/``candidate``/``ice_restart`` (with the server's
media side: the topology is a star, one peer connection per participant), ``mute``,
``current_item``, ``snapshot_request`` and ``point`` (inspectors), ``location`` (the applicant),
``ping``, ``pong``, ``leave``. The server tells everyone whether the call is being recorded
(``recording``) and shows the applicant where an inspector points (``point``). Anything
malformed becomes a ``ProtocolError`` that the endpoint answers with an ``error`` message
(zh + en) or, where noted in ``CloseCode``, a close.
"""

from __future__ import annotations

import json
from enum import IntEnum, StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_FRAME_BYTES = 64 * 1024  # room for a full SDP with many candidates
MAX_SDP = 60 * 1024
MAX_ID = 64


class CloseCode(IntEnum):
    normal = 1000  # the participant left
    policy = 1008  # not a participant of this case, or rate limit abused
    too_big = 1009  # a frame larger than MAX_FRAME_BYTES
    internal = 1011  # a bug on our side; the client may rejoin
    replaced = 4001  # the same participant joined again from a newer connection
    not_joinable = 4003  # the case is not scheduled or in progress
    timeout = 4008  # no join in time, or silent for too long
    call_ended = 4010  # the lead ended the call for everyone (a rectification request)
    bad_token = 4401  # the token is unknown, expired or revoked


class ErrorCode(StrEnum):
    bad_json = "bad_json"
    unknown_type = "unknown_type"
    invalid = "invalid"
    not_joined = "not_joined"
    already_joined = "already_joined"
    forbidden = "forbidden"
    out_of_order = "out_of_order"
    rate_limited = "rate_limited"
    applicant_absent = "applicant_absent"
    media_error = "media_error"


ERROR_TEXTS: dict[ErrorCode, tuple[str, str]] = {
    ErrorCode.bad_json: ("消息不是有效的 JSON 对象。", "The message is not a valid JSON object."),
    ErrorCode.unknown_type: ("未知的消息类型。", "Unknown message type."),
    ErrorCode.invalid: ("消息内容不符合协议。", "The message does not match the protocol."),
    ErrorCode.not_joined: ("请先加入房间。", "Join the room first."),
    ErrorCode.already_joined: ("您已在房间中。", "You have already joined."),
    ErrorCode.forbidden: ("您的身份不能发送此消息。", "Your role may not send this message."),
    ErrorCode.out_of_order: ("消息顺序不正确。", "This message came out of order."),
    ErrorCode.rate_limited: ("发送过于频繁，请稍后再试。", "Too many messages; slow down."),
    ErrorCode.applicant_absent: ("申请人尚未连线。", "The applicant is not connected."),
    ErrorCode.media_error: ("音视频服务处理失败。", "The media service could not do this."),
}


class ProtocolError(Exception):
    """A message we refuse; rendered as an ``error`` message, never a crash."""

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        super().__init__(f"{code.value}: {detail}" if detail else code.value)
        self.code = code
        self.detail = detail


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Id = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
Sdp = Annotated[str, Field(min_length=1, max_length=MAX_SDP)]


# --- client → server -------------------------------------------------------------------------


class Join(_Message):
    type: Literal["join"] = "join"
    token: Annotated[str, Field(min_length=1, max_length=512)]


class Offer(_Message):
    type: Literal["offer"] = "offer"
    sdp: Sdp


class Answer(_Message):
    type: Literal["answer"] = "answer"
    sdp: Sdp


class Candidate(_Message):
    """A trickled ICE candidate; ``candidate`` null means the end of candidates."""

    type: Literal["candidate"] = "candidate"
    candidate: Annotated[str, Field(max_length=1024)] | None
    sdp_mid: Annotated[str, Field(max_length=MAX_ID)] | None = None
    sdp_mline_index: Annotated[int, Field(ge=0, le=64)] | None = None


class IceRestart(_Message):
    """A new offer made with ``iceRestart: true`` (network changed); answered like an offer."""

    type: Literal["ice_restart"] = "ice_restart"
    sdp: Sdp


class Mute(_Message):
    type: Literal["mute"] = "mute"
    audio: bool
    video: bool


class CurrentItem(_Message):
    """Now inspecting checklist item X (正在核查); null clears it. Inspectors only."""

    type: Literal["current_item"] = "current_item"
    item_id: Annotated[str, Field(min_length=1, max_length=16)] | None


class SnapshotRequest(_Message):
    """Take a full-resolution photo from the applicant's camera. Inspectors only."""

    type: Literal["snapshot_request"] = "snapshot_request"
    request_id: Id
    item_id: Annotated[str, Field(min_length=1, max_length=16)] | None = None


class Location(_Message):
    """Where the applicant's phone is; the applicant only."""

    type: Literal["location"] = "location"
    latitude: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    longitude: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    accuracy_m: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = None


Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)]


class Point(_Message):
    """ "Show me here": a spot of the applicant's picture, 0..1 from its left and top edges.

    Inspectors only; the applicant's phone shows a marker there for a few seconds.
    """

    type: Literal["point"] = "point"
    x: Fraction
    y: Fraction


class Ping(_Message):
    type: Literal["ping"] = "ping"


class Pong(_Message):
    type: Literal["pong"] = "pong"


class Leave(_Message):
    type: Literal["leave"] = "leave"


ClientMessage = Annotated[
    Join
    | Offer
    | Answer
    | Candidate
    | IceRestart
    | Mute
    | CurrentItem
    | SnapshotRequest
    | Location
    | Point
    | Ping
    | Pong
    | Leave,
    Field(discriminator="type"),
]
_CLIENT: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
CLIENT_TYPES = frozenset(
    {
        "join",
        "offer",
        "answer",
        "candidate",
        "ice_restart",
        "mute",
        "current_item",
        "snapshot_request",
        "location",
        "point",
        "ping",
        "pong",
        "leave",
    }
)


def parse_client(text: str) -> ClientMessage:
    """One frame's text → a typed message, or ``ProtocolError`` saying what is wrong."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.bad_json) from None
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.bad_json)
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        raise ProtocolError(ErrorCode.unknown_type, str(kind)[:MAX_ID])
    try:
        return _CLIENT.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"][1:])
        raise ProtocolError(ErrorCode.invalid, f"{where}: {first['msg']}"[:200]) from None


# --- server → client -------------------------------------------------------------------------

ParticipantKind = Literal["inspector", "applicant", "observer"]
LeftReason = Literal["left", "timeout", "closed"]


class ParticipantInfo(_Message):
    participant_id: str
    kind: ParticipantKind
    display_name: str
    audio: bool = True
    video: bool = True


class Joined(_Message):
    """Sent to a participant once admitted: who they are and the room's state (replay)."""

    type: Literal["joined"] = "joined"
    participant_id: str
    kind: ParticipantKind
    participants: list[ParticipantInfo]
    current_item: str | None
    ice_servers: list[dict[str, object]] = Field(default_factory=list)
    recording: bool = False


class ParticipantJoined(_Message):
    type: Literal["participant_joined"] = "participant_joined"
    participant: ParticipantInfo


class ParticipantLeft(_Message):
    type: Literal["participant_left"] = "participant_left"
    participant_id: str
    reason: LeftReason


class MuteChanged(_Message):
    type: Literal["mute_changed"] = "mute_changed"
    participant_id: str
    audio: bool
    video: bool


class CurrentItemChanged(_Message):
    type: Literal["current_item_changed"] = "current_item_changed"
    item_id: str | None
    by: str


class LocationReported(_Message):
    type: Literal["location_reported"] = "location_reported"
    participant_id: str
    latitude: float
    longitude: float
    accuracy_m: float | None


class RecordingChanged(_Message):
    """The call is now recorded (录像中) or no longer: it is while an inspector and the
    applicant are both in the room."""

    type: Literal["recording"] = "recording"
    on: bool


class Pointed(_Message):
    """Where an inspector points on the applicant's picture (sent to the applicant)."""

    type: Literal["point"] = "point"
    x: float
    y: float
    by: str


VerdictValueName = Literal["pass", "fail", "not_applicable", "unclear"]


class VerdictStored(_Message):
    """An inspector's verdict was stored (committed): the consoles in the call show it at once.

    Sent by the server only, to staff; a client that sends it gets ``unknown_type``.
    """

    type: Literal["verdict_stored"] = "verdict_stored"
    item_id: Annotated[str, Field(min_length=1, max_length=16)]
    inspector_id: Id
    value: VerdictValueName


class RectificationRequested(_Message):
    """The lead asked the applicant to rectify ``items`` by ``deadline`` (补齐补正), stored.

    ``call_ends``: the lead ended the call for everyone with this message (each connection is
    then closed with ``CloseCode.call_ended``); otherwise the call stays open.
    """

    type: Literal["rectification_requested"] = "rectification_requested"
    items: Annotated[list[Annotated[str, Field(min_length=1, max_length=16)]], Field(min_length=1)]
    deadline: str  # ISO 8601 with offset; the pages show it in Beijing time
    call_ends: bool


class ServerOffer(_Message):
    """An offer from the media side (renegotiation: a new track to receive)."""

    type: Literal["offer"] = "offer"
    sdp: str


class ServerAnswer(_Message):
    type: Literal["answer"] = "answer"
    sdp: str


class ServerCandidate(_Message):
    type: Literal["candidate"] = "candidate"
    candidate: str | None
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None


class SnapshotResultMessage(_Message):
    type: Literal["snapshot_result"] = "snapshot_result"
    request_id: str
    requested_by: str
    item_id: str | None
    ok: bool
    snapshot_id: str | None = None
    error: str | None = None


class ServerPing(_Message):
    type: Literal["ping"] = "ping"


class ServerPong(_Message):
    type: Literal["pong"] = "pong"


class Error(_Message):
    type: Literal["error"] = "error"
    code: ErrorCode
    message_zh: str
    message_en: str
    detail: str = ""
    about: str = ""  # the type of the message refused, when known


ServerMessage = (
    Joined
    | ParticipantJoined
    | ParticipantLeft
    | MuteChanged
    | CurrentItemChanged
    | LocationReported
    | RecordingChanged
    | Pointed
    | VerdictStored
    | RectificationRequested
    | ServerOffer
    | ServerAnswer
    | ServerCandidate
    | SnapshotResultMessage
    | ServerPing
    | ServerPong
    | Error
)


def error(code: ErrorCode, *, detail: str = "", about: str = "") -> Error:
    zh, en = ERROR_TEXTS[code]
    return Error(code=code, message_zh=zh, message_en=en, detail=detail, about=about)


def dump(message: ServerMessage) -> str:
    return message.model_dump_json()
