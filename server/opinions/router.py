"""Opinion endpoints: the draft → co-sign → review → issue workflow, window staff, verification.

Public verification: ``GET /verify/{code}`` answers JSON; ``GET /verify/{code}.html`` is the
page the QR code on the PDF leads a reader to (zh + en). Neither needs a login.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from html import escape
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from server.auth.client_address import client_address
from server.auth.models import Role
from server.auth.principal import Principal
from server.cases.states import CaseAction
from server.deps import (
    ContextDep,
    PrincipalDep,
    SessionDep,
    StoreDep,
    VisibleCaseDep,
    may_take,
    require_roles,
)
from server.opinions import preview, reads, records, service
from server.opinions.confirm import Confirmation, SignatureRefused
from server.opinions.models import Opinion
from server.opinions.schemas import (
    IssuedOut,
    OpinionOut,
    OpinionReasonIn,
    SendBackIn,
    SignatureOut,
    SignIn,
    VerifyOut,
    opinion_out,
    signature_out,
)
from server.opinions.signature_check import admit_verification, check_stored_pdf
from server.platform.storage import attachment_disposition
from server.timeinputs import BeijingDateTime

router = APIRouter(tags=["opinions"])
CASE = "/api/v1/cases/{case_id}/opinion"
# Who takes each step: ``server.cases.permissions`` (drafting is the lead's, like submitting).
Drafter = Annotated[Principal, Depends(may_take(CaseAction.submit_draft))]
CoSigner = Annotated[Principal, Depends(may_take(CaseAction.co_sign))]
Decliner = Annotated[Principal, Depends(may_take(CaseAction.decline_cosign))]
Approver = Annotated[Principal, Depends(may_take(CaseAction.approve))]
SenderBack = Annotated[Principal, Depends(may_take(CaseAction.send_back))]
Window = Annotated[Principal, Depends(require_roles(Role.window))]
WindowOrAdmin = Annotated[Principal, Depends(require_roles(Role.window, Role.admin))]
Code = Annotated[str, Path(max_length=32)]
SIGNING_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Wrong password (nothing signed), or not the signer"},
    429: {"description": "Too many wrong passwords; wait before trying again"},
}


def _out(opinion: Opinion) -> OpinionOut:
    return opinion_out(opinion, with_content=True)


# --- the workflow ------------------------------------------------------------------------------


@router.post(f"{CASE}/draft")
async def draft(
    view: VisibleCaseDep, principal: Drafter, session: SessionDep, ctx: ContextDep
) -> OpinionOut:
    """The lead inspector drafts (or redrafts) the opinion from the case's checklist."""
    return _out(await service.draft(session, ctx, principal.actor, view))


@router.post(f"{CASE}/submit")
async def submit(
    view: VisibleCaseDep, principal: Drafter, session: SessionDep, ctx: ContextDep
) -> OpinionOut:
    """The lead inspector signs the draft and sends it for co-signing."""
    return _out(await service.submit(session, ctx.settings, principal.actor, view))


async def _signing(session: SessionDep, sign: Awaitable[Opinion]) -> OpinionOut:
    """A signing step: a refused password's counters and audit record outlive the error."""
    try:
        return _out(await sign)
    except SignatureRefused:
        await session.commit()
        raise


@router.post(f"{CASE}/cosign", responses=SIGNING_ERRORS)
async def cosign(
    body: SignIn,
    request: Request,
    view: VisibleCaseDep,
    principal: CoSigner,
    session: SessionDep,
    ctx: ContextDep,
) -> OpinionOut:
    """The second inspector co-signs, confirming with their password; the draft goes to review."""
    signer = Confirmation(body.password, client_address(request))
    return await _signing(session, service.cosign(session, ctx, principal.actor, view, signer))


@router.post(f"{CASE}/decline")
async def decline(
    body: OpinionReasonIn, view: VisibleCaseDep, principal: Decliner, session: SessionDep
) -> OpinionOut:
    """The second inspector returns the draft to the lead with a reason."""
    return _out(await service.decline(session, principal.actor, view, body.reason))


@router.post(f"{CASE}/approve", responses=SIGNING_ERRORS)
async def approve(
    body: SignIn,
    request: Request,
    view: VisibleCaseDep,
    reviewer: Approver,
    session: SessionDep,
    ctx: ContextDep,
) -> OpinionOut:
    """The reviewer approves, confirming with their password: the opinion is signed (PAdES),
    stored, issued and delivered."""
    printed = await service.reviewer_for(session, reviewer.actor)
    signer = Confirmation(body.password, client_address(request))
    approving = service.approve(session, ctx, reviewer.actor, view, printed, signer)
    return await _signing(session, approving)


