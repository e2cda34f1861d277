"""News from the server pushed through a live room: stored verdicts, a rectification request
(the call kept open or ended for all), and the same messages refused when a client sends them."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from signaling.bus import CloseRequest, Outbox
from signaling.messages import (
    CloseCode,
    ErrorCode,
    ProtocolError,
    RectificationRequested,
    VerdictStored,
    parse_client,
)
from signaling.registry import Registry
from signaling.room import Close, Room, RoomFacts, Send
from tests.signaling.fakes import FakeMediaFactory
from tests.signaling.rooms import FACTS, LEAD, OBSERVER, SECOND, full_room, sent_to

DEADLINE = "2026-12-10T18:00:00+08:00"


def test_a_stored_verdict_goes_to_every_staff_member_but_not_the_applicant() -> None:
    room = full_room()
    room.join("c-obs", OBSERVER, FACTS)
    effects = room.verdict_stored("SH-02", "i1", "fail")
    stored = VerdictStored(item_id="SH-02", inspector_id="i1", value="fail")
    for conn in ("c-lead", "c-second", "c-obs"):
        assert sent_to(effects, conn) == [stored]
    assert sent_to(effects, "c-app") == []
    assert all(isinstance(e, Send) for e in effects)


def test_a_rectification_request_keeping_the_call_open_tells_everyone_and_closes_nothing() -> None:
    room = full_room()
    effects = room.rectification_requested(["SH-02"], DEADLINE, end_call=False)
    told = RectificationRequested(items=["SH-02"], deadline=DEADLINE, call_ends=False)
    for conn in ("c-lead", "c-second", "c-app"):
        assert sent_to(effects, conn) == [told]
    assert not [e for e in effects if isinstance(e, Close)]
    assert set(room.members) == {"i1", "i2", "link1"}


def test_a_rectification_request_ending_the_call_tells_everyone_then_closes_each() -> None:
    room = full_room()
    effects = room.rectification_requested(["SH-02", "SH-03"], DEADLINE, end_call=True)
    for conn in ("c-lead", "c-second", "c-app"):
        (told,) = sent_to(effects, conn)
        assert isinstance(told, RectificationRequested)
        assert told.call_ends
        sends = [i for i, e in enumerate(effects) if isinstance(e, Send) and e.conn == conn]
        closes = [i for i, e in enumerate(effects) if isinstance(e, Close) and e.conn == conn]
        assert len(closes) == 1
        assert sends[0] < closes[0], "the message goes before the close"
        close = effects[closes[0]]
        assert isinstance(close, Close)
        assert close.code == CloseCode.call_ended


def frames(outbox: Outbox) -> list[object]:
    out: list[object] = []
    while not outbox._queue.empty():
        item = outbox._queue.get_nowait()
        out.append(item if isinstance(item, CloseRequest) else json.loads(item))
    return out


def test_the_registry_carries_out_the_rooms_decision_for_that_case_only() -> None:
    registry = Registry(FakeMediaFactory())
    boxes = {conn: registry.bus.open(conn) for conn in ("c-lead", "c-second", "c-other")}
    room = registry.room("case1")
    room.join("c-lead", LEAD, FACTS)
    room.join("c-second", SECOND, FACTS)
    other = registry.room("case2")
    other.join("c-other", LEAD, RoomFacts("case2", True, frozenset({"i1"})))
    for box in boxes.values():
        frames(box)  # the joins' replays

    sent = registry.announce("case1", lambda r: r.verdict_stored("A1", "i2", "pass"))

    assert sent == 2
    expected = {"type": "verdict_stored", "item_id": "A1", "inspector_id": "i2", "value": "pass"}
    assert frames(boxes["c-lead"]) == [expected]
    assert frames(boxes["c-second"]) == [expected]
    assert frames(boxes["c-other"]) == [], "another case's room hears nothing"


def test_news_for_a_case_without_a_live_room_does_nothing() -> None:
    registry = Registry(FakeMediaFactory())
    called: list[Room] = []

    def decide(room: Room) -> list[Send | Close]:
        called.append(room)
        return []

    assert registry.announce("nobody-here", decide) == 0
    assert called == []
    assert registry.existing_room("nobody-here") is None


def test_ending_the_call_queues_the_message_then_the_close_on_each_socket() -> None:
    registry = Registry(FakeMediaFactory())
    box = registry.bus.open("c-lead")
    registry.room("case1").join("c-lead", LEAD, FACTS)
    frames(box)
    registry.announce("case1", lambda r: r.rectification_requested(["A1"], DEADLINE, end_call=True))
    told, close = frames(box)
    assert isinstance(told, dict)
    assert told["type"] == "rectification_requested"
    assert close == CloseRequest(CloseCode.call_ended, "call ended")


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"verdict_stored","item_id":"A1","inspector_id":"i1","value":"pass"}',
        '{"type":"rectification_requested","items":["A1"],"deadline":"x","call_ends":true}',
    ],
)
def test_a_client_may_not_send_the_servers_news(text: str) -> None:
    with pytest.raises(ProtocolError) as raised:
        parse_client(text)
    assert raised.value.code == ErrorCode.unknown_type


@pytest.mark.parametrize(
    "fields",
    [
        {"item_id": "", "inspector_id": "i1", "value": "pass"},
        {"item_id": "A" * 17, "inspector_id": "i1", "value": "pass"},
        {"item_id": "A1", "inspector_id": "i1", "value": "maybe"},
        {"item_id": "A1", "inspector_id": "i1", "value": "pass", "extra": 1},
    ],
)
def test_a_malformed_verdict_message_is_never_built(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        VerdictStored.model_validate(fields)


def test_a_rectification_message_names_at_least_one_item() -> None:
    with pytest.raises(ValidationError):
        RectificationRequested(items=[], deadline=DEADLINE, call_ends=False)
