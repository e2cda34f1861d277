"""The opinion workflow (意见书流转): draft → co-sign → review → issue, corrections, delivery.

Every step goes through ``cases.workflow.transition`` (the case state) and appends an
``opinion.*`` audit record. Rendering, signing and storage run off the event loop. An issued
row is never changed except to become ``superseded`` or to record the window's receipt.
Services only flush; the request's session commits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from checklists.engine import ConclusionValue
from server.access import CaseView
from server.audit.service import Actor, append
from server.auth.models import Role, Staff
from server.auth.principal import Principal
from server.cases.models import Case
from server.cases.states import CaseAction, CaseState, next_state
from server.cases.workflow import transition
from server.config import Settings
from server.context import AppContext
from server.db import new_id, utcnow
from server.errors import Conflict, Forbidden, NotFound, not_found
from server.evidence.integrity import about
from server.notifications.service import configured_channels, notify
from server.opinions.assemble import PHOTO_KINDS, assemble, case_evidence
from server.opinions.content import (
    Inspector,
    OpinionContent,
    Reviewer,
    canonical_json,
    content_hash,
    new_verification_code,
)
from server.opinions.models import Opinion
from server.opinions.pdf import render_opinion_pdf
from server.opinions.signing import (
    SignaturePolicy,
    SigningMaterial,
    ensure_dev_signing_material,
    sign_json,
    sign_opinion_pdf,
)
from server.storage import ObjectStore, case_opinion_key

ISSUED = ("issued", "superseded")


# --- reading ---------------------------------------------------------------------------------


async def current(session: AsyncSession, case_id: str) -> Opinion | None:
    """The case's newest opinion version, whatever its status."""
    return await session.scalar(
        select(Opinion).where(Opinion.case_id == case_id).order_by(Opinion.version.desc()).limit(1)
    )


async def require_current(session: AsyncSession, case_id: str) -> Opinion:
    found = await current(session, case_id)
    if found is None:
        raise NotFound(
            "本案尚无踏勘意见书。", "This case has no inspection opinion yet.", reason="no_opinion"
        )
    return found


async def require_issued(session: AsyncSession, case_id: str) -> Opinion:
    found = await require_current(session, case_id)
    if found.status != "issued":
        raise NotFound(
            "本案的意见书尚未出具。",
            "The case's opinion has not been issued yet.",
            status=found.status,
        )
    return found


def content_of(opinion: Opinion) -> OpinionContent:
    return OpinionContent.model_validate(opinion.content)


def _store_content(opinion: Opinion, content: OpinionContent) -> None:
    opinion.content = content.model_dump(mode="json")
    opinion.content_hash = content_hash(content)


# --- who may do what ---------------------------------------------------------------------------


def require_lead(actor: Actor, view: CaseView) -> None:
    if actor.kind != "staff" or actor.id != view.lead_id:
        raise Forbidden(
            "只有本案的主踏勘人可以起草、提交意见书。",
            "Only the case's lead inspector may draft and submit the opinion.",
        )


def require_second(actor: Actor, view: CaseView) -> None:
    second = view.inspector_ids[1] if len(view.inspector_ids) > 1 else None
    if actor.kind != "staff" or actor.id != second:
        raise Forbidden(
            "只有本案的协同踏勘人（第二名踏勘人员）可以会签或退回。",
            "Only the case's second inspector may co-sign or return the draft.",
        )


def _require_state(case: Case, action: CaseAction) -> None:
    next_state(CaseState(case.state), action)  # raises InvalidState (409) naming the state


def _require_status(opinion: Opinion, status: str) -> None:
    if opinion.status != status:
        raise Conflict(
            f"意见书当前状态为“{opinion.status}”，需要“{status}”。",
            f"The opinion is '{opinion.status}'; this needs '{status}'.",
            current=opinion.status,
            required=status,
        )


async def _audit(
    session: AsyncSession, actor: Actor, action: str, opinion: Opinion, **detail: Any
) -> None:
    base = {"opinion": opinion.id, "version": opinion.version, "status": opinion.status}
    await append(session, actor, f"opinion.{action}", case_id=opinion.case_id, detail=base | detail)


# --- drafting ----------------------------------------------------------------------------------


