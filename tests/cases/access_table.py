"""The access table: every endpoint, who may call it and what everyone else gets, and the
world of callers it is checked against (used by the access tests and the reliability matrix).

A new endpoint must join ENDPOINTS (``test_every_api_route_is_in_the_access_table`` fails
otherwise). Each row says which callers succeed; everyone else must get the status that the
row's ``others`` gives (403 for a forbidden role on a visible case or a global endpoint, 404 for
a case the caller may not see, 401 without credentials).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from server.auth.models import Role
from server.db import utcnow
from tests.fixtures.app import Api
from tests.flows import decision_body, intake_body, slot

CALLERS = (
    "anonymous",
    "admin",
    "dispatcher",
    "inspector",  # assigned to the case
    "inspector_other",  # not assigned: the case is foreign to them
    "reviewer",
    "window",
    "applicant",  # holds the case's link
    "applicant_other",  # holds another case's link
)
_serial = itertools.count()


@dataclass
class World:
    api: Api
    headers: dict[str, dict[str, str]]
    ids: dict[str, str]  # values for the path placeholders

    @property
    def case_id(self) -> str:
        return self.ids["case_id"]

    def body(self, name: str) -> Any:
        n = next(_serial)
        matter = self.api.ctx.catalogue.matters[0].code
        bodies: dict[str, Callable[[], Any]] = {
            "staff": lambda: {
                "username": f"made{n}",
                "display_name": "新同事",
                "role": "inspector",
                "password": "long enough password",
            },
            "staff_patch": lambda: {"organisation": f"org {n}"},
            "unlock": lambda: {"username": f"made{n}"},
            "api_client": lambda: {"name": f"审批系统{n}", "scopes": ["cases:intake"]},
            "client_patch": lambda: {"active": False},
            "intake": lambda: intake_body(self.api, number=f"ACC-{n}"),
            "profile": lambda: {"matters": [matter]},
            "conflict": lambda: {"kind": "applicant", "value": f"某公司{n}"},
            "override": lambda: {"is_workday": False, "note": "元旦（待国务院公布）"},
            "slots": lambda: {"slots": [slot(2)]},
            "accept": lambda: {"slot_id": "no-such-slot"},
            "reason": lambda: {"reason": "测试理由"},
            "replace": lambda: {"leaving": self.ids["inspector_id"], "reason": "临时出差"},
            "verdict": lambda: {"value": "pass", "evidence_refs": ["snap-1"]},
            "resolution": lambda: {"value": "fail", "reason": "两人意见不一，以现场画面为准"},
            "current_item": lambda: {"item_id": "SH-01"},
            "rating": lambda: {"score": 5, "comment": "满意"},
            "close_note": lambda: {"note": "已电话回访"},
            "answer": lambda: {"answer": "已约谈踏勘人员", "answered_by": "审批科"},
            "complaint": lambda: {"text": f"第 {n} 条投诉：预约没人联系"},
            "probe": lambda: {"filler": "0" * 4096},  # the upload probe counts and drops bytes
            "call": lambda: {"reached": False},
            "comments": lambda: {"comments": "请修改"},
            "send_back": lambda: {"comments": "请修改", "items": ["SH-01"]},
            "sign": lambda: {"password": "the signer's password"},
            "rectification": lambda: {
                "deadline": (utcnow() + timedelta(days=3)).isoformat(),
                "items": [{"item_id": "SH-01", "instruction": "请整改"}],
            },
            "review": lambda: {"accepted": True},
            "quality_decision": lambda: {"decision": "keep"},
            "decision": decision_body,
            "measures": lambda: {"measures": "已约谈主办人员"},
            "procedure": lambda: {
                "kind": "expert_review",
                "reason": "需专家评审",
                "approver_id": self.ids["admin_id"],
            },
            "empty": lambda: {},
            "upload": lambda: {
                "idempotency_key": f"k-{n}-abcdef",
                "content_type": "image/jpeg",
                "size": 1000,
                "sha256": "0" * 64,
            },
        }
        return bodies[name]() if name else None


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    ok: dict[str, int]  # caller -> expected success status
    body: str = ""
    others: dict[str, int] = field(default_factory=dict)  # expected refusals, by caller
    default_refusal: int = 403
    ids: dict[str, str] = field(default_factory=dict)  # placeholder -> key in World.ids


STAFF = ("admin", "dispatcher", "inspector", "inspector_other", "reviewer", "window")
EVERYONE = (*STAFF, "applicant", "applicant_other")
VISIBLE = ("admin", "dispatcher", "inspector", "applicant")
NOT_VISIBLE = {"inspector_other": 404, "reviewer": 404, "window": 404, "applicant_other": 404}
CASE = "/api/v1/cases/{case_id}"
BOARD_READERS = ("admin", "dispatcher", "reviewer")
AN_INSPECTOR = {"staff_id": "inspector_id"}
OPINION = f"{CASE}/opinion"
# In this world the case is "assigned": the draw made "inspector" its lead and paired them with an
# inspector who is no caller here. The lead's writes that need a later state are 409 with the
# allowed next steps.
ENDPOINTS = [
    Endpoint("GET", "/api/v1/auth/me", dict.fromkeys(EVERYONE, 200)),
    Endpoint("POST", "/api/v1/auth/logout", {}),  # exercised in test_auth (it ends the login)
    Endpoint("POST", "/api/v1/auth/login", {}),  # public by design; covered in test_auth
    Endpoint("GET", "/api/v1/ops/health", {"admin": 200}),  # internal details: admin only
    Endpoint("GET", "/api/v1/staff", {"admin": 200, "dispatcher": 200}),
    Endpoint("POST", "/api/v1/staff", {"admin": 201}, body="staff"),
    Endpoint("PATCH", "/api/v1/staff/{staff_id}", {"admin": 200}, body="staff_patch"),
    Endpoint("POST", "/api/v1/auth/unlock", {"admin": 200}, body="unlock"),
    Endpoint("GET", "/api/v1/api-clients", {"admin": 200}),
    Endpoint("POST", "/api/v1/api-clients", {"admin": 201}, body="api_client"),
    Endpoint("POST", "/api/v1/api-clients/{client_id}/rotate", {"admin": 404}),
    Endpoint("PATCH", "/api/v1/api-clients/{client_id}", {"admin": 404}, body="client_patch"),
    Endpoint("GET", "/api/v1/inspectors", {"admin": 200, "dispatcher": 200}),
    Endpoint(
        "PUT", "/api/v1/inspectors/{staff_id}/profile", {"admin": 200}, "profile", ids=AN_INSPECTOR
    ),
    Endpoint(
        "POST",
        "/api/v1/inspectors/{staff_id}/conflicts",
        {"admin": 201, "inspector": 201},  # the inspector declares their own
        "conflict",
        ids=AN_INSPECTOR,
    ),
    Endpoint("GET", "/api/v1/calendar/overrides", {"admin": 200, "dispatcher": 200}),
    Endpoint("PUT", "/api/v1/calendar/overrides/{date}", {"admin": 200}, "override"),
    Endpoint("DELETE", "/api/v1/calendar/overrides/{date}", {"admin": 204}),
    Endpoint("GET", "/api/v1/feed", dict.fromkeys(EVERYONE, 200)),
    Endpoint("GET", "/api/v1/matters", dict.fromkeys(EVERYONE, 200)),
    Endpoint("POST", "/api/v1/cases", {"admin": 201, "dispatcher": 201}, body="intake"),
    Endpoint("GET", "/api/v1/cases", dict.fromkeys(EVERYONE, 200)),
    Endpoint("GET", "/api/v1/cases/page", dict.fromkeys(EVERYONE, 200)),
    Endpoint("GET", CASE, dict.fromkeys(VISIBLE, 200), others=NOT_VISIBLE),
    Endpoint("GET", f"{CASE}/clock", dict.fromkeys(VISIBLE, 200), others=NOT_VISIBLE),
    Endpoint("GET", f"{CASE}/notifications", {"admin": 200, "dispatcher": 200}, others=NOT_VISIBLE),
    Endpoint(  # the case has its pair: supervisors pass the role check, a redraw is refused
        "POST", f"{CASE}/draw", {}, others={**NOT_VISIBLE, "admin": 409, "dispatcher": 409}
    ),
    Endpoint("GET", f"{CASE}/draws", {"admin": 200, "dispatcher": 200}, others=NOT_VISIBLE),
    Endpoint("POST", "/api/v1/draws/{draw_id}/replay", {"admin": 200, "dispatcher": 200}),
    Endpoint(
        "POST",
        f"{CASE}/replace-inspector",
        {},
        "replace",
        # no eligible inspector is left to step in
        others={**NOT_VISIBLE, "admin": 409, "dispatcher": 409},
    ),
    Endpoint("GET", f"{CASE}/appointment", dict.fromkeys(VISIBLE, 200), others=NOT_VISIBLE),
    Endpoint("POST", f"{CASE}/slots", {"inspector": 201}, "slots", others=NOT_VISIBLE),  # the lead
    # The slots are offered: the applicant may take one, but there is no such slot.
    Endpoint("POST", f"{CASE}/appointment", {}, "accept", others={**NOT_VISIBLE, "applicant": 404}),
    Endpoint(
        "POST",
        f"{CASE}/appointment/reschedule",
        {},
        "reason",
        others={**NOT_VISIBLE, "dispatcher": 409, "inspector": 409, "applicant": 409},
    ),
    Endpoint("POST", f"{CASE}/inspection/start", {}, others={**NOT_VISIBLE, "inspector": 409}),
    Endpoint("POST", f"{CASE}/inspection/conclude", {}, others={**NOT_VISIBLE, "inspector": 409}),
    Endpoint("GET", f"{CASE}/checklist", dict.fromkeys(VISIBLE, 200), others=NOT_VISIBLE),
    Endpoint(
        "GET",
        f"{CASE}/checklist/open",
        {"admin": 200, "dispatcher": 200, "inspector": 200},
        others=NOT_VISIBLE,
    ),
    Endpoint(
        "PUT",
        f"{CASE}/checklist/items/{{item_id}}/verdict",
        {},
        "verdict",
        others={**NOT_VISIBLE, "inspector": 409},
    ),
    Endpoint(
        "POST",
        f"{CASE}/checklist/items/{{item_id}}/resolution",
        {},
        "resolution",
        others={**NOT_VISIBLE, "inspector": 409},
    ),
    Endpoint(
        "PUT",
        f"{CASE}/checklist/current",
        {},
        "current_item",
        others={**NOT_VISIBLE, "inspector": 409},
    ),
    Endpoint("GET", f"{CASE}/guide", dict.fromkeys(VISIBLE, 200), others=NOT_VISIBLE),
    Endpoint("GET", f"{CASE}/guide.pdf", dict.fromkeys(VISIBLE, 200), others=NOT_VISIBLE),
    Endpoint("POST", f"{CASE}/links", {"admin": 201, "dispatcher": 201}, others=NOT_VISIBLE),
    Endpoint("GET", "/api/v1/board", {"admin": 200, "dispatcher": 200, "reviewer": 200}),
    Endpoint("GET", "/api/v1/follow-ups", {"admin": 200, "dispatcher": 200, "reviewer": 200}),
    # No follow-up exists here: supervisors pass the role check and find nothing.
    Endpoint(
        "POST",
        "/api/v1/follow-ups/{follow_up_id}/close",
        {"admin": 404, "dispatcher": 404},
        "close_note",
    ),
    Endpoint(
        "POST",
        "/api/v1/follow-ups/{follow_up_id}/answer",
        {"admin": 404, "dispatcher": 404},
        "answer",
    ),
    Endpoint("GET", f"{CASE}/progress", dict.fromkeys(VISIBLE, 200), others=NOT_VISIBLE),
    Endpoint("POST", f"{CASE}/complaints", {"applicant": 201}, "complaint", others=NOT_VISIBLE),
    Endpoint("POST", f"{CASE}/uplink-probe", {"applicant": 200}, "probe", others=NOT_VISIBLE),
    Endpoint("GET", f"{CASE}/complaints", dict.fromkeys(VISIBLE, 200), others=NOT_VISIBLE),
    Endpoint("GET", "/api/v1/phone-follow-ups", {"admin": 200, "dispatcher": 200}),
    # The case is only "assigned": supervisors may record a call, but not yet (409).
    Endpoint(
        "POST",
        f"{CASE}/phone-follow-up",
        {"admin": 409, "dispatcher": 409},
        "call",
        others=NOT_VISIBLE,
    ),
    # The case is only "assigned": the applicant may rate, but not yet (409).
    Endpoint("POST", f"{CASE}/rating", {"applicant": 409}, "rating", others=NOT_VISIBLE),
    Endpoint("GET", f"{CASE}/rating", dict.fromkeys(VISIBLE, 200), others=NOT_VISIBLE),
    # The opinion: the case is "assigned" and has none yet.
    Endpoint("POST", f"{OPINION}/draft", {}, others={**NOT_VISIBLE, "inspector": 409}),
    Endpoint("POST", f"{OPINION}/submit", {}, others={**NOT_VISIBLE, "inspector": 409}),
    Endpoint("POST", f"{OPINION}/cosign", {}, "sign", others=NOT_VISIBLE),  # "inspector": lead
    Endpoint("POST", f"{OPINION}/decline", {}, "reason", others=NOT_VISIBLE),
    Endpoint("POST", f"{OPINION}/approve", {}, "sign", others=NOT_VISIBLE),
    Endpoint("POST", f"{OPINION}/send-back", {}, "send_back", others=NOT_VISIBLE),
    Endpoint("POST", f"{OPINION}/correct", {}, "reason", others={**NOT_VISIBLE, "inspector": 409}),
    Endpoint("GET", OPINION, {}, others={**NOT_VISIBLE, **dict.fromkeys(VISIBLE, 404)}),
    Endpoint("GET", f"{OPINION}/pdf", {}, others={**NOT_VISIBLE, **dict.fromkeys(VISIBLE, 404)}),
    Endpoint(
        "GET",
        f"{OPINION}/preview.pdf",
        {},
        others={**NOT_VISIBLE, **dict.fromkeys(VISIBLE, 404), "applicant": 403},
    ),
    # The twin and the bundle: window/admin (and API clients); none issued yet here.
    Endpoint("GET", f"{OPINION}/json", {}, others={**NOT_VISIBLE, "admin": 404}),
    Endpoint("GET", f"{OPINION}/json/signature", {}, others={**NOT_VISIBLE, "admin": 404}),
    Endpoint("GET", f"{OPINION}/bundle", {}, others={**NOT_VISIBLE, "admin": 404}),
    Endpoint("GET", "/api/v1/opinions", {"admin": 200, "window": 200}),
    Endpoint("POST", "/api/v1/opinions/{opinion_id}/acknowledge", {}, others={"window": 404}),
    # Public: anyone may check a code; an unknown one is simply not found.
    Endpoint("GET", "/verify/{code}", dict.fromkeys(("anonymous", *EVERYONE), 404)),
    Endpoint("GET", "/verify/{code}.html", dict.fromkeys(("anonymous", *EVERYONE), 404)),
    # Uploads need the right moment: in_progress (inspector), rectification_requested (applicant).
    Endpoint(
        "POST",
        f"{CASE}/uploads",
        {},
        "upload",
        others={**NOT_VISIBLE, "inspector": 409, "applicant": 409},
    ),
    Endpoint(
        "POST",
        f"{CASE}/uploads/{{upload_id}}/finalize",
        {},
        others={**NOT_VISIBLE, "inspector": 404, "applicant": 404},  # no such upload
    ),
    Endpoint("GET", f"{CASE}/uploads", dict.fromkeys(VISIBLE, 200), others=NOT_VISIBLE),
    Endpoint("GET", f"{CASE}/rectification", dict.fromkeys(VISIBLE, 200), others=NOT_VISIBLE),
    Endpoint(
        "POST",
        f"{CASE}/rectification",
        {},
        "rectification",
        others={**NOT_VISIBLE, "inspector": 409},
    ),
    Endpoint("POST", f"{CASE}/rectification/submit", {}, others={**NOT_VISIBLE, "applicant": 409}),
    Endpoint(
        "POST",
        f"{CASE}/rectification/items/{{item_id}}/review",
        {},
        "review",
        others={**NOT_VISIBLE, "inspector": 409},
    ),
    # Evidence: there is none in this world, so who may look finds nothing.
    Endpoint("GET", f"{CASE}/evidence", dict.fromkeys(VISIBLE, 200), others=NOT_VISIBLE),
    Endpoint(
        "GET",
        f"{CASE}/evidence/{{evidence_id}}/url",
        {},
        others={**NOT_VISIBLE, "admin": 404, "dispatcher": 404, "inspector": 404},
    ),
    Endpoint(  # originals keep GPS/EXIF: staff only (the applicant is refused by role)
        "GET",
        f"{CASE}/evidence/{{evidence_id}}/original/url",
        {},
        others={**NOT_VISIBLE, "admin": 404, "dispatcher": 404, "inspector": 404},
    ),
    Endpoint(  # keep or retake a flagged photo: whoever sees the case finds no such photo
        "POST",
        f"{CASE}/evidence/{{evidence_id}}/quality-decision",
        {},
        "quality_decision",
        others={**NOT_VISIBLE, "admin": 404, "dispatcher": 404, "inspector": 404, "applicant": 404},
    ),
    Endpoint(
        "GET",
        f"{CASE}/recordings",
        {"admin": 200, "dispatcher": 200, "inspector": 200},
        others=NOT_VISIBLE,
    ),
    Endpoint(  # no track is recorded in this world: staff who may look get 404 for it
        "GET",
        f"{CASE}/recordings/{{track_id}}.webm",
        {},
        others={**NOT_VISIBLE, "admin": 404, "dispatcher": 404, "inspector": 404},
    ),
    # The decision (办结): window staff decide on issued cases (this one is only "assigned", so
    # they do not see it); the supervisors, the inspector and the applicant are refused by role.
    Endpoint("POST", f"{CASE}/decision", {}, "decision", others=NOT_VISIBLE),
    Endpoint("GET", f"{CASE}/decision", {}, others={**NOT_VISIBLE, **dict.fromkeys(VISIBLE, 404)}),
    # Supervision orders (督办单): none exists in this world (no red card).
    Endpoint(
        "GET",
        "/api/v1/supervision-orders",
        dict.fromkeys(("admin", "dispatcher", "inspector", "inspector_other"), 200),
    ),
    Endpoint(
        "GET",
        "/api/v1/supervision-orders/{order_id}",
        dict.fromkeys(("admin", "dispatcher", "inspector", "inspector_other"), 404),
    ),
    Endpoint(
        "POST",
        "/api/v1/supervision-orders/{order_id}/reason",
        {"inspector": 404, "inspector_other": 404},
        "reason",
    ),
    Endpoint("POST", "/api/v1/supervision-orders/{order_id}/answer", {"admin": 404}, "measures"),
    # Special procedures (特别程序): the admin may not name themself as approver (422); the
    # dispatcher's request (approver: the admin) is the case's one open request, so the lead's
    # is refused (409).
    Endpoint(
        "POST",
        f"{CASE}/special-procedures",
        {"admin": 422, "dispatcher": 201, "inspector": 409},
        "procedure",
        others=NOT_VISIBLE,
    ),
    Endpoint(
        "GET",
        f"{CASE}/special-procedures",
        dict.fromkeys(("admin", "dispatcher", "inspector"), 200),
        others=NOT_VISIBLE,
    ),
    Endpoint("GET", "/api/v1/special-procedures", dict.fromkeys(BOARD_READERS, 200)),
    Endpoint("POST", "/api/v1/special-procedures/{procedure_id}/approve", {"admin": 404}, "empty"),
    Endpoint("POST", "/api/v1/special-procedures/{procedure_id}/decline", {"admin": 404}, "empty"),
    Endpoint(
        "POST",
        "/api/v1/special-procedures/{procedure_id}/end",
        dict.fromkeys(("admin", "dispatcher", "inspector", "inspector_other"), 404),
        "empty",
    ),
    # Rows below change the world for what follows, so they come last.
    Endpoint(
        "POST",
        f"{CASE}/switch-onsite",
        {"admin": 200},
        "reason",
        # The admin (asked first) sends the case on site: then it already is, for the
        # dispatcher and the lead ("inspector").
        others={**NOT_VISIBLE, "dispatcher": 409, "inspector": 409},
    ),
    Endpoint(
        "DELETE",
        f"{CASE}/links/{{link_id}}",
        {"admin": 204},
        # The admin (asked first) revokes the link: then it is gone for the dispatcher, and
        # the applicant's own token, being that link, no longer authenticates.
        others={**NOT_VISIBLE, "dispatcher": 404, "applicant": 401},
    ),
    # Resending stops every live link of the case (the applicant's is already revoked above).
    Endpoint(
        "POST",
        f"{CASE}/links/resend",
        {"admin": 201, "dispatcher": 201},
        others={**NOT_VISIBLE, "applicant": 401},
    ),
    Endpoint(
        "POST",
        f"{CASE}/cancel",
        {"admin": 200},
        "reason",
        others={**NOT_VISIBLE, "dispatcher": 409, "applicant": 401},  # already cancelled
    ),
    # Only the case's applicant withdraws (staff are refused by role; the link is revoked).
    Endpoint("POST", f"{CASE}/withdraw", {}, "reason", others={**NOT_VISIBLE, "applicant": 401}),
]
UNCHECKED = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/login")}


async def _new_case(api: Api, headers: dict[str, str], number: str) -> str:
    response = await api.client.post(
        "/api/v1/cases", json=intake_body(api, number=number), headers=headers
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    return case_id


async def _link(api: Api, headers: dict[str, str], case_id: str) -> dict[str, Any]:
    response = await api.client.post(f"/api/v1/cases/{case_id}/links", headers=headers)
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


async def _drawn_lead(
    api: Api, headers: dict[str, dict[str, str]], staff_ids: dict[str, str], case_id: str
) -> str:
    """The admin qualifies "inspector" and one more inspector (made the same way, not a caller
    of the table) for the case's matter, so they are the only eligible pair, and the dispatcher
    draws: whichever the draw made lead becomes "inspector". Returns the draw's id."""
    partner, partner_headers = await api.staff_headers(Role.inspector)
    matter = api.ctx.catalogue.matters[0].code
    for staff_id in (staff_ids["inspector"], partner.id):
        profiled = await api.client.put(
            f"/api/v1/inspectors/{staff_id}/profile",
            json={"matters": [matter], "active": True},
            headers=headers["admin"],
        )
        assert profiled.status_code == 200, profiled.text
    drawn = await api.client.post(f"/api/v1/cases/{case_id}/draw", headers=headers["dispatcher"])
    assert drawn.status_code == 200, drawn.text
    pair = drawn.json()["pair"]
    assert sorted(pair) == sorted([staff_ids["inspector"], partner.id]), drawn.text
    if pair[0] == partner.id:  # the draw made the other one lead: they play "inspector"
        staff_ids["inspector"], headers["inspector"] = partner.id, partner_headers
    draw_id: str = drawn.json()["draw_id"]
    return draw_id


