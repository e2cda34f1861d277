"""API clients (issue #13 defect 9): the approval system's own scoped, rotatable key.

It opens cases and reads results as itself (audited as the client), with nothing more: every
other endpoint refuses it, and a rotated or disabled key stops working at once.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from server.audit.models import AuditRecord
from server.auth.clients import CLIENT_ENDPOINTS
from server.auth.models import ApiClient, Role
from server.auth.service import resolve_token
from server.auth.tokens import hash_token
from server.errors import NotAuthenticated
from tests.auth.clients import bearer, make_client
from tests.cases.access_table import ENDPOINTS, UNCHECKED, build_world
from tests.fixtures.app import Api
from tests.flows import intake_body
from tests.inspection.team import make_team
from tests.opinions.drafting import drafted_case, post, to_review

CLIENTS = "/api/v1/api-clients"
ALL_SCOPES = ["cases:intake", "cases:read_results", "decisions:write"]


async def intake(api: Api, key: str, number: str = "AP-1") -> Any:
    return await api.client.post(
        "/api/v1/cases", json=intake_body(api, number=number), headers=bearer(key)
    )


async def test_a_client_opens_a_case_and_is_audited_as_itself(api: Api) -> None:
    _, admin = await api.staff_headers(Role.admin)
    made = await make_client(api, admin, ["cases:intake", "cases:read_results"])
    assert made["key"].startswith("ak_")
    assert len(made["key"]) >= 46
    opened = await intake(api, made["key"])
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    read = await api.client.get(f"/api/v1/cases/{case_id}", headers=bearer(made["key"]))
    assert read.status_code == 200
    me = await api.client.get("/api/v1/auth/me", headers=bearer(made["key"]))
    assert me.json()["kind"] == "client"
    assert me.json()["id"] == made["id"]
    async with api.ctx.sessionmaker() as session:
        record = await session.scalar(
            select(AuditRecord).where(
                AuditRecord.action == "case.received", AuditRecord.case_id == case_id
            )
        )
        stored = await session.get(ApiClient, made["id"])
    assert record is not None
    assert (record.actor_kind, record.actor_id) == ("client", made["id"])
    assert stored is not None
    assert stored.key_hash == hash_token(made["key"])
    listed = await api.client.get(CLIENTS, headers=admin)
    assert [c["id"] for c in listed.json()] == [made["id"]]
    assert "key" not in listed.json()[0]


async def test_a_scope_the_client_lacks_is_refused(api: Api) -> None:
    _, admin = await api.staff_headers(Role.admin)
    reader = await make_client(api, admin, ["cases:read_results"])
    refused = await intake(api, reader["key"])
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "cases:intake" in refused.json()["detail_en"]
    intaker = await make_client(api, admin, ["cases:intake"])
    case_id = (await intake(api, intaker["key"])).json()["id"]
    hidden = await api.client.get(f"/api/v1/cases/{case_id}", headers=bearer(intaker["key"]))
    assert hidden.status_code == 403


async def test_a_rotated_key_stops_at_once_and_the_new_one_works(api: Api) -> None:
    _, admin = await api.staff_headers(Role.admin)
    made = await make_client(api, admin, ["cases:intake"])
    rotated = await api.client.post(f"{CLIENTS}/{made['id']}/rotate", headers=admin)
    assert rotated.status_code == 200
    assert rotated.json()["key"] != made["key"]
    assert rotated.json()["rotated_at"]
    old = await intake(api, made["key"])
    assert old.status_code == 401
    assert old.json()["reason"] == "client_key"
    assert (await intake(api, rotated.json()["key"])).status_code == 201


async def test_a_disabled_client_is_refused_until_enabled(api: Api) -> None:
    _, admin = await api.staff_headers(Role.admin)
    made = await make_client(api, admin, ["cases:intake"])
    path = f"{CLIENTS}/{made['id']}"
    assert (await api.client.patch(path, json={"active": False}, headers=admin)).status_code == 200
    assert (await intake(api, made["key"])).status_code == 401
    assert (await api.client.patch(path, json={"active": True}, headers=admin)).status_code == 200
    assert (await intake(api, made["key"], number="AP-2")).status_code == 201
    async with api.ctx.sessionmaker() as session:
        actions = list(
            await session.scalars(
                select(AuditRecord.action).where(AuditRecord.action.like("api_client.%"))
            )
        )
    assert actions == ["api_client.create", "api_client.update", "api_client.update"]


async def test_only_an_administrator_manages_clients(api: Api) -> None:
    _, dispatcher = await api.staff_headers(Role.dispatcher)
    body = {"name": "审批系统", "scopes": ["cases:intake"]}
    assert (await api.client.post(CLIENTS, json=body, headers=dispatcher)).status_code == 403
    _, admin = await api.staff_headers(Role.admin)
    bad = await api.client.post(CLIENTS, json={"name": "x1", "scopes": ["all"]}, headers=admin)
    assert bad.status_code == 422
    assert (await api.client.post(CLIENTS, json=body, headers=admin)).status_code == 201
    assert (await api.client.post(CLIENTS, json=body, headers=admin)).status_code == 409


async def test_a_client_key_opens_no_console_endpoint(api: Api) -> None:
    """Every endpoint of the access table that is not listed for clients refuses the key."""
    world = await build_world(api)
    made = await make_client(api, world.headers["admin"], ALL_SCOPES)
    opened = []
    for endpoint in ENDPOINTS:
        route = (endpoint.method, endpoint.path)
        if route in CLIENT_ENDPOINTS or route in UNCHECKED or endpoint.path.startswith("/verify"):
            continue
        ids = world.ids | {k: world.ids[v] for k, v in endpoint.ids.items()}
        response = await api.client.request(
            endpoint.method,
            endpoint.path.format(**ids),
            json=world.body(endpoint.body),
            headers=bearer(made["key"]),
        )
        if response.status_code != 403:
            opened.append(f"{endpoint.method} {endpoint.path}: {response.status_code}")
    assert opened == []
    async with api.ctx.sessionmaker() as session:  # the live (WebSocket) path refuses it too
        with pytest.raises(NotAuthenticated):
            await resolve_token(session, api.ctx.settings, made["key"])


async def test_a_reading_client_gets_the_issued_opinion_and_its_read_is_audited(api: Api) -> None:
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    _, admin = await api.staff_headers(Role.admin)
    reader = await make_client(api, admin, ["cases:read_results"])
    case_id = await drafted_case(team)
    await to_review(team, case_id)
    early = await api.client.get(f"/api/v1/cases/{case_id}/opinion", headers=bearer(reader["key"]))
    assert early.status_code == 404  # not issued yet: a client sees only issued opinions
    issued = await post(team, case_id, "approve", reviewer)
    assert issued.status_code == 200, issued.text
    opinion = await api.client.get(
        f"/api/v1/cases/{case_id}/opinion", headers=bearer(reader["key"])
    )
    assert opinion.status_code == 200
    assert opinion.json()["status"] == "issued"
    pdf = await api.client.get(
        f"/api/v1/cases/{case_id}/opinion/pdf", headers=bearer(reader["key"])
    )
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    async with api.ctx.sessionmaker() as session:
        readers = list(
            await session.scalars(
                select(AuditRecord.actor_id).where(
                    AuditRecord.case_id == case_id, AuditRecord.actor_kind == "client"
                )
            )
        )
    assert reader["id"] in readers
