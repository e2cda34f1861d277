"""Who may take which action on a case (谁能办理哪一步): the one table, combined with the state
machine. Pure: a caller's role and relation to the case in, the actions they may take out.

``ACTIONS_BY_PARTY`` says which party may ever take an action; ``actions_for`` intersects it
with what the case's current state allows (``server.cases.states``), less the moves only the
scheduled jobs make. The routers refuse an action a caller's party may not take with
``require_party`` (403, in words); the services refuse a move the state does not allow (409).
The same table fills ``CaseOut.actions``, so the pages show exactly the buttons that work.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from server.auth.models import Role
from server.auth.principal import Principal
from server.cases.access import CaseView
from server.cases.states import ACTION_LABELS, CaseAction, CaseState, Label, allowed_actions
from server.errors import Forbidden

__all__ = [
    "ACTIONS_BY_PARTY",
    "APPLICANT_SIDE",
    "BUREAU_SIDE",
    "JOB_MOVES",
    "ONSITE_MODE",
    "PARTY_LABELS",
    "Party",
    "actions_for",
    "parties_of",
    "require_party",
]


class Party(StrEnum):
    """A caller's standing on one case."""

    admin = "admin"
    dispatcher = "dispatcher"
    lead = "lead"  # the case's lead inspector (主办踏勘人员)
    second = "second"  # the case's second inspector (协办踏勘人员)
    inspector = "inspector"  # an inspector not (or no longer) on this case
    reviewer = "reviewer"
    window = "window"
    head = "head"
    applicant = "applicant"  # through the case's link
    approval_system = "approval_system"  # an API client (its scopes say which endpoints)


A = CaseAction
P = Party
_INSPECTORS = frozenset(
    {
        A.schedule,  # offer slots
        A.reschedule,
        A.start_inspection,
        A.request_rectification,
        A.verify_rectification,  # both review each item; the last review moves the case
        A.reject_rectification,
    }
)

ACTIONS_BY_PARTY: Mapping[Party, frozenset[CaseAction]] = MappingProxyType(
    {
        P.admin: frozenset({A.assign, A.replace_inspector, A.switch_offline, A.cancel}),
        P.dispatcher: frozenset(
            {A.assign, A.replace_inspector, A.reschedule, A.switch_offline, A.cancel}
        ),
        P.lead: _INSPECTORS | {A.conclude, A.switch_offline, A.submit_draft},
        P.second: _INSPECTORS | {A.co_sign, A.decline_cosign},
        P.inspector: frozenset(),
        P.reviewer: frozenset({A.approve, A.send_back}),
        P.window: frozenset({A.close}),
        P.head: frozenset(),
        P.applicant: frozenset(
            {A.schedule, A.request_reschedule, A.submit_rectification, A.withdraw}
        ),
        P.approval_system: frozenset({A.close}),
    }
)
"""The one table: which party may take which case action (in any state that allows it)."""

ONSITE_MODE = "offline_onsite"  # a case inspected on site is not switched on site again

# Moves only the scheduled jobs make: a rectification deadline passing concludes the case;
# an applicant missing the appointment is recorded by the no-show job.
JOB_MOVES: frozenset[tuple[CaseState, CaseAction]] = frozenset(
    {(CaseState.rectification_requested, A.conclude)}
)

PARTY_LABELS: Mapping[Party, Label] = MappingProxyType(
    {
        P.admin: Label("系统管理员", "an administrator"),
        P.dispatcher: Label("调度员", "a dispatcher"),
        P.lead: Label("本案主办踏勘人员", "the case's lead inspector"),
        P.second: Label("本案协办踏勘人员", "the case's second inspector"),
        P.inspector: Label("踏勘人员", "an inspector"),
        P.reviewer: Label("审核人员", "a reviewer"),
        P.window: Label("窗口人员", "window staff"),
        P.head: Label("科室负责人", "the department head"),
        P.applicant: Label("申请人", "the applicant"),
        P.approval_system: Label("审批系统", "the approval system"),
    }
)

APPLICANT_SIDE: frozenset[Party] = frozenset({P.applicant})
BUREAU_SIDE: frozenset[Party] = frozenset(Party) - APPLICANT_SIDE

_STAFF: Mapping[Role, Party] = MappingProxyType(
    {
        Role.admin: P.admin,
        Role.dispatcher: P.dispatcher,
        Role.reviewer: P.reviewer,
        Role.window: P.window,
        Role.head: P.head,
    }
)


def _inspector_party(staff_id: str, inspector_ids: tuple[str, ...]) -> Party:
    if inspector_ids and staff_id == inspector_ids[0]:
        return P.lead
    return P.second if staff_id in inspector_ids else P.inspector


def parties_of(principal: Principal, view: CaseView) -> frozenset[Party]:
    """The caller's standing on this case (empty: none, e.g. another case's applicant)."""
    if principal.kind == "applicant":
        return frozenset({P.applicant}) if principal.case_id == view.case.id else frozenset()
    if principal.kind == "client":
        return frozenset({P.approval_system})
    if principal.role == Role.inspector:
        return frozenset({_inspector_party(principal.id, view.inspector_ids)})
    party = _STAFF.get(principal.role) if principal.role is not None else None
    return frozenset() if party is None else frozenset({party})


def _may(parties: frozenset[Party], action: CaseAction) -> bool:
    return any(action in ACTIONS_BY_PARTY[p] for p in parties)


def actions_for(principal: Principal, view: CaseView) -> list[CaseAction]:
    """What the caller may do on the case now: their party's actions the state allows."""
    parties = parties_of(principal, view)
    state = CaseState(view.case.state)
    ruled_out = {A.switch_offline} if view.case.mode == ONSITE_MODE else set()
    return [
        a
        for a in allowed_actions(state)
        if _may(parties, a) and (state, a) not in JOB_MOVES and a not in ruled_out
    ]


def _who(action: CaseAction, among: frozenset[Party] | None = None) -> Label:
    allowed = [
        PARTY_LABELS[p]
        for p in Party
        if action in ACTIONS_BY_PARTY[p] and (among is None or p in among)
    ]
    return Label("、".join(p.zh for p in allowed), ", ".join(p.en for p in allowed))


def require_party(
    principal: Principal,
    view: CaseView,
    action: CaseAction,
    *,
    among: frozenset[Party] | None = None,
) -> None:
    """Refuse (403, in words) a caller whose party may not take ``action`` on this case; with
    ``among``, only those parties take it through the endpoint asking."""
    parties = parties_of(principal, view)
    if _may(parties & among if among is not None else parties, action):
        return
    label, who = ACTION_LABELS[action], _who(action, among)
    raise Forbidden(
        f"您不能在本案中办理“{label.zh}”，只有{who.zh}可以办理。",
        f"You may not do '{label.en}' on this case; only {who.en} may.",
    )
