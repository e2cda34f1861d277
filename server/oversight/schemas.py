"""Requests and responses of supervision orders (督办单) and special procedures (特别程序)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from server.cases.states import Label
from server.oversight.models import SpecialProcedure, SupervisionOrder
from server.platform.time import CHINA_TZ
from server.supervision.special import SPECIAL_KINDS

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
StaffId = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
ProcedureKind = Literal["expert_review", "hearing", "site_survey"]

KIND_LABELS = SPECIAL_KINDS
ORDER_STATUS_LABELS: dict[str, Label] = {
    "open": Label("待答复", "awaiting an answer"),
    "closed": Label("已答复办结", "answered and closed"),
}
PROCEDURE_STATUS_LABELS: dict[str, Label] = {
    "requested": Label("待审批", "awaiting approval"),
    "active": Label("进行中（暂停计时）", "under way (clock suspended)"),
    "declined": Label("未获批准", "declined"),
    "ended": Label("已结束（恢复计时）", "ended (clock resumed)"),
}


def _local(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(CHINA_TZ)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text = Field(description="why the case ran over its time limit (超期原因)")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    measures: Text = Field(description="what was done about it (整改措施)")


class OrderOut(BaseModel):
    id: str
    case_id: str
    case_number: str
    status: str
    status_zh: str
    status_en: str
    due_at: datetime | None
    due_at_local: datetime | None
    opened_at: datetime
    opened_at_local: datetime | None
    responsible_id: str
    responsible_name: str
    overdue_reason: str
    reason_at: datetime | None
    answer: str
    answered_by: str
    answered_at: datetime | None
    level: int
    next_escalation_at: datetime | None


def order_out(order: SupervisionOrder, case_number: str, responsible_name: str) -> OrderOut:
    label = ORDER_STATUS_LABELS[order.status]
    return OrderOut(
        id=order.id,
        case_id=order.case_id,
        case_number=case_number,
        status=order.status,
        status_zh=label.zh,
        status_en=label.en,
        due_at=order.due_at,
        due_at_local=_local(order.due_at),
        opened_at=order.opened_at,
        opened_at_local=_local(order.opened_at),
        responsible_id=order.responsible_id,
        responsible_name=responsible_name,
        overdue_reason=order.overdue_reason,
        reason_at=order.reason_at,
        answer=order.answer,
        answered_by=order.answered_by,
        answered_at=order.answered_at,
        level=order.level,
        next_escalation_at=order.next_escalation_at,
    )


class ProcedureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ProcedureKind
    reason: Text
    approver_id: StaffId = Field(default="", description="the head or admin who approves")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: str = Field(default="", max_length=2000, description="what the procedure found")


class ProcedureOut(BaseModel):
    id: str
    case_id: str
    case_number: str
    kind: str
    kind_zh: str
    kind_en: str
    reason: str
    status: str
    status_zh: str
    status_en: str
    requested_by: str
    approver_id: str
    requested_at: datetime
    decided_at: datetime | None
    decision_note: str
    started_at: datetime | None
    started_at_local: datetime | None
    ended_at: datetime | None
    outcome: str


def procedure_out(procedure: SpecialProcedure, case_number: str) -> ProcedureOut:
    kind = KIND_LABELS[procedure.kind]
    status = PROCEDURE_STATUS_LABELS[procedure.status]
    return ProcedureOut(
        id=procedure.id,
        case_id=procedure.case_id,
        case_number=case_number,
        kind=procedure.kind,
        kind_zh=kind.zh,
        kind_en=kind.en,
        reason=procedure.reason,
        status=procedure.status,
        status_zh=status.zh,
        status_en=status.en,
        requested_by=procedure.requested_by,
        approver_id=procedure.approver_id,
        requested_at=procedure.created_at,
        decided_at=procedure.decided_at,
        decision_note=procedure.decision_note,
        started_at=procedure.started_at,
        started_at_local=_local(procedure.started_at),
        ended_at=procedure.ended_at,
        outcome=procedure.outcome,
    )
