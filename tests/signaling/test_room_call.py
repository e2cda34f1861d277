"""The room's call rules: recording only while the applicant and an inspector are both in,
and an inspector's "show me here" point relayed to the applicant (validated, paced)."""

from __future__ import annotations

import pytest

from signaling.messages import (
    Error,
    ErrorCode,
    Joined,
    Point,
    Pointed,
    ProtocolError,
    RecordingChanged,
    parse_client,
)
from signaling.room import (
    POINT_INTERVAL,
    Effect,
    Emit,
    MediaRecording,
    RecordingSwitched,
    Room,
    Send,
)
from tests.signaling.rooms import APPLICANT, FACTS, LEAD, OBSERVER, SECOND, full_room, sent_to


def recording_effects(effects: list[Effect]) -> list[Effect]:
    return [
        e
        for e in effects
        if isinstance(e, MediaRecording)
        or (isinstance(e, Emit) and isinstance(e.event, RecordingSwitched))
        or (isinstance(e, Send) and isinstance(e.message, RecordingChanged))
    ]


def test_the_applicant_alone_is_not_recorded() -> None:
    room = Room("case1")
    effects = room.join("c-app", APPLICANT, FACTS)
    assert not room.recording
    assert recording_effects(effects) == []
    (replay,) = sent_to(effects, "c-app")
    assert isinstance(replay, Joined)
    assert replay.recording is False


def test_inspectors_waiting_for_the_phone_are_not_recorded() -> None:
    room = Room("case1")
    room.join("c-lead", LEAD, FACTS)
    effects = room.join("c-second", SECOND, FACTS)
    assert not room.recording
    assert recording_effects(effects) == []


def test_recording_starts_when_the_first_inspector_joins_the_applicant() -> None:
    room = Room("case1")
    room.join("c-app", APPLICANT, FACTS)
    effects = room.join("c-lead", LEAD, FACTS)
    assert room.recording
    started = RecordingChanged(on=True)
    assert MediaRecording(on=True) in effects
    assert Emit(RecordingSwitched("case1", on=True)) in effects
    assert started in sent_to(effects, "c-app")
    replay = next(m for m in sent_to(effects, "c-lead") if isinstance(m, Joined))
    assert replay.recording is True  # the joiner reads it in its replay, once
    assert started not in sent_to(effects, "c-lead")
    # the second inspector joins a call already recorded: nothing starts twice
    again = room.join("c-second", SECOND, FACTS)
    assert recording_effects(again) == []
    replay = next(m for m in sent_to(again, "c-second") if isinstance(m, Joined))
    assert replay.recording is True


def test_an_observer_does_not_start_recording() -> None:
    room = Room("case1")
    room.join("c-app", APPLICANT, FACTS)
    assert recording_effects(room.join("c-obs", OBSERVER, FACTS)) == []
    assert not room.recording


def test_recording_stops_when_the_last_inspector_leaves() -> None:
    room = full_room()
    assert recording_effects(room.leave("c-second", "left")) == []
    effects = room.leave("c-lead", "timeout")
    assert MediaRecording(on=False) in effects
    assert Emit(RecordingSwitched("case1", on=False)) in effects
    assert sent_to(effects, "c-app")[-1] == RecordingChanged(on=False)


def test_recording_stops_when_the_applicant_leaves_and_a_rejoin_keeps_it() -> None:
    room = full_room()
    assert recording_effects(room.join("c-app-2", APPLICANT, FACTS)) == []  # replaced
    assert room.recording
    effects = room.leave("c-app-2", "closed")
    assert MediaRecording(on=False) in effects
    assert not room.recording


def test_an_inspector_points_and_only_the_applicant_is_shown() -> None:
    room = full_room()
    effects = room.receive("c-lead", Point(x=0.25, y=0.75), now=10.0)
    assert effects == [Send("c-app", Pointed(x=0.25, y=0.75, by="i1"))]


def test_the_applicant_may_not_point_and_nothing_is_relayed() -> None:
    room = full_room()
    effects = room.receive("c-app", Point(x=0.5, y=0.5), now=10.0)
    assert len(effects) == 1
    (refused,) = sent_to(effects, "c-app")
    assert isinstance(refused, Error)
    assert (refused.code, refused.about) == (ErrorCode.forbidden, "point")


def test_pointing_is_paced_per_inspector() -> None:
    room = full_room()
    assert sent_to(room.receive("c-lead", Point(x=0.1, y=0.1), now=10.0), "c-app")
    fast = room.receive("c-lead", Point(x=0.2, y=0.2), now=10.0 + POINT_INTERVAL / 2)
    (refused,) = sent_to(fast, "c-lead")
    assert isinstance(refused, Error)
    assert refused.code == ErrorCode.rate_limited
    assert sent_to(fast, "c-app") == []
    # the other inspector has an allowance of their own; the first may point again later
    assert sent_to(room.receive("c-second", Point(x=0.3, y=0.3), now=10.01), "c-app")
    later = room.receive("c-lead", Point(x=0.4, y=0.4), now=10.0 + POINT_INTERVAL)
    assert sent_to(later, "c-app") == [Pointed(x=0.4, y=0.4, by="i1")]


def test_pointing_without_the_applicant_says_so() -> None:
    room = Room("case1")
    room.join("c-lead", LEAD, FACTS)
    (refused,) = sent_to(room.receive("c-lead", Point(x=0.5, y=0.5), now=1.0), "c-lead")
    assert isinstance(refused, Error)
    assert refused.code == ErrorCode.applicant_absent


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "point", "x": 1.5, "y": 0.5}',
        '{"type": "point", "x": -0.1, "y": 0.5}',
        '{"type": "point", "x": 0.5}',
        '{"type": "point", "x": "0.5", "y": 0.5}',
        '{"type": "point", "x": 0.5, "y": NaN}',
        '{"type": "point", "x": 0.5, "y": 0.5, "z": 1}',
    ],
)
def test_a_point_out_of_range_or_malformed_is_invalid(text: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_client(text)
    assert refused.value.code == ErrorCode.invalid


def test_a_point_on_the_edges_is_accepted() -> None:
    assert parse_client('{"type": "point", "x": 0, "y": 1}') == Point(x=0.0, y=1.0)
