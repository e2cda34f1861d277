"""Which endpoint carries each case action, and who may call it: the table behind the check
that no case can be left in a state no user action leaves."""

from __future__ import annotations

from typing import NamedTuple

from server.cases.states import CaseAction

A = CaseAction
CASE = "/api/v1/cases/{case_id}"


class Door(NamedTuple):
    method: str
    path: str
    callers: tuple[str, ...]  # staff roles, "applicant" (the link) or "api_client"


DOORS: dict[CaseAction, Door] = {
    A.assign: Door("POST", f"{CASE}/draw", ("dispatcher", "admin")),
    A.schedule: Door("POST", f"{CASE}/appointment", ("applicant",)),
    A.reschedule: Door("POST", f"{CASE}/appointment/reschedule", ("dispatcher", "inspector")),
    A.request_reschedule: Door("POST", f"{CASE}/appointment/reschedule", ("applicant",)),
    A.start_inspection: Door("POST", f"{CASE}/inspection/start", ("inspector",)),
    A.conclude: Door("POST", f"{CASE}/inspection/conclude", ("inspector",)),
    A.switch_offline: Door("POST", f"{CASE}/inspection/conclude", ("inspector",)),
    A.request_rectification: Door("POST", f"{CASE}/rectification", ("inspector",)),
    A.submit_rectification: Door("POST", f"{CASE}/rectification/submit", ("applicant",)),
    A.verify_rectification: Door(
        "POST", f"{CASE}/rectification/items/{{item_id}}/review", ("inspector",)
    ),
    A.reject_rectification: Door(
        "POST", f"{CASE}/rectification/items/{{item_id}}/review", ("inspector",)
    ),
    A.submit_draft: Door("POST", f"{CASE}/opinion/submit", ("inspector",)),
    A.co_sign: Door("POST", f"{CASE}/opinion/cosign", ("inspector",)),
    A.decline_cosign: Door("POST", f"{CASE}/opinion/decline", ("inspector",)),
    A.approve: Door("POST", f"{CASE}/opinion/approve", ("reviewer",)),
    A.send_back: Door("POST", f"{CASE}/opinion/send-back", ("reviewer",)),
    A.close: Door("POST", f"{CASE}/decision", ("window", "api_client")),
    A.replace_inspector: Door("POST", f"{CASE}/replace-inspector", ("dispatcher", "admin")),
    A.cancel: Door("POST", f"{CASE}/cancel", ("dispatcher", "admin")),
    A.withdraw: Door("POST", f"{CASE}/withdraw", ("applicant",)),
}

# Moved only by a scheduled job, never by a person (the no-show rule).
JOB_ONLY: frozenset[CaseAction] = frozenset({A.mark_no_show})
