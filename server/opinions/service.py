"""The opinion workflow (意见书流转): draft → co-sign → review → issue, corrections, delivery.

Every step goes through ``cases.workflow.transition`` (the case state) and appends an
``opinion.*`` audit record. Rendering, signing and storage run off the event loop. An issued
row is never changed except to become ``superseded`` or to record the window's receipt.
Services only flush; the request's session commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from checklists.conclusion import ConclusionValue
from checklists.schema import Catalogue
from server.audit.service import Actor
from server.auth.models import Role, Staff
from server.auth.principal import Principal
from server.cases.access import CaseView
from server.cases.models import Case
from server.cases.states import STATE_LABELS, CaseAction, CaseState, next_state
from server.cases.workflow import transition
from server.config import Settings
from server.context import AppContext
from server.db import new_id, utcnow
from server.errors import BadInput, Conflict, Forbidden
from server.inspection import service as inspection
from server.notifications import events
from server.notifications.service import configured_channels, notify
from server.opinions.assemble import assemble
from server.opinions.confirm import Confirmation, confirm_signer, record_confirmed
from server.opinions.content import Inspector, OpinionContent, Reviewer, new_verification_code
from server.opinions.issue import deliver, issue
from server.opinions.issue import signing_material as signing_material
from server.opinions.models import OPINION_STATUS_LABELS, Opinion
from server.opinions.records import (
    ISSUED,
    audit,
    content_of,
    current,
    require_current,
    store_content,
)
from server.opinions.records import require_issued as require_issued

# --- the state each step needs (who takes it: ``server.cases.permissions``, at the endpoint) ---


def _require_state(case: Case, action: CaseAction) -> None:
    next_state(CaseState(case.state), action)  # raises InvalidState (409) naming the state


def _require_status(opinion: Opinion, status: str) -> None:
    if opinion.status != status:
        (now_zh, now_en), (need_zh, need_en) = (
            OPINION_STATUS_LABELS[opinion.status],
            OPINION_STATUS_LABELS[status],
        )
        raise Conflict(
            f"意见书当前为“{now_zh}”，这一步需要意见书处于“{need_zh}”。",
            f"The opinion is {now_en}; this step needs it {need_en}.",
            current=opinion.status,
            required=status,
        )


# --- drafting ----------------------------------------------------------------------------------


async def draft(session: AsyncSession, ctx: AppContext, actor: Actor, view: CaseView) -> Opinion:
    """Create or refresh the draft from the stored case; refused while the checklist is open."""
    if view.case.state != CaseState.drafted:
        label = STATE_LABELS[CaseState(view.case.state)]
        raise Conflict(
            f"案件当前状态为“{label.zh}”，只有在“意见起草”阶段可以起草意见书。",
            f"The case is {label.en}; the opinion is drafted only while it is being drafted.",
            current=view.case.state,
            required=CaseState.drafted.value,
        )
    opinion = await current(session, view.case.id)
    if opinion is not None and opinion.status in ISSUED:
        raise Conflict(
            "本案意见书已出具，如需更正请使用“更正”。",
            "The opinion is issued; use a correction to change it.",
        )
    if opinion is None:
        opinion = Opinion(
            id=new_id(),
            case_id=view.case.id,
            version=1,
            verification_code=new_verification_code(),
            drafted_by=actor.id,
            review_comments=[],
        )
        session.add(opinion)
    content, conclusion = await _assemble(session, ctx, view, opinion)
    if conclusion.value is ConclusionValue.incomplete:
        raise Conflict(
            "检查项尚未全部完成或仍有分歧，结论为“踏勘未完成”，不能起草意见书。",
            "The checklist is incomplete (open items or disagreements); no opinion can be drafted.",
            reasons=[r.message_zh for r in conclusion.reasons],
        )
    store_content(opinion, content)
    opinion.status, opinion.drafted_by = "draft", actor.id
    await session.flush()
    await audit(session, actor, "drafted", opinion, content_hash=opinion.content_hash)
    return opinion


async def _assemble(
    session: AsyncSession, ctx: AppContext, view: CaseView, opinion: Opinion
) -> tuple[OpinionContent, Any]:
    return await assemble(
        session,
        ctx.catalogue,
        view,
        opinion_id=opinion.id,
        version=opinion.version,
        previous_id=opinion.previous_id,
        verification_code=opinion.verification_code,
        base_url=ctx.settings.effective_base_url,
        issuer=ctx.settings.bureau_name,
    )


def _signed_inspector(person: Inspector, at: datetime | None) -> Inspector:
    return person.model_copy(update={"signed_at": at})


async def submit(
    session: AsyncSession, settings: Settings, actor: Actor, view: CaseView
) -> Opinion:
    """The lead signs the draft and hands it to the second inspector (提交会签), who is told."""
    _require_state(view.case, CaseAction.submit_draft)
    opinion = await require_current(session, view.case.id)
    _require_status(opinion, "draft")
    content = content_of(opinion)
    lead, second = content.inspectors
    inspectors = (_signed_inspector(lead, utcnow()), _signed_inspector(second, None))
    store_content(opinion, content.model_copy(update={"inspectors": inspectors}))
    opinion.status = "awaiting_cosign"
    await transition(session, actor, view.case, CaseAction.submit_draft)
    await audit(session, actor, "submitted", opinion, content_hash=opinion.content_hash)
    draft_key = f"{opinion.id}:{opinion.content_hash}"
    await events.cosign_requested(session, settings, view.case, draft_key)
    return opinion


async def cosign(
    session: AsyncSession, ctx: AppContext, actor: Actor, view: CaseView, signer: Confirmation
) -> Opinion:
    """The second inspector co-signs (会签), confirmed by their password; reviewers are told."""
    _require_state(view.case, CaseAction.co_sign)
    opinion = await require_current(session, view.case.id)
    _require_status(opinion, "awaiting_cosign")
    await confirm_signer(session, ctx, actor, signer, case_id=view.case.id, step="cosign")
    settings = ctx.settings
    content = content_of(opinion)
    lead, second = content.inspectors
    inspectors = (lead, _signed_inspector(second, utcnow()))
    store_content(opinion, content.model_copy(update={"inspectors": inspectors}))
    opinion.status, opinion.cosigned_by = "under_review", actor.id
    await transition(session, actor, view.case, CaseAction.co_sign)
    await audit(session, actor, "cosigned", opinion, content_hash=opinion.content_hash)
    await record_confirmed(session, actor, signer, case_id=view.case.id, step="cosign")
    await notify(
        session,
        template="review_requested",
        params={"case_number": view.case.number},
        event=f"opinion_review:{opinion.id}:{opinion.content_hash}",
        channels=configured_channels(settings),
        case_id=view.case.id,
        roles=("reviewer",),
    )
    return opinion


def _comment(actor: Actor, kind: str, text: str, items: Sequence[str] = ()) -> dict[str, Any]:
    comment = {"by": actor.id, "kind": kind, "text": text.strip(), "at": utcnow().isoformat()}
    return {**comment, "items": list(items)} if items else comment


async def _return_to_draft(
    session: AsyncSession,
    actor: Actor,
    view: CaseView,
    *,
    action: CaseAction,
    status: str,
    text: str,
    items: Sequence[str] = (),
) -> Opinion:
    _require_state(view.case, action)
    opinion = await require_current(session, view.case.id)
    _require_status(opinion, status)
    comment = _comment(actor, action.value, text, items)
    opinion.review_comments = [*opinion.review_comments, comment]
    opinion.status, opinion.cosigned_by = "draft", None
    await transition(session, actor, view.case, action, reason=text.strip())
    detail: dict[str, Any] = {"step": action.value, "comments": text.strip()}
    if items:
        detail["items"] = list(items)
    await audit(session, actor, "returned", opinion, **detail)
    return opinion


async def decline(session: AsyncSession, actor: Actor, view: CaseView, reason: str) -> Opinion:
    """The second inspector returns the draft to the lead with a reason (退回起草人)."""
    return await _return_to_draft(
        session,
        actor,
        view,
        action=CaseAction.decline_cosign,
        status="awaiting_cosign",
        text=reason,
    )


async def send_back(
    session: AsyncSession,
    catalogue: Catalogue,
    actor: Actor,
    view: CaseView,
    *,
    comments: str,
    items: Sequence[str],
) -> Opinion:
    """The reviewer sends the draft back (退回修改) naming the checklist items to redo: exactly
    those reopen for the lead. The reviewer keeps seeing the case (``reviewed_by``)."""
    _require_state(view.case, CaseAction.send_back)
    opinion = await require_current(session, view.case.id)
    _require_status(opinion, "under_review")
    named = await _checklist_items(session, catalogue, view, items)
    opinion = await _return_to_draft(
        session,
        actor,
        view,
        action=CaseAction.send_back,
        status="under_review",
        text=comments,
        items=named,
    )
    opinion.reviewed_by = actor.id
    return opinion


async def _checklist_items(
    session: AsyncSession, catalogue: Catalogue, view: CaseView, items: Sequence[str]
) -> list[str]:
    """``items`` without repeats, in order; 422 naming any not on this case's checklist."""
    checklist, _ = await inspection.case_checklist(session, catalogue, view.case)
    known = {item.id for item in checklist.items}
    named = list(dict.fromkeys(i.strip() for i in items))
    unknown = [i for i in named if i not in known]
    if unknown:
        raise BadInput(
            f"以下检查项不在本案检查表中：{'、'.join(unknown)}。请选择本案的检查项。",
            f"These items are not on this case's checklist: {', '.join(unknown)}. "
            "Choose items of this case.",
            unknown_items=unknown,
        )
    return named


