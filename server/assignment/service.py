"""Drawing and replacing a case's two inspectors from the stored pool."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.assignment import repository
from server.assignment.draw import (
    Candidate,
    DrawInput,
    DrawResult,
    ReplacementResult,
    address_key,
    applicant_key,
    case_keys,
    draw_pair,
    new_seed,
    phone_key,
    replacement,
)
from server.assignment.models import Draw, InspectorConflict, InspectorProfile
from server.audit.service import Actor, append
from server.auth.models import Role, Staff
from server.auth.principal import Principal
from server.cases.links import issue_link
from server.cases.models import Case, CaseInspector
from server.cases.states import CaseAction, CaseState, next_state
from server.cases.workflow import transition
from server.config import Settings
from server.db import utcnow
from server.errors import BadInput, Conflict, Forbidden, not_found
from server.notifications import events

ConflictKind = Literal["applicant", "address", "phone"]
_KEY_MAKERS = {"applicant": applicant_key, "address": address_key, "phone": phone_key}


def conflict_key(kind: ConflictKind, value: str) -> str:
    key = _KEY_MAKERS[kind](value)
    if key.endswith(":"):
        raise BadInput("回避对象不能为空。", "The conflict value must not be empty.")
    return key


async def candidates(session: AsyncSession) -> list[Candidate]:
    rows = await repository.inspectors_with_profiles(session)
    loads = await repository.open_case_counts(session)
    conflicts = await repository.conflicts_by_inspector(session)
    return [
        Candidate(
            inspector_id=staff.id,
            organisation=staff.organisation,
            matters=frozenset(profile.matters if profile else ()),
            active=staff.active and bool(profile and profile.active),
            open_cases=loads.get(staff.id, 0),
            conflicts=frozenset(c.key for c in conflicts.get(staff.id, ())),
        )
        for staff, profile in rows
    ]


async def pool(session: AsyncSession) -> list[tuple[Candidate, Staff, list[InspectorConflict]]]:
    """The inspector pool: each candidate with its account and its declared conflicts."""
    staff = await repository.inspectors_by_id(session)
    conflicts = await repository.conflicts_by_inspector(session)
    return [
        (c, staff[c.inspector_id], conflicts.get(c.inspector_id, []))
        for c in await candidates(session)
    ]


async def draws_of(session: AsyncSession, case_id: str) -> list[Draw]:
    """Every draw and replacement of the case, newest first."""
    return await repository.draws_of(session, case_id)


async def _draw_input(session: AsyncSession, case: Case, exclude: frozenset[str]) -> DrawInput:
    return DrawInput(
        case_id=case.id,
        matters=frozenset(case.matters),
        applicant_keys=case_keys(
            applicant_name=case.applicant_name,
            applicant_id_no=case.applicant_id_no,
            phone=case.applicant_phone,
            address=case.site_address,
        ),
        candidates=tuple(await candidates(session)),
        seed=new_seed(),
        exclude=exclude,
    )


def _result_record(result: DrawResult | ReplacementResult) -> dict[str, Any]:
    record = asdict(result)
    record["eligible"] = [asdict(c) for c in result.eligible]
    record["excluded"] = [asdict(e) for e in result.excluded]
    return record


async def draw_for_case(
    session: AsyncSession, settings: Settings, actor: Actor, case: Case
) -> Draw:
    """Draw two inspectors and tell them; with fewer than two eligible the case stays
    unassigned, with why. The stored draw is returned."""
    next_state(CaseState(case.state), CaseAction.assign)  # refuse early, before drawing
    draw_input = await _draw_input(session, case, frozenset())
    result = draw_pair(draw_input)
    stored = Draw(
        case_id=case.id,
        kind="draw",
        seed=draw_input.seed,
        input=draw_input.as_record(),
        result=_result_record(result),
        created_by=actor.id,
    )
    session.add(stored)
    await session.flush()  # the caller answers with the draw's id
    if result.pair is None:
        case.extra = case.extra | {"unassigned": {"zh": result.reason_zh, "en": result.reason_en}}
        await session.flush()
        await append(
            session, actor, "case.draw_failed", case_id=case.id, detail={"reason": result.reason_en}
        )
        return stored
    for position, staff_id in zip(("lead", "second"), result.pair, strict=True):
        session.add(CaseInspector(case_id=case.id, staff_id=staff_id, position=position))
    case.extra = {k: v for k, v in case.extra.items() if k != "unassigned"}
    await transition(session, actor, case, CaseAction.assign, detail={"pair": list(result.pair)})
    issued = await issue_link(session, actor, case, settings.effective_base_url)
    await events.case_assigned(session, settings, case, issued.url)
    return stored


async def replace_inspector(
    session: AsyncSession,
    actor: Actor,
    case: Case,
    *,
    leaving: str,
    reason: str,
    chosen: str | None,
) -> ReplacementResult:
    """Swap one inspector, keeping the position; the reason is required and audited."""
    rows = await repository.current_pair(session, case.id)
    by_position = {r.position: r for r in rows}
    if set(by_position) != {"lead", "second"}:
        raise Conflict("本案尚未分派两名踏勘人员。", "This case has no assigned pair yet.")
    pair = (by_position["lead"].staff_id, by_position["second"].staff_id)
    draw_input = await _draw_input(session, case, frozenset())
    result = replacement(draw_input, pair=pair, leaving=leaving, reason=reason, chosen=chosen)
    session.add(
        Draw(
            case_id=case.id,
            kind="replacement",
            seed=draw_input.seed,
            input=draw_input.as_record() | {"pair": list(pair), "leaving": leaving},
            result=_result_record(result),
            created_by=actor.id,
        )
    )
    if result.replacement is None:
        raise Conflict(result.message_zh, result.message_en)
    old = next(r for r in rows if r.staff_id == leaving)
    old.released_at, old.release_reason = utcnow(), result.reason
    session.add(CaseInspector(case_id=case.id, staff_id=result.replacement, position=old.position))
    await transition(
        session,
        actor,
        case,
        CaseAction.replace_inspector,
        reason=result.reason,
        detail={"leaving": leaving, "joining": result.replacement, "by": result.chosen_by},
    )
    return result


async def replay(session: AsyncSession, draw_id: str) -> dict[str, Any]:
    """Re-run a stored draw from its inputs and seed; anyone can check it gives the same pair."""
    stored = await session.get(Draw, draw_id)
    if stored is None:
        raise not_found("该抽取记录", "Draw")
    if stored.kind != "draw":
        raise BadInput("只能复现随机抽取记录。", "Only draws (not replacements) can be replayed.")
    again = draw_pair(DrawInput.from_record(stored.input))
    same = list(again.pair or []) == list(stored.result["pair"] or [])
    return {
        "draw_id": stored.id,
        "stored_pair": stored.result["pair"],
        "replayed_pair": again.pair,
        "same": same,
    }


# --- the inspector pool ------------------------------------------------------------------------


async def require_inspector(session: AsyncSession, staff_id: str) -> Staff:
    staff = await session.get(Staff, staff_id)
    if staff is None or staff.role != Role.inspector:
        raise not_found("该踏勘人员", "Inspector")
    return staff


async def set_profile(
    session: AsyncSession,
    actor: Actor,
    staff_id: str,
    *,
    matters: list[str],
    active: bool,
    known_matter: Callable[[str], bool],
) -> InspectorProfile:
    """Set an inspector's qualifications (matters) and whether they take cases; audited."""
    await require_inspector(session, staff_id)
    unknown = [m for m in matters if not known_matter(m)]
    if unknown:
        raise BadInput(
            f"未知的事项：{', '.join(unknown)}", f"Unknown matters: {', '.join(unknown)}"
        )
    profile = await session.get(InspectorProfile, staff_id)
    if profile is None:
        profile = InspectorProfile(staff_id=staff_id)
        session.add(profile)
    profile.matters, profile.active = matters, active
    await session.flush()
    await append(
        session,
        actor,
        "inspector.profile",
        detail={"staff": staff_id, "matters": profile.matters, "active": profile.active},
    )
    return profile


async def declare_conflict(
    session: AsyncSession,
    principal: Principal,
    staff_id: str,
    *,
    kind: ConflictKind,
    value: str,
    note: str,
) -> InspectorConflict:
    """Declare a conflict of interest (回避): the inspector themself or an admin; audited."""
    if not (principal.role == Role.admin or principal.id == staff_id):
        raise Forbidden(
            "只能为自己申报回避，或由管理员代为登记。",
            "Only the inspector themself or an admin may declare a conflict.",
        )
    await require_inspector(session, staff_id)
    conflict = InspectorConflict(
        staff_id=staff_id, key=conflict_key(kind, value), note=note, declared_by=principal.id
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
    return conflict
