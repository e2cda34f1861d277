"""Rectification rules (补齐补正): request, submit, review item by item, expire. Services flush.

Rules kept here:

* Only items the checklist settled as *fail* and marked *rectifiable* can be asked for.
* The applicant submits once every item has at least one rectification photo uploaded after
  the round was requested; the case's clock, paused while waiting, gives way to a
  re-inspection clock (see ``server.sla.service.on_transition``).
* Both current inspectors review every item. All accepted → the case goes to drafting. Any
  rejected (once everyone reviewed everything) → the round is rejected and a new round opens
  with the rejected items, their instructions and the rejection reasons.
* The new round's deadline gives the applicant the same time again: ``max(old deadline, now)
  + (old deadline − old requested_at)``, never less than ``MIN_ROUND_TIME``.
* A round whose deadline passes while still open is expired and the case concluded
  (``expire_overdue`` in :mod:`server.rectification.jobs`, run by the scheduler); the opinion
  then records the failed items (:mod:`server.rectification.history`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from checklists import engine
from checklists.schema import Catalogue
from server.audit.service import Actor, append
from server.auth.principal import Principal
from server.cases.access import CaseView
from server.cases.models import Case
from server.cases.states import CaseAction, require_allowed
from server.cases.workflow import transition
from server.config import Settings
from server.db import utcnow
from server.errors import BadInput, Conflict, not_found
from server.evidence import quality
from server.evidence import repository as evidence_repository
from server.evidence import service as evidence
from server.inspection import service as inspection
from server.notifications import events
from server.notifications.service import configured_channels, notify
from server.platform.storage import ObjectStore
from server.platform.time import shanghai_time
from server.rectification import repository
from server.rectification.models import RectificationItem, RectificationRound

FAILURE_KINDS = ("snapshot", "photo")
MIN_ROUND_TIME = timedelta(days=1)  # a new round never gives the applicant less than this


@dataclass(frozen=True, slots=True)
class ItemRequest:
    item_id: str
    instruction: str


@dataclass(frozen=True, slots=True)
class Round:
    """A round with its items, in checklist-request order."""

    round: RectificationRound
    items: list[RectificationItem]


def actor_ref(actor: Actor) -> str:
    return f"{actor.kind}:{actor.id}"


def _require(case: Case, action: CaseAction) -> None:
    require_allowed(case.state, action)


# --- reading -----------------------------------------------------------------------------------


async def rounds_of(session: AsyncSession, case_id: str) -> list[Round]:
    """Every round of the case, oldest first, with its items."""
    rounds = await repository.rounds(session, case_id)
    if not rounds:
        return []
    items = await repository.items_of(session, [r.id for r in rounds])
    by_round: dict[str, list[RectificationItem]] = {}
    for item in items:
        by_round.setdefault(item.round_id, []).append(item)
    return [Round(r, by_round.get(r.id, [])) for r in rounds]


async def _latest_round(session: AsyncSession, case_id: str, status: str) -> Round:
    found = await repository.latest_round_locked(session, case_id, status)
    if found is None:
        raise Conflict(
            "找不到本案进行中的补齐补正，请刷新。",
            "This case has no rectification round in that state; reload.",
            status=status,
        )
    return Round(found, await repository.items_of_round(session, found.id))


async def failure_photo_urls(
    session: AsyncSession, store: ObjectStore, principal: Principal, rounds: Sequence[Round]
) -> dict[str, str]:
    """Short presigned display URLs of the failure photos, so the phone shows the same angle.

    Shown from the served copy (the applicant never gets the staff-only originals); the read
    is audited like any evidence access.
    """
    if not rounds:
        return {}
    case_id = rounds[0].round.case_id
    assert all(r.round.case_id == case_id for r in rounds), "rounds of one case at a time"
    ids = [e for r in rounds for i in r.items for e in i.failure_evidence_ids]
    found = await evidence.evidence_of_case(session, case_id, ids)
    rows = [e for e in found.values() if e.object_key]
    if not rows:
        return {}
    now = utcnow()
    urls = {e.id: (await evidence.sign(store, e, now, principal.actor)).url for e in rows}
    await evidence.audit_read(session, principal, case_id, rows, what="rectification")
    return urls


# --- request -----------------------------------------------------------------------------------


def _check_items(standing: inspection.Standing, items: Sequence[ItemRequest]) -> None:
    if not items:
        raise BadInput("请至少选择一项需要补正的检查项。", "Choose at least one item to rectify.")
    ids = [i.item_id for i in items]
    if len(set(ids)) != len(ids):
        raise BadInput("同一检查项不能重复列出。", "An item is listed twice.", field="items")
    known = {s.item.id: s for s in standing.states}
    for request in items:
        state = known.get(request.item_id)
        if state is None or state.settled is not engine.VerdictValue.failed:
            raise BadInput(
                f"检查项 {request.item_id} 不是已确定的不合格项，不能要求补正。",
                f"Item {request.item_id} is not a settled failure; it cannot be rectified.",
                item_id=request.item_id,
            )
        if not state.item.rectifiable:
            raise BadInput(
                f"检查项 {request.item_id} 不合格且不可通过补正整改（需现场复核或不予通过）。",
                f"Item {request.item_id} failed and cannot be rectified by photos.",
                item_id=request.item_id,
            )
        if not request.instruction.strip():
            raise BadInput(
                f"请填写检查项 {request.item_id} 的整改要求。",
                f"Write the instruction for item {request.item_id}.",
                item_id=request.item_id,
            )


async def _failure_evidence(
    session: AsyncSession, standing: inspection.Standing, case_id: str, item_id: str
) -> list[str]:
    """Snapshots and photos tied to the item, plus evidence the verdicts referenced."""
    rows = await evidence_repository.in_capture_order(session, case_id, FAILURE_KINDS)
    tied = [
        r.id for r in rows if item_id in r.item_ids and r.meta.get("purpose") != "rectification"
    ]
    refs = standing.state_of(item_id).evidence_refs
    found = await evidence.evidence_of_case(session, case_id, refs)
    referenced = [r for r in refs if r in found]
    return list(dict.fromkeys([*tied, *(r for r in referenced if r not in tied)]))


async def _next_number(session: AsyncSession, case_id: str) -> int:
    query = select(func.max(RectificationRound.number)).where(RectificationRound.case_id == case_id)
    return int(await session.scalar(query) or 0) + 1


async def _open_round(
    session: AsyncSession,
    actor: Actor,
    case: Case,
    *,
    deadline: datetime,
    items: Sequence[tuple[str, str, list[str]]],
    now: datetime,
) -> Round:
    row = RectificationRound(
        case_id=case.id,
        number=await _next_number(session, case.id),
        requested_by=actor_ref(actor),
        requested_at=now,
        deadline=deadline,
        status="open",
    )
    session.add(row)
    await session.flush()
    made = [
        RectificationItem(
            round_id=row.id,
            item_id=item_id,
            instruction=instruction,
            failure_evidence_ids=failure,
            photo_evidence_ids=[],
            reviews={},
        )
        for item_id, instruction, failure in items
    ]
    session.add_all(made)
    await session.flush()
    return Round(row, made)


async def _tell_applicant(session: AsyncSession, settings: Settings, case: Case, r: Round) -> None:
    await notify(
        session,
        template="rectification_requested",
        params={
            "case_number": case.number,
            "items": len(r.items),
            "deadline": shanghai_time(r.round.deadline),
        },
        event=f"rectification:{case.id}:{r.round.number}",
        channels=configured_channels(settings),
        case_id=case.id,
        applicant=True,
    )


async def request(
    session: AsyncSession,
    *,
    principal: Principal,
    view: CaseView,
    catalogue: Catalogue,
    settings: Settings,
    deadline: datetime,
    items: Sequence[ItemRequest],
    now: datetime,
) -> Round:
    """Ask the applicant to put the failed rectifiable items right by ``deadline``."""
    case = view.case
    _require(case, CaseAction.request_rectification)
    if deadline <= now:  # aware: read at the edge (server.timeinputs)
        raise BadInput(
            "截止时间须为将来的时间。",
            "The deadline must be a time in the future.",
            field="deadline",
        )
    standing = await inspection.standing(session, catalogue, view)
    _check_items(standing, items)
    rows = [
        (
            i.item_id,
            i.instruction.strip(),
            await _failure_evidence(session, standing, case.id, i.item_id),
        )
        for i in items
    ]
    opened = await _open_round(
        session, principal.actor, case, deadline=deadline, items=rows, now=now
    )
    await transition(
        session,
        principal.actor,
        case,
        CaseAction.request_rectification,
        detail={"round": opened.round.number, "items": [i.item_id for i in items]},
        now=now,
    )
    await _tell_applicant(session, settings, case, opened)
    return opened


# --- submit ------------------------------------------------------------------------------------


async def _rectification_photos(
    session: AsyncSession, case_id: str, since: datetime
) -> dict[str, list[str]]:
    """Rectification photo ids per item, uploaded since ``since``; a flagged photo its taker
    set aside to retake is left out."""
    rows = await evidence_repository.photos_since(session, case_id, since)
    decided = await quality.decisions_for(session, case_id, [r.id for r in rows if r.quality])
    set_aside = {e for e, d in decided.items() if d.decision == "retake"}
    found: dict[str, list[str]] = {}
    for row in rows:
        if row.meta.get("purpose") == "rectification" and row.id not in set_aside:
            for item_id in row.item_ids:
                found.setdefault(item_id, []).append(row.id)
    return found


async def submit(
    session: AsyncSession,
    *,
    principal: Principal,
    view: CaseView,
    settings: Settings,
    now: datetime,
) -> Round:
    """The applicant hands in the round: every item needs at least one new photo. The case's
    inspectors are told."""
    case = view.case
    _require(case, CaseAction.submit_rectification)
    current = await _latest_round(session, case.id, "open")
    photos = await _rectification_photos(session, case.id, current.round.requested_at)
    missing = [i.item_id for i in current.items if not photos.get(i.item_id)]
    if missing:
        raise BadInput(
            f"以下检查项还没有上传整改照片：{'、'.join(missing)}",
            f"These items have no rectification photo yet: {', '.join(missing)}",
            missing=missing,
        )
    for item in current.items:
        item.photo_evidence_ids = list(photos[item.item_id])
    current.round.status = "submitted"
    current.round.submitted_at = now
    await session.flush()
    await transition(
        session,
        principal.actor,
        case,
        CaseAction.submit_rectification,
        detail={"round": current.round.number},
        now=now,
    )
    await events.rectification_submitted(
        session, settings, case, round_number=current.round.number, items=len(current.items)
    )
    return current


# --- review ------------------------------------------------------------------------------------


def accepted_by_all(item: RectificationItem, inspectors: Sequence[str]) -> bool:
    return all(item.reviews.get(i, {}).get("accepted") is True for i in inspectors)


def _reviewed_by_all(items: Sequence[RectificationItem], inspectors: Sequence[str]) -> bool:
    return all(i in item.reviews for item in items for i in inspectors)


def next_deadline(r: RectificationRound, now: datetime) -> datetime:
    """The same time again, counted from the later of the old deadline and now."""
    span = max(r.deadline - r.requested_at, MIN_ROUND_TIME)
    return max(r.deadline, now) + span


def _rejection_note(item: RectificationItem, inspectors: Sequence[str]) -> str:
    reasons = [
        str(item.reviews[i].get("reason", "")).strip()
        for i in inspectors
        if item.reviews.get(i, {}).get("accepted") is False
    ]
    return "；".join(dict.fromkeys(r for r in reasons if r))


async def review(
    session: AsyncSession,
    *,
    principal: Principal,
    view: CaseView,
    settings: Settings,
    item_id: str,
    accepted: bool,
    reason: str,
    now: datetime,
) -> Round:
    """One inspector's review of one item; decides the round once both reviewed every item."""
    case = view.case
    _require(case, CaseAction.verify_rectification)
    reason = reason.strip()
    if not accepted and not reason:
        raise BadInput(
            "不通过时请写明原因，申请人将据此再次整改。",
            "Give a reason when rejecting; the applicant rectifies again from it.",
            field="reason",
        )
    current = await _latest_round(session, case.id, "submitted")
    item = next((i for i in current.items if i.item_id == item_id), None)
    if item is None:
        raise not_found(f"本轮补正中的检查项 {item_id}", f"Item {item_id} in this round")
    entry = {"accepted": accepted, "reason": reason, "at": now.isoformat()}
    item.reviews = {**item.reviews, principal.id: entry}
    await session.flush()
    await append(
        session,
        principal.actor,
        "rectification.reviewed",
        case_id=case.id,
        detail={"round": current.round.number, "item_id": item_id} | entry,
    )
    await _decide(session, principal.actor, view, settings, current, now)
    return current