async def reviewer_for(session: AsyncSession, actor: Actor) -> Reviewer:
    """The approving reviewer as printed on the opinion (审核人)."""
    staff = await session.get(Staff, actor.id)
    name, organisation = (staff.display_name, staff.organisation) if staff else (actor.id, "")
    return Reviewer(name=name, organisation=organisation, approved_at=utcnow())


def require_corrector(principal: Principal, view: CaseView) -> None:
    if principal.role == Role.reviewer:
        return
    if principal.role == Role.inspector and principal.id == view.lead_id:
        return
    raise Forbidden(
        "只有审核人或本案主踏勘人可以更正意见书。",
        "Only a reviewer or the case's lead inspector may correct the opinion.",
    )


async def approve(
    session: AsyncSession,
    ctx: AppContext,
    actor: Actor,
    view: CaseView,
    reviewer: Reviewer,
    signer: Confirmation,
) -> Opinion:
    """The reviewer approves, confirmed by their password: the opinion is signed, stored,
    issued and delivered (出具)."""
    _require_state(view.case, CaseAction.approve)
    opinion = await require_current(session, view.case.id)
    _require_status(opinion, "under_review")
    await confirm_signer(session, ctx, actor, signer, case_id=view.case.id, step="approve")
    content = content_of(opinion).model_copy(
        update={"reviewer": reviewer, "issued_at": reviewer.approved_at or utcnow()}
    )
    opinion.reviewed_by = actor.id
    content = await issue(session, ctx, actor, opinion, content)
    await transition(session, actor, view.case, CaseAction.approve, detail={"opinion": opinion.id})
    await deliver(session, ctx.settings, view.case, opinion, content)
    await record_confirmed(session, actor, signer, case_id=view.case.id, step="approve")
    return opinion


