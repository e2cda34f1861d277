"""The inspection's conclusion (踏勘结论): from the settled items to pass, fail, on site…

Pure, like :mod:`checklists.engine`, whose checklist and item states it reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from checklists.engine import BlockingFinding, CaseChecklist, ChecklistItem, ItemState, VerdictValue
from checklists.schema import VideoCheck

__all__ = ["Conclusion", "ConclusionValue", "Reason", "ReasonKind", "conclude"]


class ConclusionValue(StrEnum):
    passed = "pass"
    pass_after_rectification = "pass_after_rectification"
    failed = "fail"
    needs_onsite = "needs_onsite"
    incomplete = "incomplete"


class ReasonKind(StrEnum):
    blocking_finding = "blocking_finding"
    non_rectifiable_failure = "non_rectifiable_failure"
    unsettled = "unsettled"
    disagreement = "disagreement"
    evidence_missing = "evidence_missing"
    unclear = "unclear"
    rectifiable_failure = "rectifiable_failure"


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    item_id: str | None  # None for a blocking finding from a conflict rule
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class Conclusion:
    value: ConclusionValue
    reasons: tuple[Reason, ...]
    rectification_items: tuple[str, ...] = ()  # failed items the applicant can rectify
    onsite_items: tuple[str, ...] = ()  # items to check on site


def conclude(checklist: CaseChecklist, states: Sequence[ItemState]) -> Conclusion:
    """The outcome of the inspection (踏勘结论) and the reasons, item by item.

    Precedence, first match wins:

    1. ``fail`` — a blocking finding (conflict rule), or an item settled ``fail`` that is
       blocking or not rectifiable, with its required photo. Nothing later can undo it, so the
       inspectors may stop early.
    2. ``incomplete`` — an item awaiting a verdict, an unresolved disagreement, or a photo the
       evidence rule requires and that is missing.
    3. ``needs_onsite`` — an item settled ``unclear`` (typically one video cannot verify).
    4. ``pass_after_rectification`` — only rectifiable failures: rectification request (补齐补正).
    5. ``pass`` — everything else passed or does not apply.

    Record-only items never count. ``reasons`` lists every finding, not only the decisive ones.
    """
    reasons = [_finding_reason(f) for f in checklist.blocking_findings]
    reasons += [r for s in states if not s.item.record_only for r in _item_reasons(s)]
    kinds = {r.kind for r in reasons}
    return Conclusion(
        value=_decide(kinds),
        reasons=tuple(reasons),
        rectification_items=_items_with(reasons, ReasonKind.rectifiable_failure),
        onsite_items=_items_with(reasons, ReasonKind.unclear),
    )


_PRECEDENCE = (
    ({ReasonKind.blocking_finding, ReasonKind.non_rectifiable_failure}, ConclusionValue.failed),
    (
        {ReasonKind.unsettled, ReasonKind.disagreement, ReasonKind.evidence_missing},
        ConclusionValue.incomplete,
    ),
    ({ReasonKind.unclear}, ConclusionValue.needs_onsite),
    ({ReasonKind.rectifiable_failure}, ConclusionValue.pass_after_rectification),
)


def _decide(kinds: set[ReasonKind]) -> ConclusionValue:
    for triggers, value in _PRECEDENCE:
        if kinds & triggers:
            return value
    return ConclusionValue.passed


def _items_with(reasons: Iterable[Reason], kind: ReasonKind) -> tuple[str, ...]:
    return tuple(r.item_id for r in reasons if r.kind is kind and r.item_id)


def _finding_reason(finding: BlockingFinding) -> Reason:
    return Reason(ReasonKind.blocking_finding, None, finding.message_zh, finding.message_en)


def _item_reasons(state: ItemState) -> list[Reason]:
    return [_reason(state.item, situation) for situation in _situations(state)]


def _situations(state: ItemState) -> list[str]:
    """Keys of ``_REASONS`` that describe where the item stands."""
    item, found = state.item, []
    if state.evidence_violation:
        found.append(state.evidence_violation.value)
        if state.settled is not None:
            return found  # a settled value is not established until its photo is there
    if state.settled is None:
        found.append("disagreement" if state.disagreement else "unsettled")
    elif state.settled is VerdictValue.unclear:
        found.append("unclear_on_video" if item.video is VideoCheck.yes else "not_video_verifiable")
    elif state.settled is VerdictValue.failed:
        if item.blocking:
            found.append("blocking_failed")
        else:
            found.append("rectifiable" if item.rectifiable else "not_rectifiable")
    return found


_REASONS: dict[str, tuple[ReasonKind, str, str]] = {
    "photo_required_on_fail": (
        ReasonKind.evidence_missing,
        "判定不合格须附照片",
        "a fail needs a photo",
    ),
    "photo_required_on_pass": (
        ReasonKind.evidence_missing,
        "判定合格须附照片",
        "a pass needs a photo",
    ),
    "disagreement": (
        ReasonKind.disagreement,
        "两名核查人员意见不一致，待主核查人裁定",
        "inspectors disagree; the lead must resolve",
    ),
    "unsettled": (ReasonKind.unsettled, "尚未完成核查", "not yet checked by both inspectors"),
    "unclear_on_video": (
        ReasonKind.unclear,
        "视频中无法确认，需现场核查",
        "could not be confirmed on video; inspect on site",
    ),
    "not_video_verifiable": (
        ReasonKind.unclear,
        "该项不能完全通过视频核验，需现场核查",
        "not fully verifiable over video; inspect on site",
    ),
    "blocking_failed": (ReasonKind.non_rectifiable_failure, "否决项不合格", "blocking item failed"),
    "not_rectifiable": (
        ReasonKind.non_rectifiable_failure,
        "不合格，且无法通过整改补正",
        "failed and cannot be rectified",
    ),
    "rectifiable": (
        ReasonKind.rectifiable_failure,
        "不合格，可上传整改照片补正",
        "failed; can be rectified with photos",
    ),
}


def _reason(item: ChecklistItem, situation: str) -> Reason:
    kind, zh, en = _REASONS[situation]
    return Reason(
        kind, item.id, f"{item.id} {item.title}：{zh}", f"{item.id} {item.title_en}: {en}"
    )
