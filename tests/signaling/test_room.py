"""The room's rules without sockets: admission, replacement, replay, permissions, order."""

from __future__ import annotations

from dataclasses import replace

import pytest

from signaling.messages import (
    Answer,
    Candidate,
    CloseCode,
    CurrentItem,
    CurrentItemChanged,
    ErrorCode,
    IceRestart,
    Join,
    Joined,
    Leave,
    Location,
    LocationReported,
    Mute,
    MuteChanged,
    Offer,
    ParticipantJoined,
    ParticipantLeft,
    Ping,
    RecordingChanged,
    ServerPong,
    SnapshotRequest,
    SnapshotResultMessage,
)
from signaling.room import (
    Close,
    Emit,
    Identity,
    ItemChanged,
    LocationEvent,
    MediaLeave,
    ParticipantEntered,
    ParticipantExited,
    Room,
    Send,
    ToMedia,
    admission,
)
from tests.signaling.rooms import (
    APPLICANT,
    FACTS,
    LEAD,
    OBSERVER,
    SECOND,
    error_code,
    full_room,
    sent_to,
)

# admission ------------------------------------------------------------------------------------


@pytest.mark.parametrize("identity", [LEAD, SECOND, APPLICANT, OBSERVER])
def test_case_participants_are_admitted_while_joinable(identity: Identity) -> None:
    assert admission(identity, FACTS) is None


@pytest.mark.parametrize(
    "identity",
    [
        Identity("i3", "inspector"),  # not assigned to this case
        Identity("link1", "applicant", case_id="case2"),  # another case's link
        Identity("link9", "applicant", case_id="case1"),  # a link not listed for the case
        Identity("i1", "observer"),  # an inspector id claimed as observer is not an observer
        Identity("o1", "inspector"),
    ],
)
def test_outsiders_are_refused_with_policy(identity: Identity) -> None:
    assert admission(identity, FACTS) is CloseCode.policy


def test_case_not_joinable_refuses() -> None:
    assert admission(LEAD, replace(FACTS, joinable=False)) is CloseCode.not_joinable


def test_outsider_learns_nothing_about_the_state() -> None:
    facts = replace(FACTS, joinable=False)
    assert admission(Identity("i3", "inspector"), facts) is CloseCode.policy


def test_refused_join_closes_and_changes_nothing() -> None:
    room = Room("case1")
    effects = room.join("c1", Identity("i3", "inspector"), FACTS)
    assert effects == [Close("c1", CloseCode.policy, "not admitted")]
    assert room.empty


def test_facts_of_another_case_refuse() -> None:
    effects = Room("case2").join("c1", LEAD, FACTS)
    assert effects == [Close("c1", CloseCode.policy, "not admitted")]


# join, replay, replace ------------------------------------------------------------------------


def test_joiner_gets_replay_and_others_are_told() -> None:
    room = Room("case1")
    room.join("c-lead", LEAD, FACTS)
    room.receive("c-lead", CurrentItem(item_id="A1"))
    room.receive("c-lead", Mute(audio=False, video=True))
    effects = room.join("c-app", APPLICANT, FACTS)
    (replay,) = sent_to(effects, "c-app")
    assert isinstance(replay, Joined)
    assert replay.current_item == "A1"
    by_id = {p.participant_id: p for p in replay.participants}
    assert set(by_id) == {"i1", "link1"}
    assert by_id["i1"].audio is False
    told, recording = sent_to(effects, "c-lead")
    assert isinstance(told, ParticipantJoined)
    assert told.participant.participant_id == "link1"
    assert recording == RecordingChanged(on=True)  # the applicant and an inspector are in
    assert Emit(ParticipantEntered("case1", "link1", "applicant")) in effects


def test_rejoin_replaces_the_old_connection() -> None:
    room = full_room()
    effects = room.join("c-app-2", APPLICANT, FACTS)
    assert Close("c-app", CloseCode.replaced, "replaced") in effects
    assert MediaLeave("link1") in effects
    assert room.members["link1"].conn == "c-app-2"
    # the old socket's own cleanup later changes nothing
    assert room.leave("c-app", "closed") == []
    assert "link1" in room.members


def test_inspectors_get_last_location_on_join_not_the_applicant() -> None:
    room = Room("case1")
    room.join("c-app", APPLICANT, FACTS)
    room.receive("c-app", Location(latitude=31.2, longitude=121.5))
    effects = room.join("c-lead", LEAD, FACTS)
    assert any(isinstance(m, LocationReported) for m in sent_to(effects, "c-lead"))


# leave and timeout ----------------------------------------------------------------------------


def test_leave_tells_others_and_the_server() -> None:
    room = full_room()
    effects = room.receive("c-app", Leave())
    assert ParticipantLeft(participant_id="link1", reason="left") in sent_to(effects, "c-lead")
    assert Emit(ParticipantExited("case1", "link1", "applicant", "left")) in effects
    assert Close("c-app", CloseCode.normal, "left") in effects
    assert MediaLeave("link1") in effects


def test_timeout_is_broadcast_with_its_reason() -> None:
    room = full_room()
    effects = room.leave("c-second", "timeout")
    for conn in ("c-lead", "c-app"):
        assert sent_to(effects, conn) == [ParticipantLeft(participant_id="i2", reason="timeout")]
    assert room.leave("c-second", "timeout") == []


