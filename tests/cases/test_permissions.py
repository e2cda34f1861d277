"""The table of who may take which case action, on its own (no database): every action a person
takes has someone to take it, and no caller is ever offered a move the state does not allow."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from server.auth.models import Role
from server.auth.principal import Principal
from server.cases.access import CaseView
from server.cases.permissions import ACTIONS_BY_PARTY, JOB_MOVES, actions_for, require_party
from server.cases.states import TRANSITIONS, CaseAction, CaseState, allowed_actions
from server.errors import Forbidden

A = CaseAction
PEOPLE = {
    "dispatcher": Principal("staff", "d1", Role.dispatcher),
    "lead": Principal("staff", "i1", Role.inspector),
    "second": Principal("staff", "i2", Role.inspector),
    "other_inspector": Principal("staff", "i3", Role.inspector),
    "reviewer": Principal("staff", "r1", Role.reviewer),
    "window": Principal("staff", "w1", Role.window),
    "head": Principal("staff", "h1", Role.head),
    "applicant": Principal("applicant", "l1", case_id="c1"),
    "other_applicant": Principal("applicant", "l2", case_id="c2"),
}


def _view(state: CaseState, mode: str = "online_video") -> CaseView:
    case = cast(Any, SimpleNamespace(id="c1", state=state.value, mode=mode))
    return CaseView(case, ("i1", "i2"))


def test_every_action_a_person_takes_has_someone_to_take_it() -> None:
    people = set().union(*ACTIONS_BY_PARTY.values())
    assert set(CaseAction) - people == {A.mark_no_show}  # the no-show job only


@pytest.mark.parametrize("state", list(CaseState))
def test_nobody_is_offered_a_move_the_state_does_not_allow(state: CaseState) -> None:
    for principal in PEOPLE.values():
        for action in actions_for(principal, _view(state)):
            assert (state, action) in TRANSITIONS
            assert (state, action) not in JOB_MOVES


def test_each_step_belongs_to_its_own_person() -> None:
    offered = {n: actions_for(p, _view(CaseState.awaiting_cosign)) for n, p in PEOPLE.items()}
    assert offered["second"] == [A.co_sign, A.decline_cosign]
    assert offered["lead"] == []
    assert offered["other_inspector"] == []
    assert offered["other_applicant"] == []
    assert offered["applicant"] == [A.withdraw]
    assert offered["dispatcher"] == [A.cancel]
    assert actions_for(PEOPLE["lead"], _view(CaseState.drafted)) == [
        A.switch_offline,
        A.submit_draft,
    ]


def test_a_case_on_site_is_not_offered_the_switch_on_site_again() -> None:
    online = actions_for(PEOPLE["dispatcher"], _view(CaseState.scheduled))
    on_site = actions_for(PEOPLE["dispatcher"], _view(CaseState.scheduled, "offline_onsite"))
    assert A.switch_offline in online
    assert A.switch_offline not in on_site


def test_closed_and_cancelled_cases_offer_nothing() -> None:
    for state in (CaseState.closed, CaseState.cancelled):
        assert allowed_actions(state) == ()
        assert all(actions_for(p, _view(state)) == [] for p in PEOPLE.values())


def test_a_refusal_names_who_may_in_words() -> None:
    with pytest.raises(Forbidden) as caught:
        require_party(PEOPLE["second"], _view(CaseState.drafted), A.submit_draft)
    assert "主办踏勘人员" in caught.value.message_zh
    assert "submit_draft" not in caught.value.message_zh + caught.value.message_en
