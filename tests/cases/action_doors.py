"""Each case action as the request one caller makes for it, the callers by their standing on a
case, and the check that a refusal speaks in words: the helpers behind ``test_actions``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from server.auth.models import Role
from server.cases.states import CaseAction, CaseState
from server.db import utcnow
from tests.flows import SIGNED, Headers, Journey, decision_body, slot

A = CaseAction
CASE = "/api/v1/cases/{case_id}"
ITEM = "SH-02"  # a rectifiable item of the default matter's checklist
REASON = {"reason": "按流程需要办理"}
SEND_BACK = {"comments": "请补充", "items": [ITEM]}
IDENTIFIERS = frozenset({s.value for s in CaseState} | {a.value for a in CaseAction})


@dataclass(frozen=True)
class Door:
    """The request that takes ``action``: method, path (``{case_id}`` filled in) and body."""

    method: str
    path: str
    body: Any = None


def _bodies(lead_id: str) -> dict[CaseAction, Door]:
    deadline = (utcnow() + timedelta(days=3)).isoformat()
    replace = {"leaving": lead_id, **REASON}
    request = {"deadline": deadline, "items": [{"item_id": ITEM, "instruction": "请整改后拍照"}]}
    return {
        A.assign: Door("POST", f"{CASE}/draw"),
        A.schedule: Door("POST", f"{CASE}/slots", {"slots": [slot(30)]}),
        A.reschedule: Door("POST", f"{CASE}/appointment/reschedule", REASON),
        A.request_reschedule: Door("POST", f"{CASE}/appointment/reschedule", REASON),
        A.start_inspection: Door("POST", f"{CASE}/inspection/start"),
        A.conclude: Door("POST", f"{CASE}/inspection/conclude"),
        A.request_rectification: Door("POST", f"{CASE}/rectification", request),
        A.submit_rectification: Door("POST", f"{CASE}/rectification/submit"),
        A.verify_rectification: Door(
            "POST", f"{CASE}/rectification/items/{ITEM}/review", {"accepted": True, "reason": ""}
        ),
        A.reject_rectification: Door(
            "POST", f"{CASE}/rectification/items/{ITEM}/review", {"accepted": False, **REASON}
        ),
        A.switch_offline: Door("POST", f"{CASE}/switch-onsite", REASON),
        A.submit_draft: Door("POST", f"{CASE}/opinion/submit"),
        A.co_sign: Door("POST", f"{CASE}/opinion/cosign", SIGNED),
        A.decline_cosign: Door("POST", f"{CASE}/opinion/decline", REASON),
        A.approve: Door("POST", f"{CASE}/opinion/approve", SIGNED),
        A.send_back: Door("POST", f"{CASE}/opinion/send-back", SEND_BACK),
        A.close: Door("POST", f"{CASE}/decision", decision_body()),
        A.replace_inspector: Door("POST", f"{CASE}/replace-inspector", replace),
        A.cancel: Door("POST", f"{CASE}/cancel", REASON),
        A.withdraw: Door("POST", f"{CASE}/withdraw", REASON),
    }


def door(action: CaseAction, caller: str, lead_id: str) -> Door | None:
    """How ``caller`` would try ``action``; None where no request of theirs means it (moving
    the appointment is ``request_reschedule`` for the applicant and ``reschedule`` for staff;
    the applicant books an offered slot where the bureau offers them; jobs only: no door)."""
    applicant = caller == "applicant"
    if action is A.mark_no_show or (action is A.reschedule and applicant):
        return None
    if action is A.request_reschedule and not applicant:
        return None
    if action is A.schedule and applicant:
        return Door("POST", f"{CASE}/appointment", {"slot_id": "no-such-slot"})
    return _bodies(lead_id)[action]


async def knock(journey: Journey, headers: Headers, found: Door) -> httpx.Response:
    path = found.path.format(case_id=journey.case_id)
    return await journey.api.client.request(found.method, path, json=found.body, headers=headers)


async def callers(journey: Journey) -> dict[str, Headers]:
    """Every standing a caller can have on the case: each staff role (the case's lead and second
    inspector once assigned) and the applicant's link."""
    api, found = journey.api, {"admin": journey.admin, "dispatcher": journey.dispatcher}
    for role in (Role.reviewer, Role.window, Role.head):
        found[role.value] = (await api.staff_headers(role))[1]
    for position, name in enumerate(("lead", "second")[: len(journey.case["inspector_ids"])]):
        found[name] = journey.inspector_headers(position)
    found["applicant"] = journey.applicant
    return found


async def listed(journey: Journey, headers: Headers) -> list[str] | None:
    """The actions the case lists for this caller, or None when they cannot see it (404)."""
    response = await journey.api.client.get(f"/api/v1/cases/{journey.case_id}", headers=headers)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return list(response.json()["actions"])


def raw_names(problem: dict[str, Any]) -> set[str]:
    """State or action identifiers a refusal shows people: any in the Chinese text; in the
    English, those with an underscore or quoted as a name (an English word may be one)."""
    english = f"{problem['title']} {problem['detail_en']}"
    words = set(re.findall(r"[A-Za-z_]+", problem["detail"]))
    words |= {w for w in re.findall(r"[A-Za-z_]+", english) if "_" in w}
    words |= set(re.findall(r"'([A-Za-z_]+)'", english))
    return words & IDENTIFIERS