async def correct(
    session: AsyncSession,
    ctx: AppContext,
    actor: Actor,
    view: CaseView,
    *,
    reviewer: Reviewer | None,
    reason: str,
) -> Opinion:
    """A correction: a new version referencing the old, issued at once; the old is superseded.

    The case stays ``issued`` (the state machine has no way back from it); the correction is
    audited as ``opinion.corrected`` and delivered like the first issue.
    """
    if view.case.state != CaseState.issued:
        label = STATE_LABELS[CaseState(view.case.state)]
        raise Conflict(
            f"案件当前状态为“{label.zh}”，只有已出具意见的案件可以更正意见书。",
            f"The case is {label.en}; only an issued opinion can be corrected.",
            current=view.case.state,
            required=CaseState.issued.value,
        )
    old = await require_issued(session, view.case.id)
    new = Opinion(
        id=new_id(),
        case_id=old.case_id,
        version=old.version + 1,
        previous_id=old.id,
        verification_code=new_verification_code(),
        drafted_by=actor.id,
        cosigned_by=old.cosigned_by,
        reviewed_by=actor.id if reviewer is not None else old.reviewed_by,
        review_comments=[_comment(actor, "correction", reason)],
    )
    content, _ = await _assemble(session, ctx, view, new)
    previous = content_of(old)
    content = content.model_copy(
        update={
            "inspectors": previous.inspectors,
            "reviewer": reviewer or previous.reviewer,
            "issued_at": utcnow(),
        }
    )
    store_content(new, content)
    session.add(new)
    old.status = "superseded"
    await session.flush()
    content = await issue(session, ctx, actor, new, content)
    await audit(session, actor, "corrected", new, previous=old.id, reason=reason.strip())
    await deliver(session, ctx.settings, view.case, new, content)
    return new
