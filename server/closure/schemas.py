"""What the decision endpoints take and answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from server.closure.models import OUTCOME_LABELS, CaseDecision, Outcome
from server.platform.time import CHINA_TZ
from server.timeinputs import BeijingDate

DecisionNo = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class DecisionIn(BaseModel):
    """The licensing decision taken on the issued opinion (审批决定)."""

    model_config = ConfigDict(extra="forbid")
    outcome: Outcome  # granted 准予许可 | refused 不予许可
    decision_no: DecisionNo  # 决定书编号
    decided_on: BeijingDate  # not in the future, not before the opinion was issued
    note: Note = ""


class DecisionOut(BaseModel):
    case_id: str
    outcome: Outcome
    outcome_zh: str
    outcome_en: str
    decision_no: str
    decided_on: date
    note: str
    recorded_by_kind: str  # staff | client
    recorded_by_id: str
    recorded_at: datetime
    recorded_at_local: datetime  # Asia/Shanghai
    case_state: str = Field(description="the case's state now (closed once decided)")


def decision_out(decision: CaseDecision, case_state: str) -> DecisionOut:
    outcome = Outcome(decision.outcome)
    label = OUTCOME_LABELS[outcome]
    return DecisionOut(
        case_id=decision.case_id,
        outcome=outcome,
        outcome_zh=label.zh,
        outcome_en=label.en,
        decision_no=decision.decision_no,
        decided_on=decision.decided_on,
        note=decision.note,
        recorded_by_kind=decision.recorded_by_kind,
        recorded_by_id=decision.recorded_by_id,
        recorded_at=decision.recorded_at,
        recorded_at_local=decision.recorded_at.astimezone(CHINA_TZ),
        case_state=case_state,
    )
