"""The inspector pool, the draw of two inspectors, replacement and replay."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.assignment import service
from server.assignment.models import Draw, InspectorConflict, InspectorProfile
from server.assignment.schemas import ConflictIn, DrawOut, InspectorOut, ProfileIn, ReplaceIn
from server.audit.service import append
from server.auth.models import Role, Staff
from server.auth.principal import Principal
from server.deps import ContextDep, PrincipalDep, SessionDep, VisibleCaseDep, require_roles
from server.errors import BadInput, Conflict, Forbidden, not_found
from server.notifications import events

router = APIRouter(prefix="/api/v1", tags=["assignment"])
AdminDep = Annotated[Principal, Depends(require_roles(Role.admin))]
DispatchDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.dispatcher))]
StaffIdPath = Annotated[str, Path(max_length=64)]


async def _inspector(session: SessionDep, staff_id: str) -> Staff:
    staff = await session.get(Staff, staff_id)
    if staff is None or staff.role != Role.inspector:
        raise not_found("该踏勘人员", "Inspector")
    return staff


@router.get("/inspectors")
async def list_inspectors(_: DispatchDep, session: SessionDep) -> list[InspectorOut]:
    """The inspector pool with qualifications, current load and declared conflicts."""
    staff = {
        s.id: s for s in await session.scalars(select(Staff).where(Staff.role == Role.inspector))
    }
    conflicts: dict[str, list[dict[str, str]]] = {}
    for c in await session.scalars(select(InspectorConflict)):
        conflicts.setdefault(c.staff_id, []).append({"id": c.id, "key": c.key, "note": c.note})
    return [
        InspectorOut(
            staff_id=c.inspector_id,
            username=staff[c.inspector_id].username,
            display_name=staff[c.inspector_id].display_name,
            organisation=c.organisation,
            active=c.active,
            matters=sorted(c.matters),
            open_cases=c.open_cases,
            conflicts=conflicts.get(c.inspector_id, []),
        )
        for c in await service.candidates(session)
    ]


@router.put("/inspectors/{staff_id}/profile")
async def set_profile(
    body: ProfileIn, admin: AdminDep, session: SessionDep, ctx: ContextDep, staff_id: StaffIdPath
) -> dict[str, object]:
    """Set an inspector's qualifications (matters) and whether they take cases."""
    await _inspector(session, staff_id)
    unknown = [m for m in body.codes() if ctx.matter_lookup(m) is None]
    if unknown:
        raise BadInput(
            f"未知的事项：{', '.join(unknown)}", f"Unknown matters: {', '.join(unknown)}"
        )
    profile = await session.get(InspectorProfile, staff_id)
    if profile is None:
        profile = InspectorProfile(staff_id=staff_id)
        session.add(profile)
    profile.matters, profile.active = body.codes(), body.active
    await session.flush()
    await append(
        session,
        admin.actor,
        "inspector.profile",
        detail={"staff": staff_id, "matters": profile.matters, "active": profile.active},
    )
    return {"staff_id": staff_id, "matters": profile.matters, "active": profile.active}


@router.post("/inspectors/{staff_id}/conflicts", status_code=201)
async def declare_conflict(
    body: ConflictIn, principal: PrincipalDep, session: SessionDep, staff_id: StaffIdPath
) -> dict[str, str]:
    """Declare a conflict of interest (回避): the inspector themself or an admin."""
    if not (principal.role == Role.admin or principal.id == staff_id):
        raise Forbidden(
            "只能为自己申报回避，或由管理员代为登记。",
            "Only the inspector themself or an admin may declare a conflict.",
        )
    await _inspector(session, staff_id)
    conflict = InspectorConflict(
        staff_id=staff_id,
        key=service.conflict_key(body.kind, body.value),
        note=body.note,
        declared_by=principal.id,
    )
    session.add(conflict)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("该回避事项已登记。", "This conflict is already declared.") from exc
    await append(
        session,
        principal.actor,
        "inspector.conflict",
        detail={"staff": staff_id, "key": conflict.key},
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
    view: VisibleCaseDep, dispatcher: DispatchDep, session: SessionDep, ctx: ContextDep
) -> DrawOut:
    """Draw two qualified, unconflicted inspectors at random, weighted towards lighter load."""
    result = await service.draw_for_case(session, dispatcher.actor, view.case)
    if result.pair is not None:
        await events.case_assigned(session, ctx.settings, view.case)
    stored = await session.scalar(
        select(Draw).where(Draw.case_id == view.case.id).order_by(Draw.created_at.desc()).limit(1)
    )
    assert stored is not None
    return _draw_out(stored.id, stored.result, stored.seed)


@router.post("/cases/{case_id}/replace-inspector")
async def replace(
    body: ReplaceIn, view: VisibleCaseDep, dispatcher: DispatchDep, session: SessionDep
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
    rows = await session.scalars(
        select(Draw).where(Draw.case_id == view.case.id).order_by(Draw.created_at.desc())
    )
    return [_draw_out(d.id, d.result, d.seed) for d in rows]


@router.post("/draws/{draw_id}/replay")
async def replay(
    _: DispatchDep, session: SessionDep, draw_id: Annotated[str, Path(max_length=64)]
) -> dict[str, object]:
    """Re-run a stored draw from its inputs and seed: the same pair must come out."""
    return await service.replay(session, draw_id)
