"""Reliability #25: every forged opinion PDF is flagged, none reported valid.

A real opinion (sample content with an evidence root, rendered by reportlab, PAdES-signed by
the development CA) is forged in every way ``pdf_tampers`` knows; each forgery goes through
``verify_pdf`` (pyHanko) and through ``cloudinspect verify-opinion`` with the content hash on
record, and must fail both. The untouched PDF must pass both (no false alarm).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from server.devtools.ca import ensure_dev_signing_material
from server.devtools.samples import sample_content, sample_photos
from server.devtools.tsa import DevTsaServer
from server.opinions.cli import EXIT_INVALID, EXIT_VALID, verify_opinion_command
from server.opinions.content import OpinionContent, canonical_json
from server.opinions.evidence_root import build_root
from server.opinions.merkle import Leaf
from server.opinions.pdf import render_opinion_pdf
from server.opinions.signing import SignaturePolicy, SigningMaterial, sign_opinion_pdf, sign_pdf
from server.opinions.verify import verify_pdf
from tests.reliability import pdf_tampers as t

FLIPS = 24
OTHER_ROOT = "f" * 64


class Case:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.material: SigningMaterial = ensure_dev_signing_material(data_dir)
        photos = sample_photos(4, size=(320, 240))
        content = sample_content(items=12, photos=photos)
        leaves = [Leaf("photo", p.id, p.sha256) for p in content.photos]
        leaves.append(Leaf("audit_head", "7", "b" * 64))
        self.content: OpinionContent = content.model_copy(
            update={"evidence_root": build_root(leaves)}
        )
        self.photos = photos
        self.unsigned = render_opinion_pdf(self.content, photos)
        self.signed = sign_pdf(self.unsigned, self.material, reason="test", location="test")
        self.hash = hashlib.sha256(canonical_json(self.content)).hexdigest()
        assert self.content.evidence_root is not None
        self.root = self.content.evidence_root.root

    def resigned_by_stranger(self, _: bytes) -> bytes:
        """Another root, rendered and signed with a key the bureau's root does not vouch for."""
        assert self.content.evidence_root is not None
        swapped = self.content.evidence_root.model_copy(update={"root": OTHER_ROOT})
        forged = self.content.model_copy(update={"evidence_root": swapped})
        stranger = ensure_dev_signing_material(self.data_dir / "stranger")
        return sign_pdf(render_opinion_pdf(forged, self.photos), stranger, reason="x", location="x")

    def forgeries(self) -> list[t.Forgery]:
        flips = [
            t.Forgery(f"flip-{i:02d}@{p}", "byte edit", t.flip_at(p))
            for i, p in enumerate(t.signed_positions(self.signed, FLIPS))
        ]
        return [
            *flips,
            t.Forgery("add-page", "incremental update", t.add_page),
            t.Forgery("add-annotation", "incremental update", t.add_annotation),
            t.Forgery("overlay-text", "incremental update", t.overlay_text),
            t.Forgery("shadow-replace-contents", "pdf-insecurity", t.shadow_replace_contents),
            t.Forgery(
                "info-update-root",
                "swap root",
                t.info_update(f"content-sha256:{self.hash}, evidence-root:{OTHER_ROOT}"),
            ),
            t.Forgery("root-in-place", "swap root", t.swap_root_in_place(self.root, OTHER_ROOT)),
            t.Forgery("resigned-by-stranger", "swap root", self.resigned_by_stranger),
            t.Forgery("unsigned", "strip", lambda _: self.unsigned),
            t.Forgery("zeroed-signature", "strip", t.zero_signature),
            t.Forgery("field-removed", "strip", t.remove_signature_field),
            t.Forgery("garbage-appended", "pdf-insecurity", t.append_garbage),
            t.Forgery("byte-range-shrunk", "pdf-insecurity", t.byte_range_cover_less),
        ]


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return Case(tmp_path_factory.mktemp("tamper"))


def cli(case: Case, pdf: bytes, tmp: Path) -> tuple[int, str]:
    path = tmp / "opinion.pdf"
    path.write_bytes(pdf)
    lines: list[str] = []
    code = verify_opinion_command(
        path, expected_hash=case.hash, trust_paths=[], data_dir=case.data_dir, out=lines.append
    )
    return code, "\n".join(lines)


def test_the_untouched_opinion_is_valid_with_its_root(case: Case, tmp_path: Path) -> None:
    report = verify_pdf(case.signed, case.material.trust_roots(), expected_hash=case.hash)
    assert report.ok, report.problems
    code, output = cli(case, case.signed, tmp_path)
    assert code == EXIT_VALID, output
    assert case.root in output


def test_every_forgery_is_flagged_and_none_reported_valid(case: Case, tmp_path: Path) -> None:
    results: dict[str, tuple[str, bool, int]] = {}
    for forgery in case.forgeries():
        forged = forgery.make(case.signed)
        assert forged != case.signed, forgery.name
        report = verify_pdf(forged, case.material.trust_roots(), expected_hash=case.hash)
        code, output = cli(case, forged, tmp_path)
        results[forgery.name] = (forgery.family, report.ok, code)
        assert "VALID" in output
    false_valid = [name for name, (_, ok, code) in results.items() if ok or code != EXIT_INVALID]
    families: dict[str, int] = {}
    for family, _, _ in results.values():
        families[family] = families.get(family, 0) + 1
    print(
        f"\n#25 forgeries: {len(results)} ({families}); flagged by both: "
        f"{len(results) - len(false_valid)}; false valid: {len(false_valid)}"
    )
    assert false_valid == []
    assert len(results) >= FLIPS + 12


def test_forgeries_after_long_term_validation_data_are_flagged(case: Case, tmp_path: Path) -> None:
    """At B-LTA the file legitimately grows after the signature (DSS, document timestamp):
    an update hidden after those is still caught, and the genuine file still passes."""
    with DevTsaServer(case.data_dir) as tsa:
        policy = SignaturePolicy(level="B-LTA", tsa_url=tsa.url)
        lta = sign_opinion_pdf(case.unsigned, case.material, policy, reason="r", location="l")
    roots = case.material.trust_roots()
    genuine = verify_pdf(lta, roots, expected_hash=case.hash)
    assert genuine.ok, genuine.problems
    assert genuine.level == "B-LTA"
    forgeries = [
        t.add_page,
        t.add_annotation,
        t.overlay_text,
        t.shadow_replace_contents,
        t.info_update(f"content-sha256:{case.hash}, evidence-root:{OTHER_ROOT}"),
        t.append_garbage,
        t.remove_signature_field,
        *(t.flip_at(p) for p in t.signed_positions(lta, 6)),
    ]
    flagged = 0
    for forge in forgeries:
        report = verify_pdf(forge(lta), roots, expected_hash=case.hash)
        assert not report.ok, forge
        flagged += 1
    print(f"\n#25 after B-LTA: {flagged}/{len(forgeries)} flagged, 0 false valid")
