"""Inspection endpoints: start, the checklist, verdicts, rulings, the current item, the guide."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from server.auth.principal import Principal
from server.cases.schemas import CaseOut, ReasonIn, case_out
from server.cases.states import CaseAction
from server.db import utcnow
from server.deps import (
    CaseInspectorDep,
    ContextDep,
    PrincipalDep,
    SessionDep,
    VisibleCaseDep,
    may_take,
)
from server.inspection import guide, onsite, service, visibility
from server.inspection.schemas import (
    ChecklistOut,
    ConcludedOut,
    CurrentItemIn,
    CurrentItemOut,
    OpenItemOut,
    ResolutionIn,
    StartOut,
    VerdictIn,
    VerdictSaved,
    checklist_out,
    finding_out,
    open_items_out,
    verdict_saved,
)
from server.platform.news import VerdictNews, announce_after_commit
from server.platform.storage import attachment_disposition
from server.sla.policy import session_policy

router = APIRouter(prefix="/api/v1/cases/{case_id}", tags=["inspection"])
ItemPath = Annotated[str, Path(max_length=16)]
Lang = Annotated[Literal["zh", "en"], Query(description="zh (default) or en")]
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
StarterDep = Annotated[Principal, Depends(may_take(CaseAction.start_inspection))]
ConcluderDep = Annotated[Principal, Depends(may_take(CaseAction.conclude))]
SwitcherDep = Annotated[Principal, Depends(may_take(CaseAction.switch_offline))]


@router.post("/inspection/start")
async def start(
    view: VisibleCaseDep, inspector: StarterDep, session: SessionDep, ctx: ContextDep
) -> StartOut:
    """Start the inspection: freeze the checklist (first start only) and go in progress."""
    result = await service.start_inspection(session, inspector.actor, view.case, ctx.catalogue)
    findings = result.checklist.blocking_findings
    return StartOut(
        state=result.state,
        blocking=bool(findings),
        blocking_findings=[finding_out(f) for f in findings],
        catalogue_version=result.frozen.catalogue_version,
        catalogue_fingerprint=result.frozen.catalogue_fingerprint,
        frozen_at=result.frozen.frozen_at,
        newly_frozen=result.newly_frozen,
        items=len(result.checklist.items),
    )


@router.post("/inspection/conclude")
async def conclude(
    view: VisibleCaseDep, inspector: ConcluderDep, session: SessionDep, ctx: ContextDep
) -> ConcludedOut:
    """End the video inspection (the lead): on to drafting the opinion, or to an on-site visit."""
    done = await service.conclude_inspection(
        session,
        inspector.actor,
        view,
        ctx.catalogue,
        now=utcnow(),
        policy=session_policy(session),
    )
    return ConcludedOut(
        state=done.state,
        conclusion=done.conclusion.value.value,
        reasons_zh=[r.message_zh for r in done.conclusion.reasons],
        reasons_en=[r.message_en for r in done.conclusion.reasons],
    )


@router.post("/switch-onsite")
async def switch_onsite(
    body: ReasonIn,
    view: VisibleCaseDep,
    principal: SwitcherDep,
    session: SessionDep,
    ctx: ContextDep,
) -> CaseOut:
    """Switch to an on-site visit (转线下踏勘) with a reason: a dispatcher or the lead
    inspector, any time before the opinion is submitted. The applicant is told."""
    await onsite.switch_onsite(
        session,
        ctx.settings,
        principal,
        view,
        body.reason,
        now=utcnow(),
        policy=session_policy(session),
    )
    return case_out(view, principal)


@router.get("/checklist")
async def get_checklist(
    view: VisibleCaseDep, principal: PrincipalDep, session: SessionDep, ctx: ContextDep
) -> ChecklistOut:
    """The case's checklist and where each item stands (the applicant sees a redacted view)."""
    standing = await service.standing(session, ctx.catalogue, view)
    out = checklist_out(view.case, standing, view.inspector_ids)
    return out if principal.is_staff else visibility.redact_for_applicant(out)


@router.get("/checklist/open")
async def get_open_items(
    view: VisibleCaseDep, principal: PrincipalDep, session: SessionDep, ctx: ContextDep
) -> list[OpenItemOut]:
    """Items still awaiting a verdict or a ruling (record-only items excluded)."""
    visibility.require_staff(principal)
    return open_items_out(await service.standing(session, ctx.catalogue, view))


@router.put("/checklist/items/{item_id}/verdict")
async def put_verdict(
    body: VerdictIn,
    item_id: ItemPath,
    view: VisibleCaseDep,
    inspector: CaseInspectorDep,
    session: SessionDep,
    ctx: ContextDep,
) -> VerdictSaved:
    """Mark an item pass / fail / not applicable / unclear; a new mark replaces your last."""
    standing = await service.record_verdict(
        session,
        inspector.actor,
        view,
        ctx.catalogue,
        item_id=item_id,
        value=body.value,
        note=body.note,
        evidence_refs=body.evidence_refs,
    )
    news = VerdictNews(view.case.id, item_id, inspector.id, body.value.value)
    announce_after_commit(session, ctx.room_news, news)  # the other console updates live
    return verdict_saved(standing, item_id, view.inspector_ids)


@router.post("/checklist/items/{item_id}/resolution")
async def post_resolution(
    body: ResolutionIn,
    item_id: ItemPath,
    view: VisibleCaseDep,
    inspector: CaseInspectorDep,
    session: SessionDep,
    ctx: ContextDep,
) -> VerdictSaved:
    """The lead inspector rules on an item the two inspectors disagree on (reason required)."""
    standing = await service.resolve(
        session,
        inspector.actor,
        view,
        ctx.catalogue,
        item_id=item_id,
        value=body.value,
        reason=body.reason,
    )
    return verdict_saved(standing, item_id, view.inspector_ids)


@router.put("/checklist/current")
async def put_current_item(
    body: CurrentItemIn,
    view: VisibleCaseDep,
    inspector: CaseInspectorDep,
    session: SessionDep,
    ctx: ContextDep,
) -> CurrentItemOut:
    """Set the item being inspected now (正在核查), shown to everyone in the call."""
    row = await service.set_current_item(
        session, inspector.actor, view, ctx.catalogue, body.item_id
    )
    return CurrentItemOut(
        current_item=row.current_item, at=row.current_item_at, by=row.current_item_by
    )


@router.get("/guide", response_class=Response)
async def get_guide(
    view: VisibleCaseDep, session: SessionDep, ctx: ContextDep, lang: Lang = "zh"
) -> Response:
    """The preparation guide (零基础准备指南) as a page for the phone."""
    html = await guide.guide_html(session, ctx.catalogue, view.case, lang)
    return Response(html, media_type="text/html; charset=utf-8", headers=NOSNIFF)


@router.get("/guide.pdf", response_class=Response)
async def get_guide_pdf(
    view: VisibleCaseDep, session: SessionDep, ctx: ContextDep, lang: Lang = "zh"
) -> Response:
    """The preparation guide as a PDF to print or keep."""
    pdf = await guide.guide_pdf(session, ctx.catalogue, view.case, lang)
    disposition = attachment_disposition(guide.guide_filename(view.case, lang))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={**NOSNIFF, "Content-Disposition": disposition},
    )
