"""Case intake, reading cases, and the applicant's links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from server.auth.models import Role
from server.auth.principal import Principal
from server.cases import links, listing, repository, service
from server.cases.access import CaseView, current_inspectors
from server.cases.listing import CaseQuery, CaseSort
from server.cases.schemas import (
    CaseIntake,
    CaseListItem,
    CaseOut,
    CasePage,
    LinkOut,
    MatterOut,
    MatterScenarioOut,
    case_list_item,
    case_out,
    link_out,
)
from server.cases.states import CaseState
from server.deps import ContextDep, PrincipalDep, SessionDep, VisibleCaseDep, require_roles
from server.timeinputs import BeijingDate

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
# The approval system opens cases with its own API key (scope cases:intake), not a staff login.
IntakeDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.dispatcher, clients=True))]
LinkIssuerDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.dispatcher))]
INITIAL_STATE = CaseState.received
UNPAGED_LIMIT = 500  # the old call shape, kept until every page asks for pages


@router.post("", status_code=201)
async def intake(
    body: CaseIntake, principal: IntakeDep, session: SessionDep, ctx: ContextDep, response: Response
) -> CaseOut:
    """Open a case from an application; the same application replayed returns it (200)."""
    case, created = await service.intake(
        session,
        principal.actor,
        body,
        ctx.matter_lookup,
        INITIAL_STATE,
    )
    if not created:
        response.status_code = 200
    return case_out(CaseView(case, await current_inspectors(session, case.id)), principal)


@router.get("")
async def list_cases(principal: PrincipalDep, session: SessionDep) -> list[CaseListItem]:
    """Cases the caller may see, newest first (at most 500; pages: ``GET /cases/page``)."""
    query = CaseQuery(limit=UNPAGED_LIMIT)
    rows = await repository.list_cases(session, principal, query)
    return [case_list_item(row, principal) for row in rows]


@router.get("/page")
async def case_page(
    principal: PrincipalDep,
    session: SessionDep,
    ctx: ContextDep,
    page: int = 1,
    limit: int = listing.DEFAULT_PAGE_SIZE,
    sort: Annotated[CaseSort, Query(description="due | created_desc | created")] = (
        CaseSort.created_desc
    ),
    state: Annotated[list[str] | None, Query()] = None,
    matter: Annotated[str | None, Query(max_length=40)] = None,
    inspector: Annotated[str | None, Query(max_length=64)] = None,
    card: Annotated[str | None, Query(max_length=16)] = None,
    created_from: Annotated[BeijingDate | None, Query(description="Beijing day, included")] = None,
    created_to: Annotated[BeijingDate | None, Query(description="Beijing day, included")] = None,
    q: Annotated[
        str | None,
        Query(description="case number, application number, applicant name or address"),
    ] = None,
) -> CasePage:
    """One page of the cases the caller may see: filters, search and order; ``total`` counts
    every matching case."""
    size, offset = listing.check_page(limit, page)
    start, end = listing.check_created(created_from, created_to)
    query = CaseQuery(
        limit=size,
        offset=offset,
        sort=sort,
        states=listing.check_states(state or []),
        matter=listing.check_matter(matter, {m.code for m in ctx.catalogue.matters}),
        inspector_id=inspector or None,
        card=listing.check_card(card),
        created_from=start,
        created_before=end,
        q=listing.check_search(q),
    )
    rows = await repository.list_cases(session, principal, query)
    total = await repository.count_cases(session, principal, query)
    return CasePage(
        items=[case_list_item(r, principal) for r in rows],
        total=min(total, repository.COUNT_CAP),
        total_capped=total > repository.COUNT_CAP,
        page=page,
        limit=size,
    )


@router.get("/{case_id}")
async def get_case(view: VisibleCaseDep, principal: PrincipalDep) -> CaseOut:
    """One case, with the actions the caller may take on it now."""
    return case_out(view, principal)


@router.post("/{case_id}/links", status_code=201)
async def create_link(
    view: VisibleCaseDep, principal: LinkIssuerDep, session: SessionDep, ctx: ContextDep
) -> LinkOut:
    """Issue the applicant a new link (the token is shown only in this response); it stays
    valid while the case is open and for the rating window after it ends."""
    issued = await links.issue_link(
        session, principal.actor, view.case, ctx.settings.effective_base_url
    )
    return link_out(issued)


@router.delete("/{case_id}/links/{link_id}", status_code=204)
async def revoke_link(
    view: VisibleCaseDep,
    principal: LinkIssuerDep,
    session: SessionDep,
    ctx: ContextDep,
    link_id: Annotated[str, Path(max_length=64)],
) -> None:
    """Revoke an applicant link at once (and the applicant's live call on it)."""
    await links.revoke_link(
        session, principal.actor, view.case, link_id, access_ended=ctx.access_ended
    )


matters_router = APIRouter(prefix="/api/v1/matters", tags=["cases"])


@matters_router.get("")
async def list_matters(_: PrincipalDep, ctx: ContextDep) -> list[MatterOut]:
    """The approval matters (事项) the catalogue knows, with their defaults and scenarios."""
    return [
        MatterOut(
            code=m.code,
            name=m.name,
            name_en=m.name_en,
            default_mode=m.default_mode.value,
            default_sla_class=m.default_sla.value,
            scenarios=[
                MatterScenarioOut(code=key, name=s.name, name_en=s.name_en)
                for key, s in m.scenarios.items()
            ],
        )
        for m in ctx.catalogue.matters
    ]
