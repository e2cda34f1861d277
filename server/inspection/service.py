"""Inspection (踏勘): freeze the case's checklist, record verdicts and rulings, say where it stands.

The rules of merging, settling and concluding live in :mod:`checklists.engine`; this module
stores what the inspectors do and feeds it back to the engine. Services only flush.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from checklists import engine
from checklists.conclusion import Conclusion, ConclusionValue, conclude
from checklists.schema import Catalogue, SelectionError
from server.audit.service import Actor, append
from server.cases.access import CaseView
from server.cases.models import Case
from server.cases.states import (
    STATE_LABELS,
    CaseAction,
    CaseState,
    require_allowed,
)
from server.cases.workflow import transition
from server.db import utcnow
from server.errors import AppError, Conflict, Forbidden, not_found
from server.evidence.service import require_refs_of_case
from server.inspection import replay, repository
from server.inspection.models import CaseChecklist, ResolutionRow, VerdictRow
from server.inspection.onsite import go_onsite
from server.opinions.reopened import reopened_items
from server.sla.clock import SlaPolicy


class NotInspecting(Conflict):
    """Verdicts, rulings and "now inspecting" are only recorded while the inspection runs."""

    code = "invalid_state"

    def __init__(self, case: Case, doing_zh: str, doing_en: str) -> None:
        label = STATE_LABELS[CaseState(case.state)]
        super().__init__(
            f"案件当前状态为“{label.zh}”，只有踏勘进行中才能{doing_zh}。",
            f"The case is {label.en}; {doing_en} only while the inspection is in progress.",
            current=case.state,
            required=CaseState.in_progress.value,
        )


@dataclass(frozen=True)
class Standing:
    """A case's checklist and where each item stands, with the rows behind it."""

    checklist: engine.CaseChecklist
    frozen: CaseChecklist | None
    states: list[engine.ItemState]
    verdicts: dict[tuple[str, str], VerdictRow] = field(default_factory=dict)  # latest
    resolutions: dict[str, ResolutionRow] = field(default_factory=dict)  # those in force

    def state_of(self, item_id: str) -> engine.ItemState:
        for state in self.states:
            if state.item.id == item_id:
                return state
        raise not_found(f"检查项 {item_id}", f"Checklist item {item_id}")

    @property
    def conclusion(self) -> Conclusion:
        return conclude(self.checklist, self.states)


@dataclass(frozen=True)
class StartResult:
    state: CaseState
    frozen: CaseChecklist
    newly_frozen: bool
    checklist: engine.CaseChecklist


# --- the checklist -----------------------------------------------------------------------------


def _selection_conflict(exc: SelectionError) -> Conflict:
    return Conflict(
        f"案件的事项或情形与检查项目录不符：{exc.message_zh}",
        f"The case's matters or scenarios do not match the catalogue: {exc.message_en}",
    )


def _live_checklist(catalogue: Catalogue, case: Case) -> engine.CaseChecklist:
    try:
        return engine.build_checklist(catalogue, case.matters, case.scenarios)
    except SelectionError as exc:
        raise _selection_conflict(exc) from exc


async def _from_snapshot(row: CaseChecklist) -> engine.CaseChecklist:
    try:
        # Validated like a catalogue file (a few ms of CPU): off the event loop.
        return await asyncio.to_thread(engine.checklist_from_snapshot, row.snapshot)
    except (engine.SnapshotError, ValueError) as exc:
        raise AppError(
            "本案冻结的检查项快照无法读取，请联系管理员。",
            "This case's frozen checklist snapshot cannot be read; contact an administrator.",
        ) from exc


async def frozen_row(session: AsyncSession, case_id: str) -> CaseChecklist | None:
    return await session.get(CaseChecklist, case_id)


async def case_checklist(
    session: AsyncSession, catalogue: Catalogue, case: Case
) -> tuple[engine.CaseChecklist, CaseChecklist | None]:
    """The frozen checklist once the inspection started, else the one the catalogue gives now."""
    row = await frozen_row(session, case.id)
    if row is None:
        return _live_checklist(catalogue, case), None
    return await _from_snapshot(row), row


