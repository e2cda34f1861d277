"""Steps of the real journey, driven through the API, for tests that need a case in some state."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import httpx

from server.auth.models import Role, Staff
from server.cases.states import CaseState
from server.db import utcnow
from server.platform.time import CHINA_TZ
from server.scheduler import run_order_escalation, run_sla_tick
from server.sla.calendar import WorkCalendar
from tests.fixtures.app import PASSWORD, Api
from tests.images import jpeg

# The body of a signing step (co-sign, approve): the signer confirms with their password.
SIGNED = {"password": PASSWORD}

Headers = dict[str, str]  # an HTTP caller: staff bearer, applicant link or API client key


def intake_body(api: Api, number: str = "SQ-2026-0001", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "application_no": number,
        "applicant": {
            "kind": "company",
            "name": "惠民便利店有限公司",
            "id_no": "91350100MA2XXXXX0K",
            "phone": "13800138000",
        },
        "site": {"address": "福州市鼓楼区东街88号", "lat": 26.0878, "lng": 119.3036},
        "matters": [api.ctx.catalogue.matters[0].code],
    }
    body.update(changes)
    return body


@dataclass
class Journey:
    api: Api
    dispatcher: dict[str, str]
    admin: dict[str, str]
    inspectors: list[Staff] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # by staff id
    case: dict[str, Any] = field(default_factory=dict)
    applicant: dict[str, str] = field(default_factory=dict)
    made: set[str] = field(default_factory=set)  # upload and evidence ids the steps made

    @property
    def case_id(self) -> str:
        return str(self.case["id"])

    def inspector_headers(self, position: int) -> dict[str, str]:
        """Headers of the case's lead (0) or second (1) inspector."""
        return self.headers[self.case["inspector_ids"][position]]


async def start_journey(api: Api) -> Journey:
    _, dispatcher = await api.staff_headers(Role.dispatcher)
    _, admin = await api.staff_headers(Role.admin)
    return Journey(api, dispatcher, admin)


async def log_in_again(journey: Journey) -> None:
    """Everyone logs in anew (after the clock moved past a login's lifetime): the case's
    inspectors with their accounts, a new dispatcher and a new admin."""
    for staff in journey.inspectors:
        journey.headers[staff.id] = await journey.api.login(staff.username)
    _, journey.dispatcher = await journey.api.staff_headers(Role.dispatcher)
    _, journey.admin = await journey.api.staff_headers(Role.admin)


async def add_inspector(
    journey: Journey, matters: list[str], *, active: bool = True, organisation: str = ""
) -> Staff:
    api = journey.api
    staff = await api.create_staff(Role.inspector)
    if organisation:
        staff.organisation = organisation
    response = await api.client.put(
        f"/api/v1/inspectors/{staff.id}/profile",
        json={"matters": matters, "active": active},
        headers=journey.admin,
    )
    assert response.status_code == 200, response.text
    journey.inspectors.append(staff)
    journey.headers[staff.id] = await api.login(staff.username)
    return staff


async def open_case(journey: Journey, number: str = "SQ-1", **changes: Any) -> dict[str, Any]:
    api = journey.api
    response = await api.client.post(
        "/api/v1/cases", json=intake_body(api, number=number, **changes), headers=journey.dispatcher
    )
    assert response.status_code == 201, response.text
    journey.case = response.json()
    link = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/links", headers=journey.dispatcher
    )
    assert link.status_code == 201, link.text
    journey.applicant = {"Authorization": f"Bearer {link.json()['token']}"}
    return journey.case


async def refresh(journey: Journey) -> dict[str, Any]:
    response = await journey.api.client.get(
        f"/api/v1/cases/{journey.case_id}", headers=journey.dispatcher
    )
    assert response.status_code == 200, response.text
    journey.case = response.json()
    return journey.case


