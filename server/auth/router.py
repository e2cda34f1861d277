"""Login, logout and the current caller."""

from __future__ import annotations

from fastapi import APIRouter, Request

from server.auth import service
from server.auth.schemas import LoginIn, LoginOut, StaffOut
from server.deps import ContextDep, PrincipalDep, SessionDep, SettingsDep
from server.errors import AppError

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login")
async def login(
    body: LoginIn, request: Request, session: SessionDep, settings: SettingsDep
) -> LoginOut:
    """Log in with username and password; returns a bearer token."""
    try:
        result = await service.login(
            session,
            settings,
            username=body.username,
            password=body.password,
            client_ip=client_ip(request),
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