async def build_world(api: Api) -> World:
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    staff_ids: dict[str, str] = {}
    roles = {"inspector_other": Role.inspector}
    for caller in STAFF:
        staff, headers[caller] = await api.staff_headers(roles.get(caller) or Role(caller))
        staff_ids[caller] = staff.id
    case_id = await _new_case(api, headers["dispatcher"], "ACC-MAIN")
    other_case = await _new_case(api, headers["dispatcher"], "ACC-OTHER")
    draw_id = await _drawn_lead(api, headers, staff_ids, case_id)
    link = await _link(api, headers["dispatcher"], case_id)
    headers["applicant"] = {"Authorization": f"Bearer {link['token']}"}
    other_link = await _link(api, headers["dispatcher"], other_case)
    headers["applicant_other"] = {"Authorization": f"Bearer {other_link['token']}"}
    ids = {
        "case_id": case_id,
        "staff_id": staff_ids["window"],
        "inspector_id": staff_ids["inspector"],
        "link_id": link["id"],
        "draw_id": draw_id,
        "item_id": "SH-01",
        "date": "2027-01-01",
        "follow_up_id": "0" * 32,
        "opinion_id": "no-such-opinion",
        "evidence_id": "0" * 32,
        "track_id": "applicant.video",
        "upload_id": "no-such-upload",
        "code": "NONE-NONE-NONE-NONE",
        "client_id": "no-such-client",
        "order_id": "no-such-order",
        "procedure_id": "no-such-procedure",
        "admin_id": staff_ids["admin"],
    }
    return World(api, headers, ids)