async def assign(journey: Journey, pool: int = 3, matter: str | None = None) -> dict[str, Any]:
    """A case with a drawn pair: ``pool`` inspectors qualified for ``matter`` (the default
    matter when None; open the case with that matter before)."""
    matter = matter or journey.api.ctx.catalogue.matters[0].code
    for i in range(pool):
        await add_inspector(journey, [matter])
        del i
    if not journey.case:
        await open_case(journey)
    response = await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/draw", headers=journey.dispatcher
    )
    assert response.status_code == 200, response.text
    assert response.json()["pair"], response.text
    return await refresh(journey)


def slot(hours_from_now: float, minutes: int = 60, now: datetime | None = None) -> dict[str, str]:
    """A slot ``hours_from_now`` ahead; one that would fall on a rest day (no bookings then)
    moves to the next working day, the same time after 09:00 as it was after ``now``."""
    now = now or utcnow()
    start = now + timedelta(hours=hours_from_now)
    calendar = WorkCalendar()
    if hours_from_now > 0 and not calendar.is_workday(start.astimezone(CHINA_TZ).date()):
        day = start.astimezone(CHINA_TZ).date()
        while not calendar.is_workday(day):
            day += timedelta(days=1)
        start = datetime.combine(day, time(9), tzinfo=CHINA_TZ) + (start - now)
    return {
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
    }


async def schedule(journey: Journey) -> dict[str, Any]:
    """Assign, then the lead offers two slots and the applicant takes the first."""
    if not journey.case or not journey.case.get("inspector_ids"):
        await assign(journey)
    return await _agree_slot(journey)


async def _agree_slot(journey: Journey) -> dict[str, Any]:
    """The lead offers two slots and the applicant takes the first."""
    await agree_slot(journey.api, journey.case_id, journey.inspector_headers(0), journey.applicant)
    return await refresh(journey)


async def agree_slot(
    api: Api, case_id: str, lead: dict[str, str], applicant: dict[str, str]
) -> None:
    """The lead offers two slots and the applicant takes the first (the case is scheduled)."""
    offered = await api.client.post(
        f"/api/v1/cases/{case_id}/slots", json={"slots": [slot(2), slot(5)]}, headers=lead
    )
    assert offered.status_code == 201, offered.text
    accepted = await api.client.post(
        f"/api/v1/cases/{case_id}/appointment",
        json={"slot_id": offered.json()[0]["id"]},
        headers=applicant,
    )
    assert accepted.status_code == 200, accepted.text


async def rebook(
    api: Api, case_id: str, bureau: dict[str, str], lead: dict[str, str], applicant: dict[str, str]
) -> None:
    """The bureau (dispatcher or one of the case's inspectors) moves the appointment — an
    interrupted call — and a new slot is agreed: the case is scheduled again."""
    moved = await api.client.post(
        f"/api/v1/cases/{case_id}/appointment/reschedule",
        json={"reason": "通话中断，重新预约"},
        headers=bureau,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["state"] == "assigned", moved.text
    await agree_slot(api, case_id, lead, applicant)


async def reschedule(journey: Journey) -> dict[str, Any]:
    """A scheduled case (scheduling it first if needed) whose applicant asks for another time,
    which pauses its SLA clock; then a new slot is agreed, which resumes it."""
    await ask_for_another_time(journey)
    return await _agree_slot(journey)


async def ask_for_another_time(journey: Journey) -> dict[str, Any]:
    """Schedule if needed, then the applicant asks for another time (改约): the case waits on
    the applicant until a new slot is agreed (``book``)."""
    if not journey.case or journey.case.get("state") != "scheduled":
        await schedule(journey)
    asked = await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/appointment/reschedule",
        json={"reason": "店里装修延期"},
        headers=journey.applicant,
    )
    assert asked.status_code == 200, asked.text
    return await refresh(journey)


async def book(journey: Journey) -> dict[str, Any]:
    """The lead offers two slots and the applicant takes the first: the case is scheduled."""
    return await _agree_slot(journey)


