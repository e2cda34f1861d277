"""Special procedures (特别程序: 专家评审、听证、现场勘验) suspend the case's SLA clock.

* requested by the case's lead inspector, a dispatcher, the head or an admin, with the kind, a
  reason and the approver (a head or admin, not the requester);
* the named approver approves (the clock pauses with the reason, ``sla.suspension``) or
  declines;
* ended by the lead inspector, a dispatcher, the head or an admin: the clock resumes.

One pending or running procedure per case. Services only flush, and audit.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import append
from server.auth.models import Role, Staff
from server.auth.principal import Principal
from server.cases.access import CaseView, current_inspectors
from server.cases.models import Case
from server.errors import BadInput, Conflict, Forbidden, not_found
from server.notifications.models import Channel
from server.notifications.service import notify
from server.oversight import repository as repo
from server.oversight.models import SpecialProcedure
from server.oversight.schemas import KIND_LABELS, ProcedureIn, ProcedureOut, procedure_out
from server.sla.service import STOP_STATES
from server.sla.suspension import hold_clock, release_clock

APPROVER_ROLES = frozenset({Role.head, Role.admin})
MANAGING_ROLES = frozenset({Role.dispatcher, Role.head, Role.admin})
PROCEDURE_LIMIT = 500


async def request(
    session: AsyncSession,
    principal: Principal,
    view: CaseView,
    body: ProcedureIn,
    *,
    channels: Collection[Channel],
) -> ProcedureOut:
    """Ask for a special procedure on the case; the named approver decides."""
    _check_manager(principal, view.lead_id)
    case = view.case
    if case.state in STOP_STATES:
        raise Conflict(
            "该案件已出具意见、办结或撤销，办理时限已停止，不能再启动特别程序。",
            "This case's opinion is issued, or it is closed or cancelled: its clock has "
            "stopped, so no special procedure can be started.",
            reason="clock_stopped",
        )
    approver = await _approver(session, principal, body.approver_id)
    if await repo.open_procedure(session, case.id) is not None:
        raise _one_open()
    procedure = SpecialProcedure(
        case_id=case.id,
        kind=body.kind,
        reason=body.reason,
        status="requested",
        requested_by=principal.id,
        approver_id=approver.id,
    )
    session.add(procedure)
    try:
        await session.flush()
    except IntegrityError as exc:  # the partial unique index: one open per case
        raise _one_open() from exc
    await append(
        session,
        principal.actor,
        "special_procedure.requested",
        case_id=case.id,
        detail={"procedure": procedure.id, "kind": body.kind, "approver": approver.id},
    )
    label = KIND_LABELS[body.kind]
    await notify(
        session,
        template="special_procedure_requested",
        params={
            "case_number": case.number,
            "kind_zh": label.zh,
            "kind_en": label.en,
            "reason": body.reason,
        },
        event=f"special_procedure:{procedure.id}",
        channels=channels,
        case_id=case.id,
        staff_ids=(approver.id,),
    )
    return procedure_out(procedure, case.number)


async def decide(
    session: AsyncSession,
    principal: Principal,
    procedure_id: str,
    *,
    approve: bool,
    note: str,
    now: datetime,
) -> ProcedureOut:
    """The named approver approves (the clock is suspended) or declines the request."""
    procedure, case = await _locked(session, procedure_id)
    if principal.id != procedure.approver_id:
        raise Forbidden(
            "只有申请时指定的审批人可以审批该特别程序。",
            "Only the approver named in the request can decide on this special procedure.",
        )
    if procedure.status != "requested":
        raise Conflict(
            "该特别程序已经审批过。",
            "This special procedure has already been decided.",
            reason="already_decided",
        )
    procedure.status = "active" if approve else "declined"
    procedure.decided_at = now
    procedure.decision_note = note.strip()
    held = None
    if approve:
        procedure.started_at = now
        reason = f"special_procedure {procedure.kind}: {procedure.reason}"
        held = await hold_clock(session, case, procedure.id, reason, now)
    await session.flush()
    await append(
        session,
        principal.actor,
        "special_procedure.approved" if approve else "special_procedure.declined",
        case_id=case.id,
        detail={"procedure": procedure.id, "clock": None if held is None else held.id},
    )
    return procedure_out(procedure, case.number)


async def end(
    session: AsyncSession, principal: Principal, procedure_id: str, *, outcome: str, now: datetime
) -> ProcedureOut:
    """The procedure is over: the clock runs again (unless the case waits on the applicant)."""
    procedure, case = await _locked(session, procedure_id)
    lead = (await current_inspectors(session, case.id))[:1]
    _check_manager(principal, lead[0] if lead else None)
    if procedure.status != "active":
        already = procedure.status == "ended"
        raise Conflict(
            "该特别程序已经结束。" if already else "该特别程序尚未获批进行，不能结束。",
            "This special procedure has already ended."
            if already
            else "This special procedure is not under way, so it cannot be ended.",
            reason="already_ended" if already else "not_active",
        )
    procedure.status = "ended"
    procedure.ended_at = now
    procedure.ended_by = principal.id
    procedure.outcome = outcome.strip()
    released = await release_clock(session, case, procedure.id, now)
    await session.flush()
    await append(
        session,
        principal.actor,
        "special_procedure.ended",
        case_id=case.id,
        detail={"procedure": procedure.id, "clock": None if released is None else released.id},
    )
    return procedure_out(procedure, case.number)


async def list_procedures(
    session: AsyncSession,
    *,
    status: Literal["requested", "active", "declined", "ended"] | None = None,
    case_id: str | None = None,
    limit: int = PROCEDURE_LIMIT,
) -> list[ProcedureOut]:
    rows = await repo.procedures(session, status=status, case_id=case_id, limit=limit)
    return [procedure_out(*row) for row in rows]


# ── helpers ──


def _check_manager(principal: Principal, lead_id: str | None) -> None:
    if principal.role in MANAGING_ROLES or (lead_id is not None and principal.id == lead_id):
        return
    raise Forbidden(
        "只有该案件的主办踏勘人员、调度员、科室负责人或管理员可以办理特别程序。",
        "Only the case's lead inspector, a dispatcher, the department head or an admin can "
        "handle special procedures.",
    )


async def _approver(session: AsyncSession, principal: Principal, approver_id: str) -> Staff:
    if not approver_id:
        raise BadInput(
            "请指定审批人（科室负责人或管理员）：特别程序须经审批才能暂停计时。",
            "Name the approver (the department head or an admin): a special procedure needs "
            "approval before it suspends the clock.",
            field="approver_id",
        )
    if approver_id == principal.id:
        raise BadInput(
            "审批人不能是申请人本人，请选择另一位科室负责人或管理员。",
            "The approver cannot be the person asking; choose another department head or admin.",
            field="approver_id",
        )
    staff = await session.get(Staff, approver_id)
    if staff is None or not staff.active or Role(staff.role) not in APPROVER_ROLES:
        raise BadInput(
            "审批人必须是在岗的科室负责人或管理员，请重新选择。",
            "The approver must be an active department head or admin; choose again.",
            field="approver_id",
        )
    return staff


def _one_open() -> Conflict:
    return Conflict(
        "该案件已有待审批或进行中的特别程序，请先结束它。",
        "This case already has a special procedure awaiting approval or under way; end it first.",
        reason="procedure_open",
    )


async def _locked(session: AsyncSession, procedure_id: str) -> tuple[SpecialProcedure, Case]:
    query = select(SpecialProcedure).where(SpecialProcedure.id == procedure_id).with_for_update()
    procedure: SpecialProcedure | None = await session.scalar(query)
    case = None if procedure is None else await session.get(Case, procedure.case_id)
    if procedure is None or case is None:
        raise not_found("该特别程序", "Special procedure")
    return procedure, case
