"""Export an issued opinion's evidence bundle: every object under its evidence root, checked.

Each object is read back and checked against its leaf before it goes in: a stored object that
no longer matches is refused loudly (``IntegrityError``, 500) and audited rather than
exported, so a bundle only ever carries what the opinion rests on.
"""

from __future__ import annotations

import asyncio
import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditRecord
from server.audit.service import Actor
from server.cases.access import CaseView
from server.errors import Conflict
from server.evidence.models import Evidence
from server.opinions.bundle import BundleObject, build_bundle, ext_of
from server.opinions.content import EvidenceLeaf, OpinionContent
from server.opinions.evidence_root import AUDIT_HEAD, VERDICTS, audit_body
from server.opinions.issue import VERDICTS_EXT
from server.opinions.models import Opinion
from server.opinions.records import audit, content_of, read_about, require_issued
from server.platform.storage import IntegrityError, ObjectStore, case_opinion_key

MAX_BUNDLE_BYTES = 1024**3  # built in memory (the store has no streaming read yet)


def _too_big(size: int) -> Conflict:
    return Conflict(
        f"证据包约 {size // 1024**2} MB，超过在线导出上限 {MAX_BUNDLE_BYTES // 1024**2} MB，"
        "请联系管理员从存储导出。",
        f"The evidence bundle would be about {size // 1024**2} MB, over the "
        f"{MAX_BUNDLE_BYTES // 1024**2} MB online export limit; ask an administrator.",
        reason="bundle_too_large",
        size=size,
    )


def _no_root() -> Conflict:
    return Conflict(
        "该意见书出具于启用证据根之前，没有可导出的证据包。",
        "This opinion was issued before evidence roots existed; it has no evidence bundle.",
        reason="no_evidence_root",
    )


async def _audit_object(session: AsyncSession, leaf: EvidenceLeaf) -> BundleObject:
    record = await session.get(AuditRecord, int(leaf.id))
    data = audit_body(record) if record is not None else b""
    if hashlib.sha256(data).hexdigest() != leaf.sha256:
        raise IntegrityError(
            f"审计链第 {leaf.id} 条记录与出具时不一致，可能已被改动或删除。",
            f"Audit record {leaf.id} differs from the one at issue: it was altered or removed.",
            seq=int(leaf.id),
            expected_sha256=leaf.sha256,
        )
    return BundleObject(leaf.kind, leaf.id, leaf.sha256, data, "json")


async def _objects(
    session: AsyncSession, store: ObjectStore, opinion: Opinion, content: OpinionContent
) -> list[BundleObject]:
    assert content.evidence_root is not None
    rows = await session.scalars(select(Evidence).where(Evidence.case_id == opinion.case_id))
    found = {r.id: r for r in rows if r.object_key}
    keys = {i: str(r.object_key) for i, r in found.items()}
    size = sum(found[x.id].size for x in content.evidence_root.leaves if x.id in found)
    if size > MAX_BUNDLE_BYTES:
        raise _too_big(size)
    objects: list[BundleObject] = []
    for leaf in content.evidence_root.leaves:
        if leaf.kind == AUDIT_HEAD:
            objects.append(await _audit_object(session, leaf))
            continue
        if leaf.kind == VERDICTS:
            key = case_opinion_key(opinion.case_id, opinion.id, opinion.version, VERDICTS_EXT)
            ext = "json"
        else:
            key = keys.get(leaf.id, "")
            ext = ext_of(key)
        described = read_about(opinion, "bundle") | {"evidence_id": leaf.id}
        data = await store.get_verified(key, leaf.sha256, about=described)
        objects.append(BundleObject(leaf.kind, leaf.id, leaf.sha256, data, ext))
    return objects


async def export_bundle(
    session: AsyncSession, store: ObjectStore, actor: Actor, view: CaseView
) -> tuple[Opinion, bytes]:
    """The zip of the current issued opinion; the export is audited with the root."""
    opinion = await require_issued(session, view.case.id)
    content = content_of(opinion)
    if content.evidence_root is None:
        raise _no_root()
    objects = await _objects(session, store, opinion, content)
    pdf = await store.get_verified(
        str(opinion.pdf_key), str(opinion.pdf_sha256), about=read_about(opinion, "bundle_pdf")
    )
    twin = await store.get_verified(
        str(opinion.json_key), opinion.content_hash, about=read_about(opinion, "bundle_json")
    )
    signature = await store.get(str(opinion.json_sig_key))
    data = await asyncio.to_thread(
        build_bundle,
        content,
        objects,
        pdf=pdf,
        twin=twin,
        twin_signature=signature,
        twin_sha256=opinion.content_hash,
        pdf_sha256=str(opinion.pdf_sha256),
    )
    await audit(
        session,
        actor,
        "exported",
        opinion,
        evidence_root=content.evidence_root.root,
        objects=len(objects),
        bundle_sha256=await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest()),
    )
    return opinion, data