async def start_inspection(journey: Journey) -> dict[str, Any]:
    """Schedule if needed, then the lead starts the inspection (the case is in progress)."""
    if not journey.case or journey.case.get("state") != "scheduled":
        await schedule(journey)
    started = await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/start", headers=journey.inspector_headers(0)
    )
    assert started.status_code == 200, started.text
    return await refresh(journey)


async def upload_photo(
    api: Api, case_id: str, headers: Headers, item_ids: list[str], data: bytes | None = None
) -> httpx.Response:
    """The phone's three steps (announce, POST to the store, finalize) for ``data`` (a sharp
    camera-like JPEG when None); the finalize answer."""
    data = jpeg((320, 240)) if data is None else data
    body = {"idempotency_key": secrets.token_hex(8), "content_type": "image/jpeg"}
    body |= {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "item_ids": item_ids}
    base = f"/api/v1/cases/{case_id}/uploads"
    announced = await api.client.post(base, json=body, headers=headers)
    if announced.status_code != 201:
        return announced
    form = announced.json()["form"]
    async with httpx.AsyncClient() as s3:
        files = {"file": ("photo.jpg", data, "image/jpeg")}
        sent = await s3.post(form["url"], data=form["fields"], files=files)
    assert sent.status_code == 204, sent.text
    return await api.client.post(f"{base}/{announced.json()['id']}/finalize", headers=headers)


async def photo(journey: Journey, headers: Headers, item_id: str, data: bytes | None = None) -> str:
    """A photo of ``item_id`` (``data``, else a sharp one) to the case; its evidence id."""
    done = await upload_photo(journey.api, journey.case_id, headers, [item_id], data)
    assert done.status_code == 200, done.text
    journey.made |= {str(done.json()["id"]), str(done.json()["evidence"]["id"])}
    return str(done.json()["evidence"]["id"])


async def decide_on_photo(journey: Journey, headers: Headers, evidence: str, decision: str) -> Any:
    """The photo's taker keeps a flagged photo or sets it aside to retake (the answer)."""
    path = f"/api/v1/cases/{journey.case_id}/evidence/{evidence}/quality-decision"
    return await journey.api.client.post(path, json={"decision": decision}, headers=headers)


async def api_client_key(journey: Journey, scopes: list[str]) -> dict[str, str]:
    """An API client (the approval system) made by the admin, as its bearer headers."""
    response = await journey.api.client.post(
        "/api/v1/api-clients",
        json={"name": f"审批系统 {len(journey.headers)}", "scopes": scopes},
        headers=journey.admin,
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


async def callers(journey: Journey) -> dict[str, dict[str, str]]:
    """Headers of every kind of caller on a scheduled case: each staff role, the case's lead
    inspector, its applicant link, an API client with every scope, and nobody."""
    if not journey.case or not journey.case.get("inspector_ids"):
        await schedule(journey)
    api = journey.api
    _, reviewer = await api.staff_headers(Role.reviewer)
    _, window = await api.staff_headers(Role.window)
    client = await api_client_key(
        journey, ["cases:intake", "cases:read_results", "decisions:write"]
    )
    return {
        "anonymous": {},
        "admin": journey.admin,
        "dispatcher": journey.dispatcher,
        "inspector": journey.inspector_headers(0),
        "reviewer": reviewer,
        "window": window,
        "applicant": journey.applicant,
        "api_client": client,
    }


async def conclude(api: Api, case_id: str, lead: dict[str, str]) -> dict[str, Any]:
    """The lead ends the video inspection (结束踏勘) once every item is settled: the case goes
    on to drafting. Returns the endpoint's answer."""
    response = await api.client.post(f"/api/v1/cases/{case_id}/inspection/conclude", headers=lead)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def request_rectification(journey: Journey, item_id: str = "SH-02") -> dict[str, Any]:
    """On a case in progress both inspectors fail the rectifiable ``item_id``, citing a photo the
    second took of it, and the lead asks the applicant to put it right within three days."""
    client, case_id = journey.api.client, journey.case_id
    cited = await photo(journey, journey.inspector_headers(1), item_id)
    for position in (0, 1):
        marked = await client.put(
            f"/api/v1/cases/{case_id}/checklist/items/{item_id}/verdict",
            json={"value": "fail", "note": "", "evidence_refs": [cited]},
            headers=journey.inspector_headers(position),
        )
        assert marked.status_code == 200, marked.text
    deadline = utcnow() + timedelta(days=3)
    item = {"item_id": item_id, "instruction": f"请整改 {item_id} 并从同一角度拍照"}
    requested = await client.post(
        f"/api/v1/cases/{case_id}/rectification",
        json={"deadline": deadline.isoformat(), "items": [item]},
        headers=journey.inspector_headers(0),
    )
    assert requested.status_code == 201, requested.text
    return await refresh(journey)


async def submit_rectification(journey: Journey, item_id: str = "SH-02") -> dict[str, Any]:
    """The applicant photographs the put-right ``item_id`` and hands the round in (补正提交)."""
    await photo(journey, journey.applicant, item_id)
    submitted = await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/rectification/submit", headers=journey.applicant
    )
    assert submitted.status_code == 200, submitted.text
    return await refresh(journey)