async def _decide(
    session: AsyncSession,
    actor: Actor,
    view: CaseView,
    settings: Settings,
    current: Round,
    now: datetime,
) -> None:
    inspectors = view.inspector_ids[:2]
    if len(inspectors) < 2 or not _reviewed_by_all(current.items, inspectors):
        return
    current.round.decided_at = now
    rejected = [i for i in current.items if not accepted_by_all(i, inspectors)]
    detail = {"round": current.round.number, "rejected": [i.item_id for i in rejected]}
    if not rejected:
        current.round.status = "verified"
        await session.flush()
        await transition(
            session, actor, view.case, CaseAction.verify_rectification, detail=detail, now=now
        )
        return
    current.round.status = "rejected"
    await session.flush()
    again = [
        (
            i.item_id,
            f"{i.instruction}\n上轮核验不通过：{_rejection_note(i, inspectors)}",
            list(i.failure_evidence_ids),
        )
        for i in rejected
    ]
    opened = await _open_round(
        session, actor, view.case, deadline=next_deadline(current.round, now), items=again, now=now
    )
    await transition(
        session,
        actor,
        view.case,
        CaseAction.reject_rectification,
        detail=detail | {"next_round": opened.round.number},
        now=now,
    )
    await _tell_applicant(session, settings, view.case, opened)
