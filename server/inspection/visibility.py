"""Who sees what of an inspection: the inspectors' working record, and the applicant's view."""

from __future__ import annotations

from server.auth.principal import Principal
from server.cases.states import CaseState
from server.errors import Forbidden
from server.inspection.schemas import ChecklistOut, ItemOut

# What the applicant may see of the results, by case state (see ``redact_for_applicant``).
APPLICANT_RESULT_STATES = frozenset({CaseState.issued, CaseState.closed})
APPLICANT_RECTIFICATION_STATES = frozenset(
    {CaseState.rectification_requested, CaseState.rectification_submitted}
)


def require_staff(principal: Principal) -> None:
    """The inspectors' working views (open items…) are not for the applicant."""
    if not principal.is_staff:
        raise Forbidden(
            "申请人不能查看核查工作进度。", "The applicant cannot see the inspectors' progress."
        )


def _redact_item(item: ItemOut, *, show_result: bool) -> ItemOut:
    return item.model_copy(
        update={
            "verdicts": [],
            "agreed": None,
            "disagreement": None,
            "resolution": None,
            "settled": item.settled if show_result else None,
            "evidence_refs": [],
            "evidence_violation": None,
        }
    )


def redact_for_applicant(out: ChecklistOut) -> ChecklistOut:
    """The applicant's view of the checklist (申请人视图).

    Always shown: the items with their titles, what is checked, the standard, the basis and
    the guidance (the same as the preparation guide), the blocking findings, the current item.
    Never shown: the inspectors' individual marks, notes, evidence references, agreement or
    rulings — they are the inspectors' working record until the opinion speaks for them.
    Settled results and the conclusion: once the opinion is issued (issued, closed); while a
    rectification is requested, only the failed items the applicant is asked to put right.
    """
    state = CaseState(out.state)
    final = state in APPLICANT_RESULT_STATES
    to_rectify: set[str] = set()
    if state in APPLICANT_RECTIFICATION_STATES and out.conclusion is not None:
        to_rectify = set(out.conclusion.rectification_items)
    items = [_redact_item(i, show_result=final or i.id in to_rectify) for i in out.items]
    return out.model_copy(
        update={
            "items": items,
            "frozen_by": None,
            "counts": out.counts if final else None,
            "conclusion": out.conclusion if final else None,
            "redacted": True,
        }
    )