# permissions ----------------------------------------------------------------------------------


def test_applicant_may_not_set_current_item() -> None:
    room = full_room()
    effects = room.receive("c-app", CurrentItem(item_id="A1"))
    assert error_code(effects, "c-app") is ErrorCode.forbidden
    assert room.current_item is None


def test_applicant_may_not_request_snapshots() -> None:
    effects = full_room().receive("c-app", SnapshotRequest(request_id="r1"))
    assert error_code(effects, "c-app") is ErrorCode.forbidden


@pytest.mark.parametrize(
    "message",
    [Offer(sdp="v=0"), Answer(sdp="v=0"), Candidate(candidate="c"), IceRestart(sdp="v=0")],
)
def test_observer_sends_no_media(message: Offer | Answer | Candidate | IceRestart) -> None:
    room = full_room()
    room.join("c-obs", OBSERVER, FACTS)
    effects = room.receive("c-obs", message)
    assert error_code(effects, "c-obs") is ErrorCode.forbidden
    assert not any(isinstance(e, ToMedia) for e in effects)


def test_inspector_may_not_report_location() -> None:
    effects = full_room().receive("c-lead", Location(latitude=1, longitude=1))
    assert error_code(effects, "c-lead") is ErrorCode.forbidden


def test_current_item_goes_to_everyone_and_the_server_once() -> None:
    room = full_room()
    effects = room.receive("c-second", CurrentItem(item_id="B2"))
    changed = CurrentItemChanged(item_id="B2", by="i2")
    for conn in ("c-lead", "c-second", "c-app"):
        assert sent_to(effects, conn) == [changed]
    assert Emit(ItemChanged("case1", "B2", "i2")) in effects
    assert room.receive("c-lead", CurrentItem(item_id="B2")) == []


def test_location_goes_to_staff_only() -> None:
    room = full_room()
    room.join("c-obs", OBSERVER, FACTS)
    effects = room.receive("c-app", Location(latitude=31.2, longitude=121.5, accuracy_m=8))
    assert sent_to(effects, "c-app") == []
    for conn in ("c-lead", "c-second", "c-obs"):
        assert len(sent_to(effects, conn)) == 1
    assert Emit(LocationEvent("case1", "link1", 31.2, 121.5, 8)) in effects


def test_mute_goes_to_the_others() -> None:
    effects = full_room().receive("c-app", Mute(audio=False, video=False))
    changed = MuteChanged(participant_id="link1", audio=False, video=False)
    assert sent_to(effects, "c-lead") == [changed]
    assert sent_to(effects, "c-app") == []


# order ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message", [Offer(sdp="v=0"), Answer(sdp="v=0"), Candidate(candidate="c"), Leave()]
)
def test_anything_before_join_is_refused(message: Offer | Answer | Candidate | Leave) -> None:
    effects = full_room().receive("stranger", message)
    assert error_code(effects, "stranger") is ErrorCode.not_joined


def test_ping_before_join_is_answered() -> None:
    assert Room("case1").receive("c1", Ping()) == [Send("c1", ServerPong())]


def test_second_join_is_refused() -> None:
    effects = full_room().receive("c-lead", Join(token="t"))
    assert error_code(effects, "c-lead") is ErrorCode.already_joined


def test_candidate_before_offer_is_out_of_order() -> None:
    room = full_room()
    effects = room.receive("c-app", Candidate(candidate="c"))
    assert error_code(effects, "c-app") is ErrorCode.out_of_order
    room.receive("c-app", Offer(sdp="v=0"))
    effects = room.receive("c-app", Candidate(candidate="c"))
    assert effects == [ToMedia("link1", "c-app", Candidate(candidate="c"), "applicant", "Shop")]


def test_answer_only_after_a_server_offer() -> None:
    room = full_room()
    assert error_code(room.receive("c-lead", Answer(sdp="v=0")), "c-lead") is (
        ErrorCode.out_of_order
    )
    room.server_offered("i1")
    answer = Answer(sdp="v=0")
    assert room.receive("c-lead", answer) == [ToMedia("i1", "c-lead", answer, "inspector", "Lead")]
    assert error_code(room.receive("c-lead", Answer(sdp="v=0")), "c-lead") is (
        ErrorCode.out_of_order
    )


def test_snapshot_needs_the_applicant_present() -> None:
    room = Room("case1")
    room.join("c-lead", LEAD, FACTS)
    request = SnapshotRequest(request_id="r1", item_id="A1")
    assert error_code(room.receive("c-lead", request), "c-lead") is ErrorCode.applicant_absent
    room.join("c-app", APPLICANT, FACTS)
    assert room.receive("c-lead", request) == [
        ToMedia("i1", "c-lead", request, "inspector", "Lead")
    ]


def test_snapshot_outcome_goes_to_every_inspector_only() -> None:
    room = full_room()
    request = SnapshotRequest(request_id="r1", item_id="A1")
    effects = room.snapshot_taken(request, "i1", ok=True, snapshot_id="e1")
    result = SnapshotResultMessage(
        request_id="r1", requested_by="i1", item_id="A1", ok=True, snapshot_id="e1"
    )
    assert effects == [Send("c-lead", result), Send("c-second", result)]