async def draft(session: AsyncSession, ctx: AppContext, actor: Actor, view: CaseView) -> Opinion:
    """Create or refresh the draft from the stored case; refused while the checklist is open."""
    require_lead(actor, view)
    if view.case.state != CaseState.drafted:
        raise Conflict(
            f"案件当前状态为“{view.case.state}”，只有“drafted”（意见起草）时可以起草意见书。",
            f"The case is '{view.case.state}'; the opinion is drafted only in 'drafted'.",
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
    _store_content(opinion, content)
    opinion.status, opinion.drafted_by = "draft", actor.id
    await session.flush()
    await _audit(session, actor, "drafted", opinion, content_hash=opinion.content_hash)
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


async def submit(session: AsyncSession, actor: Actor, view: CaseView) -> Opinion:
    """The lead signs the draft and hands it to the second inspector (提交会签)."""
    require_lead(actor, view)
    _require_state(view.case, CaseAction.submit_draft)
    opinion = await require_current(session, view.case.id)
    _require_status(opinion, "draft")
    content = content_of(opinion)
    lead, second = content.inspectors
    inspectors = (_signed_inspector(lead, utcnow()), _signed_inspector(second, None))
    _store_content(opinion, content.model_copy(update={"inspectors": inspectors}))
    opinion.status = "awaiting_cosign"
    await transition(session, actor, view.case, CaseAction.submit_draft)
    await _audit(session, actor, "submitted", opinion, content_hash=opinion.content_hash)
    return opinion


async def cosign(
    session: AsyncSession, settings: Settings, actor: Actor, view: CaseView
) -> Opinion:
    """The second inspector co-signs (会签); the reviewers are told."""
    require_second(actor, view)
    _require_state(view.case, CaseAction.co_sign)
    opinion = await require_current(session, view.case.id)
    _require_status(opinion, "awaiting_cosign")
    content = content_of(opinion)
    lead, second = content.inspectors
    inspectors = (lead, _signed_inspector(second, utcnow()))
    _store_content(opinion, content.model_copy(update={"inspectors": inspectors}))
    opinion.status, opinion.cosigned_by = "under_review", actor.id
    await transition(session, actor, view.case, CaseAction.co_sign)
    await _audit(session, actor, "cosigned", opinion, content_hash=opinion.content_hash)
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


def _comment(actor: Actor, kind: str, text: str) -> dict[str, Any]:
    return {"by": actor.id, "kind": kind, "text": text.strip(), "at": utcnow().isoformat()}


async def _return_to_draft(
    session: AsyncSession,
    actor: Actor,
    view: CaseView,
    *,
    action: CaseAction,
    status: str,
    text: str,
) -> Opinion:
    _require_state(view.case, action)
    opinion = await require_current(session, view.case.id)
    _require_status(opinion, status)
    opinion.review_comments = [*opinion.review_comments, _comment(actor, action.value, text)]
    opinion.status, opinion.cosigned_by = "draft", None
    await transition(session, actor, view.case, action, reason=text.strip())
    await _audit(session, actor, "returned", opinion, step=action.value, comments=text.strip())
    return opinion


async def decline(session: AsyncSession, actor: Actor, view: CaseView, reason: str) -> Opinion:
    """The second inspector returns the draft to the lead with a reason (退回起草人)."""
    require_second(actor, view)
    return await _return_to_draft(
        session,
        actor,
        view,
        action=CaseAction.decline_cosign,
        status="awaiting_cosign",
        text=reason,
    )


async def send_back(session: AsyncSession, actor: Actor, view: CaseView, comments: str) -> Opinion:
    """The reviewer sends the draft back with comments (退回修改)."""
    return await _return_to_draft(
        session, actor, view, action=CaseAction.send_back, status="under_review", text=comments
    )


# --- issuing -----------------------------------------------------------------------------------


def signing_material(settings: Settings) -> SigningMaterial:
    """The bureau's key files, or the generated development CA when none are configured."""
    if settings.signing_key_path is not None and settings.signing_cert_path is not None:
        return SigningMaterial(
            key_path=settings.signing_key_path,
            cert_path=settings.signing_cert_path,
            chain_paths=tuple(settings.signing_chain_paths),
            trust_paths=tuple(settings.signing_trust_paths),
            crl_paths=tuple(settings.signing_crl_paths),
        )
    return ensure_dev_signing_material(settings.data_dir)


@dataclass(frozen=True)
class Signed:
    pdf: bytes
    json: bytes
    json_signature: bytes


def signature_policy(settings: Settings) -> SignaturePolicy:
    """The configured PAdES level, TSA and source of revocation data."""
    return SignaturePolicy(
        level=settings.effective_signature_level,
        tsa_url=settings.tsa_url,
        tsa_timeout=settings.tsa_timeout_seconds,
        fetch_revocation=settings.signing_fetch_revocation,
    )


def _render_and_sign(
    content: OpinionContent, photos: dict[str, bytes], settings: Settings
) -> Signed:
    """CPU-bound (reportlab + pyHanko's own event loop): called through ``asyncio.to_thread``.

    Signing comes before anything is stored, so a TSA that cannot be reached fails the issue
    (503, ``TimestampUnavailable``) and the request's rollback leaves the opinion unissued.
    """
    material = signing_material(settings)
    pdf = render_opinion_pdf(content, photos)
    signed_pdf = sign_opinion_pdf(
        pdf,
        material,
        signature_policy(settings),
        reason=f"电子踏勘意见书 {content.case_number} / inspection opinion",
        location=content.issuer,
    )
    twin = canonical_json(content)
    return Signed(signed_pdf, twin, sign_json(twin, material))


async def _photo_bytes(session: AsyncSession, store: ObjectStore, case_id: str) -> dict[str, bytes]:
    rows = [r for r in await case_evidence(session, case_id) if r.kind in PHOTO_KINDS]
    datas = await asyncio.gather(
        *(store.get_verified(str(r.object_key), r.sha256, about=about(r, "opinion")) for r in rows)
    )
    return {r.id: data for r, data in zip(rows, datas, strict=True)}


async def _issue(
    session: AsyncSession, ctx: AppContext, actor: Actor, opinion: Opinion, content: OpinionContent
) -> None:
    """Render, sign, store (PDF, JSON twin, its signature) and mark the row issued."""
    photos = await _photo_bytes(session, ctx.store, opinion.case_id)
    signed = await asyncio.to_thread(_render_and_sign, content, photos, ctx.settings)
    key = case_opinion_key
    pdf = await ctx.store.put(
        key(opinion.case_id, opinion.id, opinion.version, "pdf"), signed.pdf, "application/pdf"
    )
    twin = await ctx.store.put(
        key(opinion.case_id, opinion.id, opinion.version, "json"), signed.json, "application/json"
    )
    sig = await ctx.store.put(
        key(opinion.case_id, opinion.id, opinion.version, "p7s"),
        signed.json_signature,
        "application/pkcs7-signature",
    )
    _store_content(opinion, content)
    opinion.status, opinion.issued_at = "issued", content.issued_at
    opinion.pdf_key, opinion.pdf_sha256 = pdf.key, pdf.sha256
    opinion.json_key, opinion.json_sig_key = twin.key, sig.key
    await session.flush()
    await _audit(
        session,
        actor,
        "issued",
        opinion,
        content_hash=opinion.content_hash,
        pdf_sha256=opinion.pdf_sha256,
        json_sha256=twin.sha256,
        verification_code=opinion.verification_code,
    )


def webhook_body(case: Case, opinion: Opinion, content: OpinionContent) -> dict[str, Any]:
    """The JSON twin's key facts for the approval system (the full twin is in storage)."""
    return {
        "event": "opinion.issued",
        "case_number": case.number,
        "application_no": case.application_no,
        "opinion_id": opinion.id,
        "version": opinion.version,
        "previous_id": opinion.previous_id,
        "conclusion": content.conclusion.value.value,
        "conclusion_zh": content.conclusion.text_zh,
        "content_hash": opinion.content_hash,
        "pdf_sha256": opinion.pdf_sha256,
        "verification_code": opinion.verification_code,
        "verification_url": content.verification_url,
        "pdf_path": f"/api/v1/cases/{case.id}/opinion/pdf",
        "issued_at": content.issued_at.isoformat(),
    }


async def _deliver(
    session: AsyncSession, settings: Settings, case: Case, opinion: Opinion, content: OpinionContent
) -> None:
    conclusion = content.conclusion
    params = {
        "case_number": case.number,
        "conclusion_zh": conclusion.text_zh,
        "conclusion_en": conclusion.text_en,
    }
    channels = configured_channels(settings)
    event = f"opinion_issued:{opinion.id}"
    await notify(
        session,
        template="opinion_issued_applicant",
        params=params,
        event=f"{event}:applicant",
        channels=channels,
        case_id=case.id,
        applicant=True,
    )
    await notify(
        session,
        template="opinion_issued_window",
        params=params | {"applicant_name": case.applicant_name},
        event=f"{event}:window",
        channels=channels,
        case_id=case.id,
        roles=("window",),
        webhook=webhook_body(case, opinion, content),
    )


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
    session: AsyncSession, ctx: AppContext, actor: Actor, view: CaseView, reviewer: Reviewer
) -> Opinion:
    """The reviewer approves: the opinion is signed, stored, issued and delivered (出具)."""
    _require_state(view.case, CaseAction.approve)
    opinion = await require_current(session, view.case.id)
    _require_status(opinion, "under_review")
    content = content_of(opinion).model_copy(
        update={"reviewer": reviewer, "issued_at": reviewer.approved_at or utcnow()}
    )
    opinion.reviewed_by = actor.id
    await _issue(session, ctx, actor, opinion, content)
    await transition(session, actor, view.case, CaseAction.approve, detail={"opinion": opinion.id})
    await _deliver(session, ctx.settings, view.case, opinion, content)
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
        raise Conflict(
            f"案件当前状态为“{view.case.state}”，只有已出具意见的案件可以更正意见书。",
            f"The case is '{view.case.state}'; only an issued opinion can be corrected.",
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
    _store_content(new, content)
    session.add(new)
    old.status = "superseded"
    await session.flush()
    await _issue(session, ctx, actor, new, content)
    await _audit(session, actor, "corrected", new, previous=old.id, reason=reason.strip())
    await _deliver(session, ctx.settings, view.case, new, content)
    return new


# --- reading the issued opinion, window staff, public verification -----------------------------


async def read_pdf(
    session: AsyncSession, store: ObjectStore, actor: Actor, view: CaseView
) -> tuple[Opinion, bytes]:
    """The issued PDF, checked against its stored SHA-256; the read is audited."""
    opinion = await require_issued(session, view.case.id)
    described = {"case_id": opinion.case_id, "opinion_id": opinion.id, "what": "opinion_pdf"}
    data = await store.get_verified(str(opinion.pdf_key), str(opinion.pdf_sha256), about=described)
    await _audit(session, actor, "read", opinion, what="pdf")
    return opinion, data


async def issued_list(
    session: AsyncSession, *, status: str, since: datetime | None, matter: str | None
) -> list[tuple[Opinion, Case]]:
    """Issued (or superseded) opinions, newest first, with their cases."""
    query = (
        select(Opinion, Case)
        .join(Case, Case.id == Opinion.case_id)
        .where(Opinion.status == status)
        .order_by(Opinion.issued_at.desc(), Opinion.id)
        .limit(500)
    )
    if since is not None:
        query = query.where(Opinion.issued_at >= since)
    rows = [(row[0], row[1]) for row in await session.execute(query)]
    return [(o, c) for o, c in rows if matter is None or matter in c.matters]


async def acknowledge(session: AsyncSession, actor: Actor, opinion_id: str) -> Opinion:
    """The window staff confirm receipt (签收), once; audited."""
    opinion = await session.get(Opinion, opinion_id)
    if opinion is None or opinion.status not in ISSUED:
        raise not_found("该意见书", "Opinion")
    if opinion.acknowledged_at is not None:
        raise Conflict(
            "该意见书已签收，不能重复签收。",
            "This opinion has already been acknowledged.",
            acknowledged_at=opinion.acknowledged_at.isoformat(),
        )
    opinion.acknowledged_by, opinion.acknowledged_at = actor.id, utcnow()
    await session.flush()
    await _audit(session, actor, "acknowledged", opinion)
    return opinion


async def by_code(session: AsyncSession, code: str) -> tuple[Opinion, Opinion | None]:
    """An issued or superseded opinion by its verification code, and what replaced it."""
    normalized = code.strip().upper()
    opinion = await session.scalar(
        select(Opinion).where(Opinion.verification_code == normalized, Opinion.status.in_(ISSUED))
    )
    if opinion is None:
        raise NotFound(
            "没有该验证码对应的已出具意见书，请核对验证码。",
            "No issued opinion has this verification code; check the code.",
        )
    newer = await session.scalar(select(Opinion).where(Opinion.previous_id == opinion.id))
    return opinion, newer