@router.post(f"{CASE}/send-back")
async def send_back(
    body: SendBackIn,
    view: VisibleCaseDep,
    reviewer: SenderBack,
    session: SessionDep,
    ctx: ContextDep,
) -> OpinionOut:
    """The reviewer sends the draft back with comments, naming the checklist items to redo:
    exactly those reopen for the lead."""
    sent = await service.send_back(
        session, ctx.catalogue, reviewer.actor, view, comments=body.comments, items=body.items
    )
    return _out(sent)


@router.post(f"{CASE}/correct")
async def correct(
    body: OpinionReasonIn,
    view: VisibleCaseDep,
    principal: PrincipalDep,
    session: SessionDep,
    ctx: ContextDep,
) -> OpinionOut:
    """A reviewer or the lead issues a corrected version; the old one is superseded."""
    service.require_corrector(principal, view)
    printed = (
        await service.reviewer_for(session, principal.actor)
        if principal.role == Role.reviewer
        else None
    )
    new = await service.correct(
        session, ctx, principal.actor, view, reviewer=printed, reason=body.reason
    )
    return _out(new)


@router.get(CASE)
async def get_opinion(
    view: VisibleCaseDep, principal: PrincipalDep, session: SessionDep
) -> OpinionOut:
    """The current version's metadata (the applicant sees it only once issued)."""
    if principal.is_staff:
        return _out(await records.require_current(session, view.case.id))
    return _out(await records.require_issued(session, view.case.id))


@router.get(f"{CASE}/pdf", response_class=Response)
async def get_pdf(
    view: VisibleCaseDep, principal: PrincipalDep, session: SessionDep, store: StoreDep
) -> Response:
    """The issued, signed PDF (checked against its SHA-256; the read is audited)."""
    opinion, data = await reads.read_pdf(session, store, principal.actor, view)
    name = f"踏勘意见书-{view.case.number}-v{opinion.version}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": attachment_disposition(name),
            "X-Content-SHA256": str(opinion.pdf_sha256),
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(f"{CASE}/preview.pdf", response_class=Response)
async def get_preview(
    view: VisibleCaseDep, principal: PrincipalDep, session: SessionDep, ctx: ContextDep
) -> Response:
    """The draft opinion as an unsigned PDF marked 草稿 / DRAFT, to read before signing."""
    opinion, data = await preview.draft_pdf(session, ctx, principal, view)
    name = f"踏勘意见书草稿-{view.case.number}-v{opinion.version}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": attachment_disposition(name, inline=True),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- window staff ------------------------------------------------------------------------------


@router.get("/api/v1/opinions")
async def list_opinions(
    _: WindowOrAdmin,
    session: SessionDep,
    status: Annotated[Literal["issued", "superseded"], Query()] = "issued",
    since: Annotated[
        BeijingDateTime | None,
        Query(description="issued at or after (ISO 8601; a date or no offset: Beijing time)"),
    ] = None,
    matter: Annotated[str | None, Query(max_length=32)] = None,
) -> list[IssuedOut]:
    """Issued opinions for the window staff, newest first, filtered by time and matter."""
    rows = await reads.issued_list(session, status=status, since=since, matter=matter)
    return [
        IssuedOut(
            id=o.id,
            case_id=c.id,
            case_number=c.number,
            application_no=c.application_no,
            applicant=c.applicant_name,
            matters=list(c.matters),
            version=o.version,
            previous_id=o.previous_id,
            status=o.status,
            conclusion=str(o.content.get("conclusion", {}).get("value", "")),
            content_hash=o.content_hash,
            pdf_sha256=o.pdf_sha256,
            verification_code=o.verification_code,
            issued_at=o.issued_at,
            acknowledged_by=o.acknowledged_by,
            acknowledged_at=o.acknowledged_at,
            pdf_path=f"/api/v1/cases/{c.id}/opinion/pdf",
        )
        for o, c in rows
    ]


@router.post("/api/v1/opinions/{opinion_id}/acknowledge")
async def acknowledge(
    opinion_id: Annotated[str, Path(max_length=64)], window: Window, session: SessionDep
) -> OpinionOut:
    """The window staff confirm receipt of an issued opinion (once)."""
    opinion = await reads.acknowledge(session, window.actor, opinion_id)
    return opinion_out(opinion, with_content=False)


# --- public verification -----------------------------------------------------------------------


