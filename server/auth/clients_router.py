"""Administration of API clients (admin only): create, list, rotate the key, change, disable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from server.auth import clients
from server.auth.models import Role
from server.auth.principal import Principal
from server.auth.schemas import (
    ApiClientCreate,
    ApiClientKeyOut,
    ApiClientOut,
    ApiClientUpdate,
    client_out,
    key_out,
)
from server.deps import SessionDep, require_roles

router = APIRouter(prefix="/api/v1/api-clients", tags=["api clients"])
AdminDep = Annotated[Principal, Depends(require_roles(Role.admin))]
ClientId = Annotated[str, Path(max_length=64)]


@router.post("", status_code=201)
async def create_client(
    body: ApiClientCreate, admin: AdminDep, session: SessionDep
) -> ApiClientKeyOut:
    """Create an API client; its key is shown once, in this response."""
    issued = await clients.create(session, admin.actor, name=body.name, scopes=body.scopes)
    return key_out(issued)


@router.get("")
async def list_clients(_: AdminDep, session: SessionDep) -> list[ApiClientOut]:
    """All API clients (never their keys)."""
    return [client_out(c) for c in await clients.list_all(session)]


@router.post("/{client_id}/rotate")
async def rotate_key(client_id: ClientId, admin: AdminDep, session: SessionDep) -> ApiClientKeyOut:
    """Issue a new key; the old key stops working at once."""
    return key_out(await clients.rotate(session, admin.actor, client_id))


@router.patch("/{client_id}")
async def update_client(
    body: ApiClientUpdate, client_id: ClientId, admin: AdminDep, session: SessionDep
) -> ApiClientOut:
    """Disable or re-enable a client, or change its scopes (effective on its next call)."""
    client = await clients.update(
        session, admin.actor, client_id, active=body.active, scopes=body.scopes
    )
    return client_out(client)