async def reject_rectification(journey: Journey, item_id: str = "SH-02") -> dict[str, Any]:
    """Both inspectors reject the submitted photo of ``item_id``: the applicant must redo it."""
    for position in (0, 1):
        reviewed = await journey.api.client.post(
            f"/api/v1/cases/{journey.case_id}/rectification/items/{item_id}/review",
            json={"accepted": False, "reason": "照片看不清整改后的状态，请重拍"},
            headers=journey.inspector_headers(position),
        )
        assert reviewed.status_code == 200, reviewed.text
    return await refresh(journey)


async def cancel(journey: Journey, reason: str = "申请人撤回申请") -> dict[str, Any]:
    """The dispatcher cancels the case (撤销) with a reason."""
    response = await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/cancel",
        json={"reason": reason},
        headers=journey.dispatcher,
    )
    assert response.status_code == 200, response.text
    return await refresh(journey)


async def withdraw(journey: Journey, reason: str = "店铺不再经营，撤回申请") -> httpx.Response:
    """The applicant withdraws the application (撤回申请) through their link; the answer."""
    return await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/withdraw",
        json={"reason": reason},
        headers=journey.applicant,
    )


async def issue(
    api: Api, case_id: str, lead: dict[str, str], second: dict[str, str]
) -> dict[str, Any]:
    """Every item settled: the lead concludes, drafts and signs, the second co-signs and a
    reviewer approves, which issues the opinion (出具意见). Returns the issued opinion."""
    await conclude(api, case_id, lead)
    base = f"/api/v1/cases/{case_id}/opinion"
    for step, who in (("draft", lead), ("submit", lead), ("cosign", second)):
        body = SIGNED if step == "cosign" else None
        response = await api.client.post(f"{base}/{step}", json=body, headers=who)
        assert response.status_code == 200, f"{step}: {response.text}"
    _, reviewer = await api.staff_headers(Role.reviewer)
    approved = await api.client.post(f"{base}/approve", json=SIGNED, headers=reviewer)
    assert approved.status_code == 200, approved.text
    body: dict[str, Any] = approved.json()
    return body


async def pass_every_item(journey: Journey) -> None:
    """On a case in progress both inspectors pass every checklist item, each verdict citing
    one photo the lead took of the site."""
    api, case_id, lead = journey.api, journey.case_id, journey.inspector_headers(0)
    listing = await api.client.get(f"/api/v1/cases/{case_id}/checklist", headers=lead)
    assert listing.status_code == 200, listing.text
    done = await upload_photo(api, case_id, lead, [])
    assert done.status_code == 200, done.text
    journey.made |= {str(done.json()["id"]), str(done.json()["evidence"]["id"])}
    verdict = {"value": "pass", "note": "", "evidence_refs": [done.json()["evidence"]["id"]]}
    for entry in listing.json()["items"]:
        for position in (0, 1):
            marked = await api.client.put(
                f"/api/v1/cases/{case_id}/checklist/items/{entry['id']}/verdict",
                json=verdict,
                headers=journey.inspector_headers(position),
            )
            assert marked.status_code == 200, marked.text


