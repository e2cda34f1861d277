"""The case state machine: every legal move, a sample of illegal ones, and the journeys."""

from __future__ import annotations

from collections import deque

import pytest

from server.cases.states import (
    ACTION_LABELS,
    STATE_LABELS,
    TRANSITIONS,
    CaseAction,
    CaseState,
    allowed_actions,
    is_joinable,
    is_terminal,
    next_state,
    waits_on_applicant,
)
from server.errors import InvalidState

S = CaseState
A = CaseAction


@pytest.mark.parametrize(
    ("current", "action", "target"),
    [(s, a, t) for (s, a), t in TRANSITIONS.items()],
    ids=[f"{s}-{a}" for s, a in TRANSITIONS],
)
def test_every_legal_transition_leads_to_its_target(
    current: CaseState, action: CaseAction, target: CaseState
) -> None:
    assert next_state(current, action) is target
    assert action in allowed_actions(current)


@pytest.mark.parametrize(
    ("current", "action"),
    [
        (S.received, A.start_inspection),
        (S.received, A.schedule),
        (S.assigned, A.conclude),
        (S.scheduled, A.approve),
        (S.in_progress, A.co_sign),
        (S.drafted, A.approve),
        (S.awaiting_cosign, A.approve),
        (S.under_review, A.close),
        (S.issued, A.cancel),
        (S.closed, A.cancel),
        (S.cancelled, A.assign),
        (S.rectification_requested, A.verify_rectification),
        (S.rectification_submitted, A.submit_rectification),
        (S.offline_pending, A.switch_offline),
        (S.in_progress, A.replace_inspector),
    ],
)
def test_illegal_transition_says_in_words_the_state_and_allowed_steps(
    current: CaseState, action: CaseAction
) -> None:
    with pytest.raises(InvalidState) as caught:
        next_state(current, action)
    error = caught.value
    assert error.status == 409
    assert error.extra["current"] == current.value
    assert error.extra["attempted"] == action.value
    assert error.extra["allowed"] == [a.value for a in allowed_actions(current)]
    assert STATE_LABELS[current].zh in error.message_zh  # in words, not the identifier
    assert ACTION_LABELS[action].zh in error.message_zh
    assert current.value not in error.message_zh
    assert action.value not in error.message_zh


def test_every_pair_outside_the_table_is_refused() -> None:
    for state in CaseState:
        for action in CaseAction:
            if (state, action) in TRANSITIONS:
                continue
            with pytest.raises(InvalidState):
                next_state(state, action)


def test_terminal_states_allow_nothing() -> None:
    assert {s for s in CaseState if is_terminal(s)} == {S.closed, S.cancelled}
    assert allowed_actions(S.closed) == ()
    assert allowed_actions(S.cancelled) == ()


def test_cancel_from_every_open_state_except_issued() -> None:
    cancellable = {s for s in CaseState if A.cancel in allowed_actions(s)}
    assert cancellable == set(CaseState) - {S.issued, S.closed, S.cancelled}
    assert allowed_actions(S.issued) == (A.close,)


def test_switch_offline_from_before_and_during_the_call() -> None:
    sources = {s for s in CaseState if A.switch_offline in allowed_actions(s)}
    assert sources == {
        S.assigned,
        S.scheduled,
        S.rescheduling,
        S.in_progress,
        S.rectification_submitted,
        S.drafted,
    }


def test_replacing_an_inspector_keeps_the_state() -> None:
    for (state, action), target in TRANSITIONS.items():
        if action is A.replace_inspector:
            assert target is state
    assert A.replace_inspector not in allowed_actions(S.in_progress)


def _walk(*actions: CaseAction) -> CaseState:
    state = S.received
    for action in actions:
        state = next_state(state, action)
    return state


def test_online_journey_reaches_closed() -> None:
    assert (
        _walk(
            A.assign,
            A.schedule,
            A.start_inspection,
            A.conclude,
            A.submit_draft,
            A.decline_cosign,
            A.submit_draft,
            A.co_sign,
            A.send_back,
            A.submit_draft,
            A.co_sign,
            A.approve,
            A.close,
        )
        is S.closed
    )


def test_rectification_rounds_return_to_drafting() -> None:
    state = _walk(
        A.assign,
        A.schedule,
        A.start_inspection,
        A.request_rectification,
        A.submit_rectification,
        A.reject_rectification,
        A.submit_rectification,
        A.verify_rectification,
    )
    assert state is S.drafted


def test_offline_switch_rejoins_the_inspection() -> None:
    assert _walk(A.assign, A.switch_offline, A.schedule, A.start_inspection) is S.in_progress
    assert _walk(A.assign, A.switch_offline, A.start_inspection) is S.in_progress


def test_no_show_waits_for_the_applicant_to_rebook() -> None:
    state = _walk(A.assign, A.schedule, A.mark_no_show)
    assert state is S.rescheduling
    assert waits_on_applicant(state)
    assert next_state(state, A.schedule) is S.scheduled


def test_every_state_is_reachable_and_every_open_state_can_finish() -> None:
    reachable = _reachable_from(S.received)
    assert reachable == set(CaseState)
    for state in CaseState:
        if not is_terminal(state):
            assert S.closed in _reachable_from(state), state


def _reachable_from(start: CaseState) -> set[CaseState]:
    seen = {start}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for action in allowed_actions(state):
            target = next_state(state, action)
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def test_clock_pauses_only_while_waiting_on_the_applicant() -> None:
    paused = {s for s in CaseState if waits_on_applicant(s)}
    assert paused == {S.rescheduling, S.rectification_requested}


def test_a_call_is_joined_only_while_scheduled_or_in_progress() -> None:
    joinable = {s for s in CaseState if is_joinable(s)}
    assert joinable == {S.scheduled, S.in_progress}
    assert is_joinable("in_progress")  # the column's plain string works as well
    assert not is_joinable("no-such-state")


def test_every_state_and_action_has_both_labels() -> None:
    assert set(STATE_LABELS) == set(CaseState)
    assert set(ACTION_LABELS) == set(CaseAction)
    for label in [*STATE_LABELS.values(), *ACTION_LABELS.values()]:
        assert label.zh
        assert label.en


def test_state_values_fit_the_database_column() -> None:
    assert max(len(s.value) for s in CaseState) <= 32