def _limit_verifications(request: Request, ctx: ContextDep) -> None:
    """The public verification re-checks a signature: a client may not ask for it in a loop."""
    admit_verification(ctx, client_address(request), time.monotonic())


VerifyLimit = Depends(_limit_verifications)


async def _verify(session: SessionDep, ctx: ContextDep, code: str) -> VerifyOut:
    opinion, newer = await reads.by_code(session, code)
    content = records.content_of(opinion)
    checked = await check_stored_pdf(ctx, opinion)
    current = opinion.status == "issued"
    return VerifyOut(
        verification_code=opinion.verification_code,
        current=current,
        status="current" if current else "superseded",
        status_zh="有效（现行版本）" if current else "已被更正版本取代",
        superseded_by=newer.verification_code if newer is not None else None,
        issuer=content.issuer,
        case_number=content.case_number,
        application_no=content.application_no,
        applicant=content.applicant,
        site_address=content.site_address,
        matters=[f"{m.code} {m.name_zh}" for m in content.matters],
        version=content.version,
        conclusion=content.conclusion.value.value,
        conclusion_zh=content.conclusion.text_zh,
        conclusion_en=content.conclusion.text_en,
        issued_at=opinion.issued_at,
        content_hash=opinion.content_hash,
        evidence_root=content.evidence_root.root if content.evidence_root else None,
        pdf_sha256=opinion.pdf_sha256,
        signature=signature_out(checked),
    )


# Declared before "/verify/{code}", whose parameter would otherwise swallow ".html".
@router.get("/verify/{code}.html", response_class=HTMLResponse, dependencies=[VerifyLimit])
async def verify_page(code: Code, session: SessionDep, ctx: ContextDep) -> HTMLResponse:
    """Public page (zh + en) for a reader who scanned the QR code on the opinion."""
    facts = await _verify(session, ctx, code)
    return HTMLResponse(verify_html(facts), headers={"X-Content-Type-Options": "nosniff"})


@router.get("/verify/{code}", dependencies=[VerifyLimit])
async def verify(code: Code, session: SessionDep, ctx: ContextDep) -> VerifyOut:
    """Public: the opinion's key facts, hashes and signature check; current or superseded."""
    return await _verify(session, ctx, code)


def verify_html(facts: VerifyOut) -> str:
    rows = [
        ("状态 / Status", f"{facts.status_zh} / {facts.status}"),
        ("出具机关 / Issuer", facts.issuer),
        ("案件编号 / Case", facts.case_number),
        ("申请编号 / Application", facts.application_no),
        ("申请人 / Applicant", facts.applicant),
        ("场所地址 / Site", facts.site_address),
        ("事项 / Matters", "；".join(facts.matters)),
        ("版本 / Version", str(facts.version)),
        ("结论 / Conclusion", f"{facts.conclusion_zh} / {facts.conclusion_en}"),
        ("出具时间 / Issued", facts.issued_at.isoformat() if facts.issued_at else ""),
        ("内容哈希 / Content SHA-256", facts.content_hash),
        ("证据根 / Evidence root", facts.evidence_root or "—"),
        ("PDF SHA-256", facts.pdf_sha256 or ""),
        *signature_rows(facts.signature),
    ]
    if facts.superseded_by:
        rows.insert(1, ("更正版本验证码 / Corrected by", facts.superseded_by))
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>意见书验证 / Opinion verification {escape(facts.verification_code)}</title>"
        "</head><body><h1>电子踏勘意见书验证 / Inspection opinion verification</h1>"
        f"<p>验证码 / Code: <code>{escape(facts.verification_code)}</code></p>"
        f"<table>{body}</table>"
        "<p>请核对所持 PDF 的 SHA-256 与上表一致。/ Check that your PDF's SHA-256 matches.</p>"
        "</body></html>"
    )


def signature_rows(signature: SignatureOut) -> list[tuple[str, str]]:
    verdict = "通过 / valid" if signature.ok else "未通过 / NOT VALID"
    stamp = "无 / none"
    if signature.timestamp_time_beijing:
        validity = "有效 / valid" if signature.timestamp_valid else "无效 / NOT VALID"
        stamp = f"{signature.timestamp_time_beijing}（北京时间 / Beijing time）{validity}"
    rows = [
        ("数字签名 / Signature", verdict),
        ("签名级别 / PAdES level", signature.level or "—"),
        ("可信时间戳 / Timestamp", stamp),
    ]
    return rows + [("问题 / Problem", problem) for problem in signature.problems]