async def _latest_verdicts(
    session: AsyncSession, case_id: str, inspectors: Sequence[str]
) -> dict[tuple[str, str], VerdictRow]:
    """The latest verdict per (item, inspector) of the case's *current* inspectors.

    A replaced inspector's verdicts stay in the record but no longer count: the pair that
    signs the opinion is the pair whose marks settle the items.
    """
    rows = await repository.verdicts(session, case_id, inspectors=inspectors)
    return {(row.item_id, row.inspector_id): row for row in rows}


async def _latest_resolutions(session: AsyncSession, case_id: str) -> dict[str, ResolutionRow]:
    return {row.item_id: row for row in await repository.resolutions(session, case_id)}


def _resolutions_in_force(
    latest: dict[tuple[str, str], VerdictRow], resolutions: dict[str, ResolutionRow]
) -> dict[str, ResolutionRow]:
    """A ruling counts only while the verdicts it ruled on are still the latest ones."""
    current: dict[str, set[int]] = {}
    for (item_id, _), row in latest.items():
        current.setdefault(item_id, set()).add(row.id)
    return {
        item_id: row
        for item_id, row in resolutions.items()
        if set(row.verdict_ids) == current.get(item_id)
    }


def _engine_verdict(row: VerdictRow) -> engine.Verdict:
    return engine.Verdict(
        row.item_id,
        row.inspector_id,
        engine.VerdictValue(row.value),
        row.note,
        tuple(row.evidence_refs),
    )


async def standing(session: AsyncSession, catalogue: Catalogue, view: CaseView) -> Standing:
    """The case's checklist with both inspectors' latest verdicts settled by the engine."""
    checklist, row = await case_checklist(session, catalogue, view.case)
    known = {item.id for item in checklist.items}
    latest = {
        key: v
        for key, v in (await _latest_verdicts(session, view.case.id, view.inspector_ids)).items()
        if v.item_id in known
    }
    resolutions = _resolutions_in_force(latest, await _latest_resolutions(session, view.case.id))
    states = engine.settle(
        checklist,
        [_engine_verdict(v) for v in latest.values()],
        [
            engine.Resolution(r.item_id, engine.VerdictValue(r.value), r.reason)
            for r in resolutions.values()
        ],
    )
    return Standing(checklist, row, states, latest, resolutions)


# --- starting the inspection -------------------------------------------------------------------


def _require_action(case: Case, action: CaseAction) -> None:
    require_allowed(case.state, action)


