"""Request dependencies: the session, the caller, and access checks (one place, not per handler)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.client_address import client_address
from server.auth.clients import admit as admit_client
from server.auth.clients import resolve_client
from server.auth.lookup_limit import admit_lookup, note_failed_lookup
from server.auth.models import ROLE_LABELS, Role
from server.auth.principal import Principal
from server.auth.service import resolve_token
from server.auth.tokens import CLIENT_PREFIX, STAFF_PREFIX
from server.cases.access import CaseView, load_visible_case
from server.cases.permissions import Party, require_party
from server.cases.states import CaseAction
from server.config import Settings
from server.context import AppContext
from server.db import session_scope
from server.errors import Forbidden, NotAuthenticated
from server.platform.storage import ObjectStore


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_settings(ctx: ContextDep) -> Settings:
    return ctx.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_store(ctx: ContextDep) -> ObjectStore:
    return ctx.store


StoreDep = Annotated[ObjectStore, Depends(get_store)]


async def get_session(ctx: ContextDep) -> AsyncIterator[AsyncSession]:
    async for session in session_scope(ctx.sessionmaker):
        yield session


# scope="function": the session commits when the endpoint returns, before the response is
# sent. With the default ("request") FastAPI would commit after the client had its 2xx, so an
# acknowledged write could still be lost or fail (DESIGN §2, write path rule).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


# Declared as a security dependency so the OpenAPI document names the scheme on every route
# that needs a caller (a generated client then sends the header); checked by us, not by it.
bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    description="Staff session token (POST /api/v1/auth/login), applicant link token, "
    "or API client key.",
    auto_error=False,
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    return credentials.credentials.strip() or None


async def _resolve(
    request: Request, session: AsyncSession, settings: Settings, token: str
) -> Principal:
    if token.startswith(CLIENT_PREFIX):
        principal = await resolve_client(session, token)
        route = request.scope.get("route")
        admit_client(principal, request.method, getattr(route, "path", request.url.path))
        return principal
    return await resolve_token(session, settings, token)


async def get_principal(
    request: Request, credentials: BearerDep, session: SessionDep, settings: SettingsDep
) -> Principal:
    token = bearer_token(credentials)
    if token is None:
        raise NotAuthenticated(
            "请先登录，或通过申请人链接访问。",
            "Log in first, or open the applicant link.",
            reason="missing",
        )
    # Links and API keys: failed lookups are limited per address (staff tokens are not).
    limited = not token.startswith(STAFF_PREFIX)
    ctx, address, now = get_context(request), client_address(request), time.monotonic()
    if limited:
        admit_lookup(ctx, address, now)
    try:
        principal = await _resolve(request, session, settings, token)
    except NotAuthenticated:
        if limited:
            note_failed_lookup(ctx, address, now)
        raise
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(
    *roles: Role, clients: bool = False
) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that admits only staff with one of ``roles``; with ``clients=True`` also
    API clients (which scope they need here is listed in ``auth.clients.CLIENT_ENDPOINTS``)."""
    names_zh = "、".join(ROLE_LABELS[r][0] for r in roles)
    names_en = ", ".join(ROLE_LABELS[r][1] for r in roles)

    async def check(principal: PrincipalDep) -> Principal:
        if clients and principal.kind == "client":
            return principal
        if not principal.is_staff or principal.role not in roles:
            raise Forbidden(
                f"您的角色无权执行此操作（需要：{names_zh}）。",
                f"Your role may not do this (requires: {names_en}).",
            )
        return principal

    return check


async def get_visible_case(
    principal: PrincipalDep,
    session: SessionDep,
    case_id: Annotated[str, Path(max_length=64)],
) -> CaseView:
    return await load_visible_case(session, principal, case_id)


VisibleCaseDep = Annotated[CaseView, Depends(get_visible_case)]


def _is_case_inspector(principal: Principal, view: CaseView) -> bool:
    return principal.role == Role.inspector and principal.id in view.inspector_ids


async def get_case_inspector(principal: PrincipalDep, view: VisibleCaseDep) -> Principal:
    """One of the case's two current inspectors."""
    if not _is_case_inspector(principal, view):
        raise Forbidden(
            "只有本案的踏勘人员可以执行此操作。", "Only this case's inspectors may do this."
        )
    return principal


CaseInspectorDep = Annotated[Principal, Depends(get_case_inspector)]


async def get_case_applicant(principal: PrincipalDep, view: VisibleCaseDep) -> Principal:
    """The applicant of this case, through their link."""
    if principal.kind != "applicant" or principal.case_id != view.case.id:
        raise Forbidden("只有申请人可以执行此操作。", "Only the applicant may do this.")
    return principal


CaseApplicantDep = Annotated[Principal, Depends(get_case_applicant)]


def may_take(
    action: CaseAction, *, side: frozenset[Party] | None = None
) -> Callable[[Principal, CaseView], Coroutine[Any, Any, Principal]]:
    """A dependency that admits a caller whose party may take ``action`` on the visible case
    (``server.cases.permissions``, the one table); ``side`` narrows it where one action has two
    halves (the inspectors offer slots, the applicant books one: both ``schedule``)."""

    async def check(principal: PrincipalDep, view: VisibleCaseDep) -> Principal:
        require_party(principal, view, action, among=side)
        return principal

    return check
