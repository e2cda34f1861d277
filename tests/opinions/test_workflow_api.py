"""The opinion workflow over HTTP: draft → submit → co-sign → approve → issued, and after."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from server.audit.models import AuditRecord
from server.auth.models import Role
from server.config import Settings
from server.db import utcnow
from server.notifications.jobs import DeliveryResult, deliver_due
from server.notifications.senders import SIGNATURE_HEADER, verify
from server.opinions.service import signing_material
from server.opinions.verify import verify_json, verify_pdf
from server.platform.storage import case_opinion_key
from tests.fixtures.app import Api
from tests.inspection.team import (
    make_team,
    started_case,
)
from tests.notifications.receiver import Receiver, receiver
from tests.opinions.drafting import case_state, drafted_case, ok, post, to_review

__all__ = ["receiver"]
SECRET = "opinion-webhook-secret"


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return settings.model_copy(
        update={
            "approval_webhook_url": f"{receiver.url}/approval",
            "webhook_secret": SecretStr(SECRET),
        }
    )


async def test_draft_cosign_review_issue_with_wrong_roles_refused(
    api: Api, settings: Settings, receiver: Receiver
) -> None:
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    lead, second = team.headers["lead"], team.headers["second"]
    case_id = await drafted_case(team)

    assert (await post(team, case_id, "draft", second)).status_code == 403
    assert (await post(team, case_id, "approve", reviewer)).status_code == 404  # not visible yet
    drafted = ok(await post(team, case_id, "draft", lead))
    assert (drafted["status"], drafted["conclusion"]) == ("draft", "pass")
    assert (await post(team, case_id, "cosign", second)).status_code == 409  # not submitted
    ok(await post(team, case_id, "submit", lead))
    assert (await post(team, case_id, "cosign", lead)).status_code == 403
    ok(await post(team, case_id, "cosign", second))
    assert await case_state(team, case_id) == "under_review"
    assert (await post(team, case_id, "approve", lead)).status_code == 403
    assert (await post(team, case_id, "draft", reviewer)).status_code == 403
    conflict = await post(team, case_id, "draft", lead)
    assert conflict.status_code == 409
    assert conflict.json()["current"] == "under_review"

    issued = ok(await post(team, case_id, "approve", reviewer))
    assert issued["status"] == "issued"
    assert issued["content"]["reviewer"]["approved_at"]
    assert all(i["signed_at"] for i in issued["content"]["inspectors"])
    assert await case_state(team, case_id) == "issued"
    assert (await post(team, case_id, "approve", reviewer)).status_code == 409

    # the PDF: signed, trusted by the dev root, its hash as stored
    response = await api.client.get(f"/api/v1/cases/{case_id}/opinion/pdf", headers=reviewer)
    assert response.status_code == 200, response.text
    material = signing_material(settings)
    report = await asyncio.to_thread(
        verify_pdf, response.content, material.trust_roots(), expected_hash=issued["content_hash"]
    )
    assert report.ok, report.problems
    assert response.headers["x-content-sha256"] == issued["pdf_sha256"]
    async with api.ctx.sessionmaker() as session:
        reads = await session.scalars(
            select(AuditRecord)
            .where(AuditRecord.case_id == case_id, AuditRecord.action.like("opinion.%"))
            .order_by(AuditRecord.seq)
        )
        actions = [r.action for r in reads]
    assert actions[-3:] == ["opinion.issued", "opinion.sign_confirmed", "opinion.read"]
    assert {"opinion.drafted", "opinion.submitted", "opinion.cosigned"} <= set(actions)
    assert actions.count("opinion.sign_confirmed") == 2  # the co-signature and the approval
    twin = await api.ctx.store.get(case_opinion_key(case_id, issued["id"], 1, "json"))
    signature = await api.ctx.store.get(case_opinion_key(case_id, issued["id"], 1, "p7s"))
    checked = await asyncio.to_thread(
        verify_json, twin, signature, material.trust_roots(), expected_hash=issued["content_hash"]
    )
    assert checked.ok, checked.problems

    # public verification, no login
    facts = ok(await api.client.get(f"/verify/{issued['verification_code'].lower()}"))
    assert (facts["current"], facts["content_hash"]) == (True, issued["content_hash"])
    assert facts["pdf_sha256"] == issued["pdf_sha256"]
    assert "13800138000" not in str(facts)  # the applicant's phone is not on the opinion
    page = await api.client.get(f"/verify/{issued['verification_code']}.html")
    assert page.status_code == 200
    assert issued["content_hash"] in page.text
    assert (await api.client.get("/verify/NOPE-NOPE")).status_code == 404

    # the approval system: a 503 first, then delivered, HMAC-signed, with the key facts
    receiver.fail_first = 1
    now = utcnow()
    first = await deliver_due(api.ctx.sessionmaker, settings, now)
    assert first.retried == 1
    assert await deliver_due(api.ctx.sessionmaker, settings, now + timedelta(hours=1)) == (
        DeliveryResult(delivered=1)
    )
    attempts = receiver.on("/approval")
    assert len(attempts) == 2
    for request in attempts:
        assert verify(SECRET, request.headers[SIGNATURE_HEADER.lower()], request.body)
    body = httpx.Response(200, content=attempts[-1].body).json()
    assert body["content_hash"] == issued["content_hash"]
    assert body["verification_code"] == issued["verification_code"]
    assert body["pdf_path"] == f"/api/v1/cases/{case_id}/opinion/pdf"


async def test_send_back_and_decline_return_the_draft_with_comments(api: Api) -> None:
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    case_id = await drafted_case(team)
    await to_review(team, case_id)
    assert (
        await post(team, case_id, "send-back", team.headers["lead"], comments="x", items=["CB-01"])
    ).status_code == 403
    back = ok(
        await post(team, case_id, "send-back", reviewer, comments="结论措辞请修改", items=["CB-01"])
    )
    assert back["status"] == "draft"
    assert back["review_comments"][-1]["text"] == "结论措辞请修改"
    assert await case_state(team, case_id) == "drafted"
    ok(await post(team, case_id, "submit", team.headers["lead"]))
    declined = ok(await post(team, case_id, "decline", team.headers["second"], reason="照片不全"))
    assert (declined["status"], declined["review_comments"][-1]["kind"]) == (
        "draft",
        "decline_cosign",
    )
    assert await case_state(team, case_id) == "drafted"


async def test_incomplete_checklist_cannot_be_drafted(api: Api) -> None:
    team = await make_team(api)
    case_id = await started_case(team, ["CB"])
    refused = await team.client.post(
        f"/api/v1/cases/{case_id}/inspection/conclude", headers=team.headers["lead"]
    )
    assert refused.status_code == 409, refused.text  # items unsettled: no end to the inspection
    response = await post(team, case_id, "draft", team.headers["lead"])
    assert response.status_code == 409, response.text


async def test_correction_supersedes_and_window_acknowledges_once(api: Api) -> None:
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    _, window = await api.staff_headers(Role.window)
    case_id = await drafted_case(team)
    await to_review(team, case_id)
    first = ok(await post(team, case_id, "approve", reviewer))

    assert (await post(team, case_id, "correct", window, reason="x")).status_code == 403
    second = ok(await post(team, case_id, "correct", reviewer, reason="申请人名称更正"))
    assert (second["version"], second["previous_id"]) == (2, first["id"])
    assert second["verification_code"] != first["verification_code"]
    old = ok(await api.client.get(f"/verify/{first['verification_code']}"))
    assert (old["current"], old["status"], old["superseded_by"]) == (
        False,
        "superseded",
        second["verification_code"],
    )
    assert ok(await api.client.get(f"/verify/{second['verification_code']}"))["current"]

    listed = ok(await api.client.get("/api/v1/opinions", headers=window))
    assert [o["id"] for o in listed] == [second["id"]]
    matter = ok(await api.client.get("/api/v1/opinions?matter=ZZ", headers=window))
    assert matter == []
    assert (await api.client.get("/api/v1/opinions", headers=reviewer)).status_code == 403
    url = f"/api/v1/opinions/{second['id']}/acknowledge"
    assert (await api.client.post(url, headers=reviewer)).status_code == 403
    acked = ok(await api.client.post(url, headers=window))
    assert acked["acknowledged_at"]
    assert (await api.client.post(url, headers=window)).status_code == 409
