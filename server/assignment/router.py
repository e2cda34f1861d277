"""The inspector pool, the draw of two inspectors, replacement and replay."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from server.assignment import service
from server.assignment.schemas import ConflictIn, DrawOut, InspectorOut, ProfileIn, ReplaceIn
from server.auth.models import Role
from server.auth.principal import Principal
from server.cases.states import CaseAction
from server.deps import (
    ContextDep,
    PrincipalDep,
    SessionDep,
    VisibleCaseDep,
    may_take,
    require_roles,
)

router = APIRouter(prefix="/api/v1", tags=["assignment"])
AdminDep = Annotated[Principal, Depends(require_roles(Role.admin))]
DispatchDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.dispatcher))]
AssignerDep = Annotated[Principal, Depends(may_take(CaseAction.assign))]
ReplacerDep = Annotated[Principal, Depends(may_take(CaseAction.replace_inspector))]
StaffIdPath = Annotated[str, Path(max_length=64)]


@router.get("/inspectors")
async def list_inspectors(_: DispatchDep, session: SessionDep) -> list[InspectorOut]:
    """The inspector pool with qualifications, current load and declared conflicts."""
    return [
        InspectorOut(
            staff_id=c.inspector_id,
            username=staff.username,
            display_name=staff.display_name,
            organisation=c.organisation,
            active=c.active,
            matters=sorted(c.matters),
            open_cases=c.open_cases,
            conflicts=[{"id": x.id, "key": x.key, "note": x.note} for x in conflicts],
        )
        for c, staff, conflicts in await service.pool(session)
    ]


@router.put("/inspectors/{staff_id}/profile")
async def set_profile(
    body: ProfileIn, admin: AdminDep, session: SessionDep, ctx: ContextDep, staff_id: StaffIdPath
) -> dict[str, object]:
    """Set an inspector's qualifications (matters) and whether they take cases."""
    profile = await service.set_profile(
        session,
        admin.actor,
        staff_id,
        matters=body.codes(),
        active=body.active,
        known_matter=lambda code: ctx.matter_lookup(code) is not None,
    )
    return {"staff_id": staff_id, "matters": profile.matters, "active": profile.active}


@router.post("/inspectors/{staff_id}/conflicts", status_code=201)
async def declare_conflict(
    body: ConflictIn, principal: PrincipalDep, session: SessionDep, staff_id: StaffIdPath
) -> dict[str, str]:
    """Declare a conflict of interest (回避): the inspector themself or an admin."""
    conflict = await service.declare_conflict(
        session, principal, staff_id, kind=body.kind, value=body.value, note=body.note
    )
    return {"id": conflict.id, "key": conflict.key}


def _draw_out(draw_id: str, record: dict[str, object], seed: str) -> DrawOut:
    pair = record.get("pair")
    return DrawOut(
        draw_id=draw_id,
        pair=list(pair) if isinstance(pair, list | tuple) else None,
        reason_zh=str(record.get("reason_zh", record.get("message_zh", ""))),
        reason_en=str(record.get("reason_en", record.get("message_en", ""))),
        seed=seed,
        eligible=list(record.get("eligible", [])),  # type: ignore[call-overload]
        excluded=list(record.get("excluded", [])),  # type: ignore[call-overload]
    )


@router.post("/cases/{case_id}/draw")
async def draw(
    view: VisibleCaseDep, dispatcher: AssignerDep, session: SessionDep, ctx: ContextDep
) -> DrawOut:
    """Draw two qualified, unconflicted inspectors at random, weighted towards lighter load."""
    stored = await service.draw_for_case(session, ctx.settings, dispatcher.actor, view.case)
    return _draw_out(stored.id, stored.result, stored.seed)


@router.post("/cases/{case_id}/replace-inspector")
async def replace(
    body: ReplaceIn, view: VisibleCaseDep, dispatcher: ReplacerDep, session: SessionDep
) -> dict[str, object]:
    """Replace one inspector with a written reason (chosen by the dispatcher, or drawn)."""
    result = await service.replace_inspector(
        session,
        dispatcher.actor,
        view.case,
        leaving=body.leaving,
        reason=body.reason,
        chosen=body.chosen,
    )
    return {
        "pair": list(result.pair or ()),
        "replacement": result.replacement,
        "chosen_by": result.chosen_by,
        "message_zh": result.message_zh,
    }


@router.get("/cases/{case_id}/draws")
async def list_draws(view: VisibleCaseDep, _: DispatchDep, session: SessionDep) -> list[DrawOut]:
    """Every draw and replacement of the case, newest first, with inputs' outcome."""
    return [
        _draw_out(d.id, d.result, d.seed) for d in await service.draws_of(session, view.case.id)
    ]


@router.post("/draws/{draw_id}/replay")
async def replay(
    _: DispatchDep, session: SessionDep, draw_id: Annotated[str, Path(max_length=64)]
) -> dict[str, object]:
    """Re-run a stored draw from its inputs and seed: the same pair must come out."""
    return await service.replay(session, draw_id)
