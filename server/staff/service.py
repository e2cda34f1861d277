"""Staff accounts: create, list, change; every change is audited, and disabling, a role change
or a new password ends the account's logins and live calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor, append
from server.auth.ended import AccessEndedHook, EndReason
from server.auth.models import Staff
from server.auth.passwords import hash_password
from server.auth.schemas import StaffCreate, StaffUpdate
from server.auth.service import revoke_all_sessions
from server.errors import Conflict, not_found


def _access_end_reason(changes: dict[str, Any]) -> EndReason | None:
    """Disabling, a role change or a new password ends the account's logins and live calls."""
    if "active" in changes:
        return "disabled"
    if "role" in changes:
        return "role_changed"
    if "password" in changes:
        return "password_changed"
    return None


def _taken(username: str) -> Conflict:
    return Conflict(f"用户名 {username} 已被使用。", f"Username {username} is taken.")


async def list_staff(session: AsyncSession) -> list[Staff]:
    """All staff accounts, by username."""
    return list(await session.scalars(select(Staff).order_by(Staff.username)))


async def create_staff(session: AsyncSession, actor: Actor, body: StaffCreate) -> Staff:
    """Create a staff account (the username must be free)."""
    if await session.scalar(select(Staff.id).where(Staff.username == body.username)):
        raise _taken(body.username)
    staff = Staff(
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        organisation=body.organisation,
        phone=body.phone,
        badge_number=body.badge_number,
        password_hash=await hash_password(body.password),
    )
    session.add(staff)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create with the same name
        raise _taken(body.username) from exc
    await append(session, actor, "staff.create", detail={"staff": staff.id, "role": staff.role})
    return staff


async def update_staff(
    session: AsyncSession,
    actor: Actor,
    staff_id: str,
    body: StaffUpdate,
    *,
    access_ended: Sequence[AccessEndedHook],
) -> Staff:
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
        await revoke_all_sessions(session, staff.id, reason=reason, access_ended=access_ended)
    await append(session, actor, "staff.update", detail={"staff": staff.id, "changes": changes})
    return staff
