"""Staff administration (admin only): create, list, change role, disable."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.audit.service import append
from server.auth.ended import EndReason
from server.auth.models import Role, Staff
from server.auth.passwords import hash_password
from server.auth.principal import Principal
from server.auth.schemas import StaffCreate, StaffOut, StaffUpdate
from server.auth.service import revoke_all_sessions
from server.deps import ContextDep, SessionDep, require_roles
from server.errors import Conflict, not_found

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
AdminDep = Annotated[Principal, Depends(require_roles(Role.admin))]
StaffReaderDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.dispatcher))]


def _access_end_reason(changes: dict[str, Any]) -> EndReason | None:
    """Disabling, a role change or a new password ends the account's logins and live calls."""
    if "active" in changes:
        return "disabled"
    if "role" in changes:
        return "role_changed"
    if "password" in changes:
        return "password_changed"
    return None


@router.get("")
async def list_staff(_: StaffReaderDep, session: SessionDep) -> list[StaffOut]:
    """All staff accounts."""
    rows = await session.scalars(select(Staff).order_by(Staff.username))
    return [StaffOut.model_validate(r) for r in rows]


@router.post("", status_code=201)
async def create_staff(body: StaffCreate, admin: AdminDep, session: SessionDep) -> StaffOut:
    """Create a staff account."""
    if await session.scalar(select(Staff.id).where(Staff.username == body.username)):
        raise Conflict(f"用户名 {body.username} 已被使用。", f"Username {body.username} is taken.")
    staff = Staff(
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        organisation=body.organisation,
        phone=body.phone,
        password_hash=await hash_password(body.password),
    )
    session.add(staff)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create with the same name
        raise Conflict(
            f"用户名 {body.username} 已被使用。", f"Username {body.username} is taken."
        ) from exc
    await append(
        session, admin.actor, "staff.create", detail={"staff": staff.id, "role": staff.role}
    )
    return StaffOut.model_validate(staff)


@router.patch("/{staff_id}")
async def update_staff(
    body: StaffUpdate,
    admin: AdminDep,
    session: SessionDep,
    ctx: ContextDep,
    staff_id: Annotated[str, Path(max_length=64)],
) -> StaffOut:
    """Change a staff account; disabling or changing role ends its logins at once."""
    staff = await session.get(Staff, staff_id)
    if staff is None:
        raise not_found("该人员", "Staff member")
    changes = body.model_dump(exclude_unset=True, exclude={"password"})
    for name, value in changes.items():
        setattr(staff, name, value)
    if body.password is not None:
        staff.password_hash = await hash_password(body.password)
        changes["password"] = "changed"
    reason = _access_end_reason(changes)
    if reason is not None:
        await revoke_all_sessions(session, staff.id, reason=reason, access_ended=ctx.access_ended)
    await append(
        session, admin.actor, "staff.update", detail={"staff": staff.id, "changes": changes}
    )
    return StaffOut.model_validate(staff)
