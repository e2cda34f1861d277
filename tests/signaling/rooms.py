"""The room every room test starts from: one case, its two inspectors, the applicant's link
and an observer, and how to read what the room sent to one connection."""

from __future__ import annotations

from signaling.messages import Error, ErrorCode
from signaling.room import Effect, Identity, Room, RoomFacts, Send

FACTS = RoomFacts(
    case_id="case1",
    joinable=True,
    inspector_ids=frozenset({"i1", "i2"}),
    applicant_ids=frozenset({"link1"}),
    observer_ids=frozenset({"o1"}),
)
LEAD = Identity("i1", "inspector", "Lead")
SECOND = Identity("i2", "inspector", "Second")
APPLICANT = Identity("link1", "applicant", "Shop", case_id="case1")
OBSERVER = Identity("o1", "observer", "Supervisor")


def sent_to(effects: list[Effect], conn: str) -> list[object]:
    return [e.message for e in effects if isinstance(e, Send) and e.conn == conn]


def error_code(effects: list[Effect], conn: str) -> ErrorCode:
    (message,) = sent_to(effects, conn)
    assert isinstance(message, Error)
    return message.code


def full_room() -> Room:
    """Lead on ``c-lead``, second on ``c-second``, the applicant on ``c-app``."""
    room = Room("case1")
    room.join("c-lead", LEAD, FACTS)
    room.join("c-second", SECOND, FACTS)
    room.join("c-app", APPLICANT, FACTS)
    return room
