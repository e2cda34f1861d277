"""Staff login, logout, throttling, disabling; malformed requests change nothing."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select, update

from server.audit.models import AuditRecord
from server.auth.models import Role, StaffSession
from server.context import AppContext
from server.db import utcnow
from tests.fixtures.app import Api

LOGIN = "/api/v1/auth/login"


async def _audit_actions(ctx: AppContext) -> list[str]:
    async with ctx.sessionmaker() as session:
        return list(await session.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


async def test_login_issues_token_that_identifies_the_staff(api: Api) -> None:
    staff, headers = await api.staff_headers(Role.inspector)
    me = await api.client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["id"] == staff.id
    assert me.json()["role"] == "inspector"
    token = headers["Authorization"].removeprefix("Bearer ")
    assert len(token) >= 40  # st_ + 32 random bytes, url-safe
    assert "auth.login" in await _audit_actions(api.ctx)


async def test_unknown_user_and_wrong_password_look_the_same(api: Api) -> None:
    staff = await api.create_staff(Role.dispatcher)
    wrong = await api.client.post(LOGIN, json={"username": staff.username, "password": "nope"})
    unknown = await api.client.post(LOGIN, json={"username": "ghost", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["detail"] == unknown.json()["detail"] == "用户名或密码不正确。"
    assert (await _audit_actions(api.ctx)).count("auth.login_failed") == 2


async def test_repeated_failures_lock_the_account_even_for_the_right_password(api: Api) -> None:
    staff = await api.create_staff(Role.reviewer)
    for _ in range(api.ctx.settings.login_max_failures):
        response = await api.client.post(
            LOGIN, json={"username": staff.username, "password": "wrong password"}
        )
        assert response.status_code == 401
    locked = await api.client.post(
        LOGIN, json={"username": staff.username, "password": "correct horse battery"}
    )
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "秒后再试" in locked.json()["detail"]


async def test_many_accounts_from_one_address_get_blocked(api: Api) -> None:
    statuses = [
        (await api.client.post(LOGIN, json={"username": f"u{i}", "password": "x"})).status_code
        for i in range(35)
    ]
    assert statuses[:30] == [401] * 30
    assert set(statuses[30:]) == {429}


async def test_logout_ends_the_token_at_once(api: Api) -> None:
    _, headers = await api.staff_headers(Role.window)
    assert (await api.client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    after = await api.client.get("/api/v1/auth/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["reason"] == "expired"


async def test_disabling_a_staff_member_ends_their_logins(api: Api) -> None:
    _, admin = await api.staff_headers(Role.admin)
    staff, headers = await api.staff_headers(Role.inspector)
    response = await api.client.patch(
        f"/api/v1/staff/{staff.id}", json={"active": False}, headers=admin
    )
    assert response.status_code == 200
    assert (await api.client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    relogin = await api.client.post(
        LOGIN, json={"username": staff.username, "password": "correct horse battery"}
    )
    assert relogin.status_code == 401


async def test_role_change_ends_logins(api: Api) -> None:
    _, admin = await api.staff_headers(Role.admin)
    staff, headers = await api.staff_headers(Role.inspector)
    await api.client.patch(f"/api/v1/staff/{staff.id}", json={"role": "reviewer"}, headers=admin)
    assert (await api.client.get("/api/v1/auth/me", headers=headers)).status_code == 401


async def test_expired_and_idle_logins_are_refused(api: Api) -> None:
    _, expired = await api.staff_headers(Role.dispatcher)
    _, idle = await api.staff_headers(Role.reviewer)
    async with api.ctx.sessionmaker() as session:
        sessions = list(
            await session.scalars(select(StaffSession).order_by(StaffSession.created_at))
        )
        await session.execute(
            update(StaffSession)
            .where(StaffSession.id == sessions[0].id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.execute(
            update(StaffSession)
            .where(StaffSession.id == sessions[1].id)
            .values(last_seen_at=utcnow() - timedelta(hours=2))
        )
        await session.commit()
    for headers in (expired, idle):
        assert (await api.client.get("/api/v1/auth/me", headers=headers)).status_code == 401


async def test_missing_or_garbage_token_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/auth/me")).status_code == 401
    garbage = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer st_nope"})
    assert garbage.status_code == 401
    assert garbage.headers["www-authenticate"] == "Bearer"


async def test_malformed_json_is_422_and_records_nothing(api: Api) -> None:
    before = await _audit_actions(api.ctx)
    response = await api.client.post(
        LOGIN, content=b'{"username": "a", ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "bad_input"
    assert "不是合法的 JSON" in response.json()["detail"]
    wrong_types = await api.client.post(LOGIN, json={"username": 5, "password": ["x"]})
    assert wrong_types.status_code == 422
    assert "username" in wrong_types.json()["detail_en"]
    assert await _audit_actions(api.ctx) == before


async def test_only_admin_manages_staff(api: Api) -> None:
    _, dispatcher = await api.staff_headers(Role.dispatcher)
    body = {
        "username": "newbie",
        "display_name": "新人",
        "role": "inspector",
        "password": "long enough password",
    }
    refused = await api.client.post("/api/v1/staff", json=body, headers=dispatcher)
    assert refused.status_code == 403
    _, admin = await api.staff_headers(Role.admin)
    created = await api.client.post("/api/v1/staff", json=body, headers=admin)
    assert created.status_code == 201
    duplicate = await api.client.post("/api/v1/staff", json=body, headers=admin)
    assert duplicate.status_code == 409
    async with api.ctx.sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.action == "staff.create")
        )
    assert count == 1
