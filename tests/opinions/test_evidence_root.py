"""The evidence root of an issued opinion: over every object, verdicts and the audit head."""

from __future__ import annotations

import asyncio
import hashlib

from sqlalchemy import select

from server.audit.models import AuditRecord
from server.auth.models import Role
from server.evidence.models import Evidence
from server.opinions import merkle
from server.opinions.bundle_check import check_bundle
from server.opinions.content import content_from_json
from server.opinions.evidence_root import audit_body, leaves_of
from server.opinions.qr import QR_KEYWORD_PREFIX, from_keywords, parse_qr_payload
from server.opinions.service import signing_material
from server.opinions.verify import signed_keywords
from server.platform.storage import case_opinion_key
from tests.fixtures.app import Api
from tests.flows import SIGNED, Journey
from tests.opinions.issued import issued_with_photos
from tests.rectification import test_rectification_api as rect
from tests.rectification.steps import journey

__all__ = ["journey"]


async def test_the_issued_opinion_roots_every_object_its_verdicts_and_the_audit_head(
    api: Api,
) -> None:
    issued = await issued_with_photos(api, photos=2)
    store, case_id, opinion = api.ctx.store, issued.case_id, issued.opinion
    root = opinion["content"]["evidence_root"]
    kinds = [leaf["kind"] for leaf in root["leaves"]]
    assert kinds == ["audit_head", "photo", "photo", "verdicts"]  # (kind, id) order
    photo_leaves = {x["id"]: x["sha256"] for x in root["leaves"] if x["kind"] == "photo"}
    assert set(photo_leaves) == set(issued.photo_ids)

    # the twin carries the same root, and the root recomputes from its leaves
    twin = await store.get(case_opinion_key(case_id, opinion["id"], 1, "json"))
    content = content_from_json(twin)
    assert content.evidence_root is not None
    assert content.evidence_root.root == root["root"]
    assert merkle.root_of(leaves_of(content.evidence_root)) == root["root"]
    assert hashlib.sha256(twin).hexdigest() == opinion["content_hash"]

    # each photo leaf is the SHA-256 of the stored object
    async with api.ctx.sessionmaker() as session:
        rows = await session.scalars(select(Evidence).where(Evidence.case_id == case_id))
        keys = {r.id: str(r.object_key) for r in rows}
    for photo_id, digest in photo_leaves.items():
        assert hashlib.sha256(await store.get(keys[photo_id])).hexdigest() == digest
    # the verdict record is stored with the opinion and hashes to its leaf
    record = await store.get(case_opinion_key(case_id, opinion["id"], 1, "verdicts"))
    verdicts_leaf = next(x for x in root["leaves"] if x["kind"] == "verdicts")
    assert hashlib.sha256(record).hexdigest() == verdicts_leaf["sha256"]
    assert b'"verdicts":[' in record

    # the audit head leaf is a real record of the chain, whose body hashes to it
    head = next(x for x in root["leaves"] if x["kind"] == "audit_head")
    async with api.ctx.sessionmaker() as session:
        row = await session.get(AuditRecord, int(head["id"]))
        issued_row = await session.scalar(
            select(AuditRecord).where(AuditRecord.action == "opinion.issued")
        )
    assert row is not None
    assert row.hash == head["sha256"]
    assert hashlib.sha256(audit_body(row)).hexdigest() == row.hash
    assert issued_row is not None
    assert issued_row.seq > row.seq
    assert issued_row.detail["evidence_root"] == root["root"]

    # the signed PDF carries the root and the QR payload inside the signed revision
    pdf = await store.get(case_opinion_key(case_id, opinion["id"], 1, "pdf"))
    keywords = signed_keywords(pdf)
    assert f"evidence-root:{root['root']}" in keywords
    facts = parse_qr_payload(str(from_keywords(keywords, QR_KEYWORD_PREFIX)))
    assert (facts.opinion_id, facts.root, facts.twin_sha256) == (
        opinion["id"],
        root["root"],
        opinion["content_hash"],
    )


async def test_the_public_verification_shows_the_evidence_root(api: Api) -> None:
    issued = await issued_with_photos(api, photos=1)
    code = issued.opinion["verification_code"]
    root = issued.opinion["content"]["evidence_root"]["root"]
    facts = await api.client.get(f"/verify/{code}")
    assert facts.status_code == 200, facts.text
    assert facts.json()["evidence_root"] == root
    page = await api.client.get(f"/verify/{code}.html")
    assert root in page.text


async def test_rectification_photos_are_rooted_and_exported_under_their_own_kind(
    api: Api, journey: Journey
) -> None:
    failure = await rect.photo(journey, journey.inspector_headers(1), rect.FIXABLE)
    await rect.requested_and_submitted(journey)
    for position in (0, 1):
        assert (await rect.review(journey, position, True)).status_code == 200
    lead, second = journey.inspector_headers(0), journey.inspector_headers(1)
    _, reviewer = await api.staff_headers(Role.reviewer)
    base = f"/api/v1/cases/{journey.case_id}/opinion"
    for step, who in (("draft", lead), ("submit", lead), ("cosign", second), ("approve", reviewer)):
        body = SIGNED if step in ("cosign", "approve") else None
        response = await api.client.post(f"{base}/{step}", json=body, headers=who)
        assert response.status_code == 200, response.text
    leaves = response.json()["content"]["evidence_root"]["leaves"]
    kinds = {(x["kind"], x["id"]) for x in leaves}
    assert ("photo", failure) in kinds
    assert [k for k, _ in kinds if k == "rectification_photo"] == ["rectification_photo"]

    bundle = await api.client.get(f"{base}/bundle", headers=reviewer)
    assert bundle.status_code == 200, bundle.text
    roots = signing_material(api.ctx.settings).trust_roots()
    report = await asyncio.to_thread(check_bundle, bundle.content, roots)
    assert report.ok, report.problems
    assert report.objects_ok == len(leaves)
