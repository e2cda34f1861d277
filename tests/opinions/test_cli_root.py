"""``verify-opinion`` on a PDF with an evidence root: the root is shown from the signed
revision, and a scanned QR text that names another root, hash or nothing is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from server.opinions.cli import EXIT_INVALID, EXIT_VALID, verify_opinion_command
from server.opinions.content import OpinionContent, content_hash
from server.opinions.evidence_root import build_root
from server.opinions.merkle import Leaf
from server.opinions.pdf import render_opinion_pdf
from server.opinions.qr import qr_payload
from server.opinions.signing import SigningMaterial, sign_pdf


@pytest.fixture(scope="module")
def rooted(content: OpinionContent) -> OpinionContent:
    leaves = [Leaf("photo", p.id, p.sha256) for p in content.photos]
    return content.model_copy(update={"evidence_root": build_root(leaves)})


@pytest.fixture(scope="module")
def rooted_pdf(
    rooted: OpinionContent, photos: dict[str, bytes], material: SigningMaterial
) -> bytes:
    return sign_pdf(render_opinion_pdf(rooted, photos), material, reason="r", location="l")


def run(
    tmp_path: Path, data_dir: Path, pdf: bytes, qr: str | None, expected: str
) -> tuple[int, str]:
    path = tmp_path / "o.pdf"
    path.write_bytes(pdf)
    lines: list[str] = []
    code = verify_opinion_command(
        path,
        expected_hash=expected,
        trust_paths=[],
        data_dir=data_dir,
        qr_text=qr,
        out=lines.append,
    )
    return code, "\n".join(lines)


def test_the_root_is_shown_and_the_scanned_qr_matches(
    rooted: OpinionContent, rooted_pdf: bytes, data_dir: Path, tmp_path: Path
) -> None:
    assert rooted.evidence_root is not None
    code, output = run(tmp_path, data_dir, rooted_pdf, qr_payload(rooted), content_hash(rooted))
    assert code == EXIT_VALID, output
    assert f"证据根 / Evidence root:       {rooted.evidence_root.root}" in output


@pytest.mark.parametrize(
    ("mangle", "complaint"),
    [
        (lambda q: q.split("#")[0], "no evidence root"),
        (lambda q: q.replace("&r=", "&r=f", 1), "field r"),
        (lambda q: q.rsplit("&h=", 1)[0] + "&h=" + "0" * 64, "twin hash differs"),
    ],
)
def test_a_scanned_qr_that_does_not_match_fails(
    rooted: OpinionContent,
    rooted_pdf: bytes,
    data_dir: Path,
    tmp_path: Path,
    mangle: Callable[[str], str],
    complaint: str,
) -> None:
    code, output = run(
        tmp_path, data_dir, rooted_pdf, mangle(qr_payload(rooted)), content_hash(rooted)
    )
    assert code == EXIT_INVALID, output
    assert "the scanned QR is not the signed one" in output
    assert complaint in output