async def issue_opinion(journey: Journey) -> dict[str, Any]:
    """Start the inspection if needed, pass every item and issue the opinion (出具意见): the
    case is issued."""
    if not journey.case or journey.case.get("state") != "in_progress":
        await start_inspection(journey)
    await pass_every_item(journey)
    await issue(journey.api, journey.case_id, *map(journey.inspector_headers, (0, 1)))
    return await refresh(journey)


async def switch_onsite(
    journey: Journey, reason: str = "面积和间距需要现场量尺核对", by: Headers | None = None
) -> dict[str, Any]:
    """A dispatcher (or ``by``, e.g. the lead) switches the case to an on-site visit (转线下踏勘)
    with a reason: the case waits for the visit. Returns the refreshed case."""
    response = await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/switch-onsite",
        json={"reason": reason},
        headers=by or journey.dispatcher,
    )
    assert response.status_code == 200, response.text
    case = await refresh(journey)
    assert (case["state"], case["mode"]) == (CaseState.offline_pending, "offline_onsite"), case
    return case


async def issue_onsite(journey: Journey) -> dict[str, Any]:
    """On a case waiting for its on-site visit, the lead starts the inspection on site (the same
    console on a phone), both pass every item and the opinion is issued: the case is issued."""
    started = await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/start", headers=journey.inspector_headers(0)
    )
    assert started.status_code == 200, started.text
    await pass_every_item(journey)
    await issue(journey.api, journey.case_id, *map(journey.inspector_headers, (0, 1)))
    return await refresh(journey)


def decision_body(outcome: str = "granted", **changes: Any) -> dict[str, Any]:
    """A licensing decision taken today (Beijing calendar) on the issued opinion."""
    body: dict[str, Any] = {
        "outcome": outcome,
        "decision_no": "闽审批许字〔2026〕第0001号",
        "decided_on": utcnow().astimezone(CHINA_TZ).date().isoformat(),
    }
    body.update(changes)
    return body


async def close(journey: Journey, outcome: str = "granted") -> dict[str, Any]:
    """Issue the opinion if needed, then window staff record the licensing decision, which
    closes the case (办结). Returns the closed case."""
    if journey.case.get("state") != CaseState.issued:
        await issue_opinion(journey)
    _, window = await journey.api.staff_headers(Role.window)
    decided = await journey.api.client.post(
        f"/api/v1/cases/{journey.case_id}/decision", json=decision_body(outcome), headers=window
    )
    assert decided.status_code == 201, decided.text
    closed = await refresh(journey)
    assert closed["state"] == CaseState.closed, closed
    return closed


async def tick_sla(api: Api, now: datetime) -> None:
    """The scheduler's SLA tick job (cards, their notices, supervision orders) run at ``now``."""
    await run_sla_tick(api.ctx, now=now)


async def escalate_orders(api: Api, now: datetime) -> None:
    """The scheduler's job that escalates unanswered supervision orders, run at ``now``."""
    await run_order_escalation(api.ctx, now=now)


async def overdue(journey: Journey, days: int = 30) -> dict[str, Any]:
    """Assign the case if needed, then the SLA tick runs ``days`` later: its clock is past due
    and the tick raises the red card, which opens a supervision order. Returns that order."""
    if not journey.case or not journey.case.get("inspector_ids"):
        await assign(journey)
    await tick_sla(journey.api, utcnow() + timedelta(days=days))
    _, head = await journey.api.staff_headers(Role.head)
    listed = await journey.api.client.get("/api/v1/supervision-orders", headers=head)
    assert listed.status_code == 200, listed.text
    [order] = [o for o in listed.json() if o["case_id"] == journey.case_id]
    return dict(order)