async def _freeze(
    session: AsyncSession, actor: Actor, case: Case, catalogue: Catalogue
) -> CaseChecklist:
    try:
        snapshot = await asyncio.to_thread(catalogue.snapshot_for, case.matters, case.scenarios)
    except SelectionError as exc:
        raise _selection_conflict(exc) from exc
    row = CaseChecklist(
        case_id=case.id,
        catalogue_version=snapshot["catalogue_version"],
        catalogue_fingerprint=snapshot["catalogue_fingerprint"],
        snapshot=snapshot,
        frozen_at=utcnow(),
        frozen_by=actor.id,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:  # the other inspector pressed "start" at the same moment
        raise Conflict(
            "踏勘刚刚已由另一名踏勘人员开始，请刷新。",
            "The other inspector has just started the inspection; reload.",
        ) from exc
    await append(
        session,
        actor,
        "inspection.checklist_frozen",
        case_id=case.id,
        detail={
            "catalogue_version": row.catalogue_version,
            "catalogue_fingerprint": row.catalogue_fingerprint,
            "matters": snapshot["matters"],
            "scenarios": snapshot["scenarios"],
        },
    )
    return row


async def start_inspection(
    session: AsyncSession, actor: Actor, case: Case, catalogue: Catalogue
) -> StartResult:
    """Start (or restart) the inspection; the checklist is frozen the first time only.

    The catalogue version is fixed when a case's inspection first starts: a restart after a
    reschedule or a switch to on-site keeps that snapshot, whatever the catalogue became.
    """
    _require_action(case, CaseAction.start_inspection)
    row = await frozen_row(session, case.id)
    newly_frozen = row is None
    if row is None:
        row = await _freeze(session, actor, case, catalogue)
    checklist = await _from_snapshot(row)
    findings = [f.rule_id for f in checklist.blocking_findings]
    state = await transition(
        session,
        actor,
        case,
        CaseAction.start_inspection,
        detail={"catalogue_version": row.catalogue_version, "blocking_findings": findings},
    )
    return StartResult(state, row, newly_frozen, checklist)


# --- verdicts, rulings, the current item -------------------------------------------------------


def _require_inspecting(case: Case, doing_zh: str, doing_en: str) -> None:
    if case.state != CaseState.in_progress:
        raise NotInspecting(case, doing_zh, doing_en)


async def _require_open_item(
    session: AsyncSession, actor: Actor, view: CaseView, item_id: str, doing: tuple[str, str]
) -> None:
    """In progress every item is open; after a reviewer's send-back, only the items it named,
    and only for the lead (``server.opinions.reopened``)."""
    if view.case.state == CaseState.drafted and actor.id == view.lead_id:
        if item_id in await reopened_items(session, view.case):
            return
    _require_inspecting(view.case, *doing)


async def _inspecting_standing(
    session: AsyncSession, catalogue: Catalogue, view: CaseView
) -> Standing:
    found = await standing(session, catalogue, view)
    if found.frozen is None:  # in progress without the start endpoint: nothing to mark against
        raise Conflict(
            "本案检查项尚未冻结，请先通过“开始踏勘”开始。",
            "The checklist is not frozen yet; start the inspection first.",
        )
    return found


async def record_verdict(
    session: AsyncSession,
    actor: Actor,
    view: CaseView,
    catalogue: Catalogue,
    *,
    item_id: str,
    value: engine.VerdictValue,
    note: str,
    evidence_refs: Sequence[str],
) -> Standing:
    """One inspector marks one item; marking it again adds a row and the new mark counts.
    The same mark as the current one is a retry and changes nothing."""
    await _require_open_item(
        session, actor, view, item_id, ("记录核查意见", "verdicts can be recorded")
    )
    found = await _inspecting_standing(session, catalogue, view)
    found.state_of(item_id)  # 404 for an item not on this case's checklist
    refs = [e.id for e in await require_refs_of_case(session, view.case.id, evidence_refs)]
    mark = replay.Mark(view.case.id, item_id, actor.id, value.value, note.strip(), refs)
    if await replay.is_retry(session, mark):
        return await standing(session, catalogue, view)  # a retry: already recorded
    row = VerdictRow(
        case_id=view.case.id,
        item_id=item_id,
        inspector_id=actor.id,
        value=value.value,
        note=note.strip(),
        evidence_refs=refs,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    await append(
        session,
        actor,
        "inspection.verdict",
        case_id=view.case.id,
        detail={
            "verdict": row.id,
            "item_id": item_id,
            "value": row.value,
            "note": row.note,
            "evidence_refs": refs,
        },
    )
    return await standing(session, catalogue, view)


async def resolve(
    session: AsyncSession,
    actor: Actor,
    view: CaseView,
    catalogue: Catalogue,
    *,
    item_id: str,
    value: engine.VerdictValue,
    reason: str,
) -> Standing:
    """The lead inspector settles a disagreement, with a reason (主核查人裁定)."""
    if actor.id != view.lead_id:
        raise Forbidden(
            "只有主核查人可以裁定意见分歧。", "Only the lead inspector may resolve a disagreement."
        )
    await _require_open_item(
        session, actor, view, item_id, ("裁定意见分歧", "disagreements can be resolved")
    )
    found = await _inspecting_standing(session, catalogue, view)
    if not found.state_of(item_id).disagreement:
        raise Conflict(
            f"检查项 {item_id} 目前没有意见分歧（需两名核查人员均已给出不同意见），无需裁定。",
            f"Item {item_id} has no disagreement to resolve (both inspectors must have marked "
            "it differently).",
        )
    verdict_ids = sorted(v.id for (item, _), v in found.verdicts.items() if item == item_id)
    row = ResolutionRow(
        case_id=view.case.id,
        item_id=item_id,
        value=value.value,
        reason=reason.strip(),
        verdict_ids=verdict_ids,
        resolved_by=actor.id,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    await append(
        session,
        actor,
        "inspection.resolution",
        case_id=view.case.id,
        detail={
            "resolution": row.id,
            "item_id": item_id,
            "value": row.value,
            "reason": row.reason,
            "verdicts": verdict_ids,
        },
    )
    return await standing(session, catalogue, view)


async def set_current_item(
    session: AsyncSession, actor: Actor, view: CaseView, catalogue: Catalogue, item_id: str | None
) -> CaseChecklist:
    """Say which item the call is on now; audited, so a recording can be matched to items."""
    _require_inspecting(view.case, "切换当前检查项", "the current item can be set")
    row = await frozen_row(session, view.case.id)
    if row is None:
        raise Conflict(
            "本案检查项尚未冻结，请先通过“开始踏勘”开始。",
            "The checklist is not frozen yet; start the inspection first.",
        )
    if item_id is not None:
        checklist = await _from_snapshot(row)
        if item_id not in {item.id for item in checklist.items}:
            raise not_found(f"检查项 {item_id}", f"Checklist item {item_id}")
    if row.current_item == item_id:
        return row  # nothing changed: nothing to record
    previous = row.current_item
    row.current_item, row.current_item_at, row.current_item_by = item_id, utcnow(), actor.id
    await session.flush()
    await append(
        session,
        actor,
        "inspection.current_item",
        case_id=view.case.id,
        detail={"item_id": item_id, "previous": previous},
    )
    return row


# --- concluding the inspection -----------------------------------------------------------------


@dataclass(frozen=True)
class Concluded:
    conclusion: Conclusion
    state: CaseState


def _refuse_conclusion(conclusion: Conclusion) -> None:
    value = conclusion.value
    if value is ConclusionValue.incomplete:
        raise Conflict(
            "还有检查项未定论或缺少证据，请先处理后再结束踏勘。",
            "Some items are unsettled or lack evidence; settle them before concluding.",
            reasons=[r.item_id for r in conclusion.reasons if r.item_id],
        )
    if value is ConclusionValue.pass_after_rectification:
        raise Conflict(
            "有可整改的不合格项：请发起补齐补正，整改核验通过后再起草意见。",
            "Rectifiable items failed: request a rectification; draft the opinion after it.",
            rectification_items=list(conclusion.rectification_items),
        )


async def conclude_inspection(
    session: AsyncSession,
    actor: Actor,
    view: CaseView,
    catalogue: Catalogue,
    *,
    now: datetime,
    policy: SlaPolicy,
) -> Concluded:
    """End the video inspection (结束踏勘): to drafting, or on to an on-site visit.

    Items that could not be verified over video send the case to an on-site inspection
    (转线下踏勘) with the complex-class clock; rectifiable failures go through a
    rectification request instead, and unsettled items block.
    """
    _require_inspecting(view.case, "结束踏勘", "conclude the inspection")
    conclusion = (await _inspecting_standing(session, catalogue, view)).conclusion
    _refuse_conclusion(conclusion)
    detail = {"conclusion": conclusion.value.value}
    if conclusion.value is ConclusionValue.needs_onsite:
        state = await go_onsite(session, actor, view.case, now=now, policy=policy, detail=detail)
    else:
        state = await transition(
            session, actor, view.case, CaseAction.conclude, detail=detail, now=now
        )
    return Concluded(conclusion, state)
