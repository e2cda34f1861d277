"""API clients: machines (the approval system) with their own scoped, rotatable key.

A client is not a staff member and has no role: it holds scopes, and it may call only the
endpoints listed in ``CLIENT_ENDPOINTS`` — every other endpoint refuses it, whatever it is.
Keys carry 256 random bits, so a SHA-256 of the key is a sufficient stored form. Rotation
replaces the key at once: the old key stops working the moment the new one is issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.auth.models import ApiClient
from server.auth.principal import Principal
from server.auth.tokens import CLIENT_PREFIX, hash_token, new_token
from server.db import utcnow
from server.errors import Conflict, Forbidden, NotAuthenticated, not_found

LAST_USED_RESOLUTION = timedelta(seconds=30)


class ClientScope(StrEnum):
    cases_intake = "cases:intake"  # open cases (POST /api/v1/cases)
    cases_read_results = "cases:read_results"  # read cases and their issued opinions
    decisions_write = "decisions:write"  # record the licensing decision (closure endpoint)


# The only endpoints an API client may call, and the scope each needs (deny by default).
# ``None``: any client may call it (who am I).
CLIENT_ENDPOINTS: dict[tuple[str, str], ClientScope | None] = {
    ("GET", "/api/v1/auth/me"): None,
    ("POST", "/api/v1/cases"): ClientScope.cases_intake,
    ("GET", "/api/v1/cases/{case_id}"): ClientScope.cases_read_results,
    ("GET", "/api/v1/cases/{case_id}/opinion"): ClientScope.cases_read_results,
    ("GET", "/api/v1/cases/{case_id}/opinion/pdf"): ClientScope.cases_read_results,
    ("GET", "/api/v1/cases/{case_id}/opinion/json"): ClientScope.cases_read_results,
    ("GET", "/api/v1/cases/{case_id}/opinion/json/signature"): ClientScope.cases_read_results,
    ("POST", "/api/v1/cases/{case_id}/decision"): ClientScope.decisions_write,
    ("GET", "/api/v1/cases/{case_id}/decision"): ClientScope.cases_read_results,
}


@dataclass(frozen=True, slots=True)
class IssuedKey:
    client: ApiClient
    key: str  # shown once


def scopes_of(client: ApiClient) -> frozenset[str]:
    return frozenset(client.scopes.split())


def admit(principal: Principal, method: str, path: str) -> None:
    """Refuse an API client on any endpoint not listed for it, or without the scope it needs."""
    endpoint = (method.upper(), path)
    if endpoint not in CLIENT_ENDPOINTS:
        raise Forbidden("接口客户端不能调用此接口。", "API clients may not call this endpoint.")
    scope = CLIENT_ENDPOINTS[endpoint]
    if scope is not None and scope not in principal.scopes:
        raise Forbidden(
            f"此接口客户端没有 {scope} 权限。", f"This API client lacks the scope {scope}."
        )


def _key_invalid() -> NotAuthenticated:
    return NotAuthenticated(
        "接口密钥无效、已更换或已停用。",
        "The API key is invalid, was rotated, or the client is disabled.",
        reason="client_key",
    )


async def resolve_client(session: AsyncSession, key: str) -> Principal:
    client = await session.scalar(select(ApiClient).where(ApiClient.key_hash == hash_token(key)))
    if client is None or not client.active:
        raise _key_invalid()
    now = utcnow()
    if client.last_used_at is None or now - client.last_used_at > LAST_USED_RESOLUTION:
        client.last_used_at = now
    return Principal("client", client.id, display_name=client.name, scopes=scopes_of(client))


def _taken(name: str) -> Conflict:
    return Conflict(f"接口客户端名称 {name} 已被使用。", f"API client name {name} is taken.")


async def create(
    session: AsyncSession, actor: Actor, *, name: str, scopes: list[ClientScope]
) -> IssuedKey:
    if await session.scalar(select(ApiClient.id).where(ApiClient.name == name)):
        raise _taken(name)
    key, key_hash = new_token(CLIENT_PREFIX)
    client = ApiClient(
        name=name,
        scopes=" ".join(sorted(set(scopes))),
        key_hash=key_hash,
        active=True,
        created_by=actor.id,
    )
    session.add(client)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create with the same name
        raise _taken(name) from exc
    await append(
        session, actor, "api_client.create", detail={"client": client.id, "scopes": client.scopes}
    )
    return IssuedKey(client, key)


async def _require(session: AsyncSession, client_id: str) -> ApiClient:
    client = await session.get(ApiClient, client_id)
    if client is None:
        raise not_found("该接口客户端", "API client")
    return client


async def rotate(session: AsyncSession, actor: Actor, client_id: str) -> IssuedKey:
    """Issue a new key; the old one stops working at once (no overlap)."""
    client = await _require(session, client_id)
    key, client.key_hash = new_token(CLIENT_PREFIX)
    client.rotated_at = utcnow()
    await session.flush()
    await append(session, actor, "api_client.rotate", detail={"client": client.id})
    return IssuedKey(client, key)


async def update(
    session: AsyncSession,
    actor: Actor,
    client_id: str,
    *,
    active: bool | None,
    scopes: list[ClientScope] | None,
) -> ApiClient:
    client = await _require(session, client_id)
    changes: dict[str, object] = {}
    if active is not None:
        client.active = changes["active"] = active
    if scopes is not None:
        client.scopes = " ".join(sorted(set(scopes)))
        changes["scopes"] = client.scopes
    await session.flush()
    await append(
        session, actor, "api_client.update", detail={"client": client.id, "changes": changes}
    )
    return client


async def list_all(session: AsyncSession) -> list[ApiClient]:
    return list(await session.scalars(select(ApiClient).order_by(ApiClient.name)))
