"""Login, logout, the current caller, and the administrator's unlock of login throttles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from server.auth import service, throttle
from server.auth.client_address import client_address
from server.auth.models import Role
from server.auth.principal import Principal
from server.auth.schemas import LoginIn, LoginOut, StaffOut, UnlockIn, UnlockOut
from server.deps import (
    ContextDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    get_context,
    require_roles,
)
from server.errors import AppError

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", responses={401: {"description": "Wrong user name or password"}})
async def login(
    body: LoginIn, request: Request, session: SessionDep, settings: SettingsDep
) -> LoginOut:
    """Log in with username and password; returns a bearer token."""
    address = client_address(request)
    try:
        with throttle.password_checks(get_context(request), address):
            result = await service.login(
                session, settings, username=body.username, password=body.password, client_ip=address
            )
    except AppError:
        # The failure counters and the audit record must survive the error response.
        await session.commit()
        raise
    return LoginOut(
        token=result.token,
        expires_at=result.session.expires_at,
        staff=StaffOut.model_validate(result.staff),
    )


@router.post("/logout", status_code=204)
async def logout(principal: PrincipalDep, session: SessionDep, ctx: ContextDep) -> None:
    """End this login at once (and the live calls joined with it)."""
    if principal.is_staff:
        await service.logout(session, principal, access_ended=ctx.access_ended)


@router.get("/me")
async def me(principal: PrincipalDep) -> dict[str, str | None]:
    """Who the token belongs to."""
    return {
        "kind": principal.kind,
        "id": principal.id,
        "role": principal.role.value if principal.role else None,
        "case_id": principal.case_id,
        "display_name": principal.display_name,
    }


@router.post("/unlock")
async def unlock(
    body: UnlockIn,
    admin: Annotated[Principal, Depends(require_roles(Role.admin))],
    session: SessionDep,
) -> UnlockOut:
    """Clear the login back-off of a username (from every address) and/or of an address."""
    address = str(body.address) if body.address is not None else None
    cleared = await service.unlock_logins(
        session, admin.actor, username=body.username, address=address
    )
    return UnlockOut(cleared=cleared)
