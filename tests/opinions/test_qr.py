"""The QR payload: compact, parsed back exactly, refused clearly when malformed, scannable."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.evidence.models import Evidence
from server.opinions.content import OpinionContent, canonical_json, content_hash
from server.opinions.evidence_root import build_root, evidence_kind
from server.opinions.merkle import Leaf
from server.opinions.pdf import qr_png
from server.opinions.qr import from_keywords, parse_qr_payload, qr_payload


@pytest.fixture
def rooted(content: OpinionContent) -> OpinionContent:
    leaves = [Leaf("photo", p.id, p.sha256) for p in content.photos]
    leaves.append(Leaf("audit_head", "42", "a" * 64))
    return content.model_copy(update={"evidence_root": build_root(leaves)})


def test_the_payload_names_the_opinion_root_and_twin_hash(rooted: OpinionContent) -> None:
    payload = qr_payload(rooted)
    assert payload.startswith(rooted.verification_url + "#v=1&")
    facts = parse_qr_payload(payload)
    assert rooted.evidence_root is not None
    assert (facts.opinion_id, facts.root, facts.twin_sha256, facts.url) == (
        rooted.opinion_id,
        rooted.evidence_root.root,
        content_hash(rooted),
        rooted.verification_url,
    )
    assert len(payload) < 300


def test_an_opinion_without_a_root_keeps_the_plain_url(content: OpinionContent) -> None:
    assert qr_payload(content) == content.verification_url


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("https://x/verify/ABCD", "no evidence root"),
        ("https://x/verify/ABCD#v=2&o=a&r=" + "0" * 64 + "&h=" + "0" * 64, "unsupported"),
        ("https://x/verify/ABCD#v=1&o=a&r=" + "0" * 63 + "&h=" + "0" * 64, "field r"),
        ("https://x/verify/ABCD#v=1&o=a b&r=" + "0" * 64 + "&h=" + "0" * 64, "opinion id"),
    ],
)
def test_a_malformed_payload_is_refused_by_name(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_qr_payload(text)


def test_the_printed_qr_scans_back_to_the_payload(rooted: OpinionContent) -> None:
    payload = qr_payload(rooted)
    image = cv2.imdecode(np.frombuffer(qr_png(payload), np.uint8), cv2.IMREAD_GRAYSCALE)
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert decoded == payload


def test_keywords_are_read_up_to_a_separator() -> None:
    text = "cloudinspect-opinion, evidence-root:abc, cloudinspect-qr:https://x#v=1&o=a"
    assert from_keywords(text, "evidence-root:") == "abc"
    assert from_keywords(text, "cloudinspect-qr:") == "https://x#v=1&o=a"
    assert from_keywords(text, "missing:") is None


def test_an_opinion_without_a_root_keeps_its_canonical_json(content: OpinionContent) -> None:
    """Opinions issued before evidence roots keep the exact twin (and hash) they were signed as."""
    assert b"evidence_root" not in canonical_json(content)
    assert content_hash(OpinionContent.model_validate(content.model_dump(mode="json"))) == (
        content_hash(content)
    )


def test_rectification_uploads_are_their_own_kind() -> None:
    row = Evidence(kind="photo", meta={"purpose": "rectification"})
    assert evidence_kind(row) == "rectification_photo"
    assert evidence_kind(Evidence(kind="segment", meta={})) == "segment"
