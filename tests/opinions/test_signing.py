"""Signing and verifying the opinion: PAdES on the PDF, detached CMS on the JSON twin."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from server.devtools.ca import DEV_DIR_NAME, ensure_dev_signing_material
from server.opinions.content import OpinionContent, canonical_json, content_from_json, content_hash
from server.opinions.signing import SigningMaterial, sign_json, sign_pdf
from server.opinions.verify import verify_json, verify_pdf
from tests.opinions.tsa import dummy_tsa


def test_dev_material_is_created_once_and_reused(data_dir: Path, material: SigningMaterial) -> None:
    again = ensure_dev_signing_material(data_dir)
    assert again.cert_path.read_bytes() == material.cert_path.read_bytes()
    assert again.key_path.read_bytes() == material.key_path.read_bytes()


def test_dev_keys_are_private(material: SigningMaterial, data_dir: Path) -> None:
    for key in (material.key_path, data_dir / DEV_DIR_NAME / "dev-ca.key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_dev_certificate_allows_non_repudiation(material: SigningMaterial) -> None:
    cert = x509.load_pem_x509_certificate(material.cert_path.read_bytes())
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.content_commitment
    issuer = x509.load_pem_x509_certificate(material.chain_paths[0].read_bytes())
    assert "DEVELOPMENT ONLY" in issuer.subject.rfc4514_string()


def test_pyhanko_validates_signed_pdf(signed_pdf: bytes, material: SigningMaterial) -> None:
    signature = PdfFileReader(io.BytesIO(signed_pdf)).embedded_signatures[0]
    context = ValidationContext(trust_roots=material.trust_roots(), allow_fetching=False)
    status = validate_pdf_signature(signature, context)
    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.signing_cert.dump() == material.signing_cert.dump()


def test_verify_reports_valid_and_content_hash(
    signed_pdf: bytes, material: SigningMaterial, content: OpinionContent
) -> None:
    report = verify_pdf(signed_pdf, material.trust_roots(), expected_hash=content_hash(content))
    assert report.ok, report.problems
    assert report.signer_subject == material.signing_cert.subject.human_friendly
    assert report.content_hash_matches is True
    assert report.timestamp_present is False  # no TSA configured: PAdES B-B
    assert report.level == "B-B"
    assert report.signing_time is not None


def _signed_positions(signed_pdf: bytes) -> list[int]:
    signature = PdfFileReader(io.BytesIO(signed_pdf)).embedded_signatures[0]
    start, first, second, length = (int(x) for x in signature.sig_object["/ByteRange"])
    return [start + 10, first // 3, first // 2, first - 20, second + 5, second + length - 30]


@pytest.mark.parametrize("index", range(6))
def test_one_flipped_byte_fails(signed_pdf: bytes, material: SigningMaterial, index: int) -> None:
    position = _signed_positions(signed_pdf)[index]
    tampered = bytearray(signed_pdf)
    tampered[position] ^= 0x01
    report = verify_pdf(bytes(tampered), material.trust_roots())
    assert not report.ok
    assert report.problems


@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.4, 0.6, 0.8, 0.99])
def test_flipped_digit_in_signature_container_fails(
    signed_pdf: bytes, material: SigningMaterial, fraction: float
) -> None:
    """/Contents is outside the byte range: certificates, signature value and padding."""
    signature = PdfFileReader(io.BytesIO(signed_pdf)).embedded_signatures[0]
    _, first, second, _ = (int(x) for x in signature.sig_object["/ByteRange"])
    position = first + 1 + int((second - first - 2) * fraction)
    tampered = bytearray(signed_pdf)
    tampered[position] = ord("1") if tampered[position] == ord("0") else ord("0")
    assert not verify_pdf(bytes(tampered), material.trust_roots()).ok


def _append_update(signed_pdf: bytes, keywords: str) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf))
    info = generic.DictionaryObject({generic.NameObject("/Keywords"): generic.pdf_string(keywords)})
    writer.trailer["/Info"] = writer.add_object(info)
    writer.root["/Lang"] = generic.pdf_string("en")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_incremental_update_changing_content_is_reported(
    signed_pdf: bytes, material: SigningMaterial, content: OpinionContent
) -> None:
    forged = _append_update(signed_pdf, "content-sha256:" + "0" * 64)
    report = verify_pdf(forged, material.trust_roots(), expected_hash=content_hash(content))
    assert not report.ok
    assert report.intact  # the signed revision itself is untouched…
    assert report.content_hash == content_hash(content)  # …and its hash is what we read
    assert any("after signing" in problem for problem in report.problems)


def test_untrusted_signer_is_reported(
    pdf: bytes, material: SigningMaterial, tmp_path: Path
) -> None:
    stranger = ensure_dev_signing_material(tmp_path)
    signed = sign_pdf(pdf, stranger, reason="forged", location="elsewhere")
    report = verify_pdf(signed, material.trust_roots())
    assert report.intact
    assert report.valid
    assert not report.trusted
    assert any("not trusted" in problem for problem in report.problems)


def test_unsigned_pdf_is_reported(pdf: bytes, material: SigningMaterial) -> None:
    report = verify_pdf(pdf, material.trust_roots())
    assert not report.ok
    assert any("no signature" in problem for problem in report.problems)


def test_garbage_is_reported_not_raised(material: SigningMaterial) -> None:
    assert not verify_pdf(b"%PDF-1.4 nonsense", material.trust_roots()).ok


def test_timestamp_makes_pades_b_t(pdf: bytes, material: SigningMaterial) -> None:
    timestamper, tsa_root = dummy_tsa()
    signed = sign_pdf(pdf, material, reason="r", location="l", timestamper=timestamper)
    report = verify_pdf(signed, [*material.trust_roots(), tsa_root])
    assert report.ok, report.problems
    assert report.timestamp_present
    assert report.level == "B-T"


def test_json_twin_signature_verifies(content: OpinionContent, material: SigningMaterial) -> None:
    twin = canonical_json(content)
    result = verify_json(
        twin, sign_json(twin, material), material.trust_roots(), expected_hash=content_hash(content)
    )
    assert result.ok, result.problems
    assert content_from_json(twin) == content


def test_json_twin_with_one_changed_byte_fails(
    content: OpinionContent, material: SigningMaterial
) -> None:
    twin = canonical_json(content)
    signature = sign_json(twin, material)
    changed = twin.replace(b'"version":1', b'"version":2')
    assert changed != twin
    result = verify_json(changed, signature, material.trust_roots())
    assert not result.ok
    assert not result.intact


def test_json_twin_is_canonical(content: OpinionContent) -> None:
    assert canonical_json(content_from_json(canonical_json(content))) == canonical_json(content)
