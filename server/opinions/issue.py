"""Issuing an opinion: evidence root, render, sign, store (PDF, JSON twin, its signature,
the verdict record), mark the row issued; then deliver it to the applicant and the window.

Rendering and signing run in a thread (``asyncio.to_thread``); S3 calls are the store's own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import Actor
from server.cases.models import Case
from server.config import Settings
from server.context import AppContext
from server.devtools.ca import ensure_dev_signing_material
from server.evidence.integrity import about
from server.notifications.service import configured_channels, notify
from server.opinions.assemble import PHOTO_KINDS, case_evidence
from server.opinions.content import OpinionContent, canonical_json
from server.opinions.evidence_root import collect
from server.opinions.models import Opinion
from server.opinions.pdf import render_opinion_pdf
from server.opinions.records import audit, store_content
from server.opinions.signing import SignaturePolicy, SigningMaterial, sign_json, sign_opinion_pdf
from server.platform.storage import ObjectStore, case_opinion_key

VERDICTS_EXT = "verdicts"


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


async def photo_bytes(session: AsyncSession, store: ObjectStore, case_id: str) -> dict[str, bytes]:
    rows = [r for r in await case_evidence(session, case_id) if r.kind in PHOTO_KINDS]
    datas = await asyncio.gather(
        *(store.get_verified(str(r.object_key), r.sha256, about=about(r, "opinion")) for r in rows)
    )
    return {r.id: data for r, data in zip(rows, datas, strict=True)}


async def issue(
    session: AsyncSession, ctx: AppContext, actor: Actor, opinion: Opinion, content: OpinionContent
) -> OpinionContent:
    """Root the evidence, render, sign, store (PDF, JSON twin, its signature, the verdict
    record) and mark the row issued; returns the content as issued."""
    collected = await collect(session, opinion.case_id)
    content = content.model_copy(update={"evidence_root": collected.root})
    photos = await photo_bytes(session, ctx.store, opinion.case_id)
    signed = await asyncio.to_thread(_render_and_sign, content, photos, ctx.settings)
    key = case_opinion_key
    await ctx.store.put(
        key(opinion.case_id, opinion.id, opinion.version, VERDICTS_EXT),
        collected.verdict_record,
        "application/json",
    )
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
    store_content(opinion, content)
    opinion.status, opinion.issued_at = "issued", content.issued_at
    opinion.pdf_key, opinion.pdf_sha256 = pdf.key, pdf.sha256
    opinion.json_key, opinion.json_sig_key = twin.key, sig.key
    await session.flush()
    await audit(
        session,
        actor,
        "issued",
        opinion,
        content_hash=opinion.content_hash,
        pdf_sha256=opinion.pdf_sha256,
        json_sha256=twin.sha256,
        verification_code=opinion.verification_code,
        evidence_root=collected.root.root,
    )
    return content


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
        "evidence_root": content.evidence_root.root if content.evidence_root else None,
        "pdf_sha256": opinion.pdf_sha256,
        "verification_code": opinion.verification_code,
        "verification_url": content.verification_url,
        "pdf_path": f"/api/v1/cases/{case.id}/opinion/pdf",
        "issued_at": content.issued_at.isoformat(),
    }


async def deliver(
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
