"""Staff administration (admin only): create, list, change role, disable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from server.auth.models import Role
from server.auth.principal import Principal
from server.auth.schemas import StaffCreate, StaffOut, StaffUpdate
from server.deps import ContextDep, SessionDep, require_roles
from server.staff import service

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
AdminDep = Annotated[Principal, Depends(require_roles(Role.admin))]
StaffReaderDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.dispatcher))]


@router.get("")
async def list_staff(_: StaffReaderDep, session: SessionDep) -> list[StaffOut]:
    """All staff accounts."""
    return [StaffOut.model_validate(r) for r in await service.list_staff(session)]


@router.post("", status_code=201)
async def create_staff(body: StaffCreate, admin: AdminDep, session: SessionDep) -> StaffOut:
    """Create a staff account."""
    return StaffOut.model_validate(await service.create_staff(session, admin.actor, body))


@router.patch("/{staff_id}")
async def update_staff(
    body: StaffUpdate,
    admin: AdminDep,
    session: SessionDep,
    ctx: ContextDep,
    staff_id: Annotated[str, Path(max_length=64)],
) -> StaffOut:
    """Change a staff account; disabling or changing role ends its logins at once."""
    staff = await service.update_staff(
        session, admin.actor, staff_id, body, access_ended=ctx.access_ended
    )
    return StaffOut.model_validate(staff)
