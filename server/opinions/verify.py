"""Verify an issued opinion offline: the PAdES signature, later updates, and the content hash.

pyHanko checks the hash over the signed byte ranges, the signature value, the chain to the
given trust roots (no network fetching) and the signer's key usage (non-repudiation). On top,
we accept an incremental update after the signature only if it adds validation data or
archive timestamps (LTA updates): anything else — an annotation, a new page, a changed
object — fails, whatever a viewer would show.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import cms  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from server.opinions.pdf import HASH_KEYWORD_PREFIX

_HASH_RE = re.compile(re.escape(HASH_KEYWORD_PREFIX) + r"([0-9a-f]{64})")
_ALLOWED_LEVELS = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)


@dataclass
class VerificationReport:
    """What a verifier needs to decide; ``ok`` only when nothing at all is wrong."""

    intact: bool = False
    valid: bool = False
    trusted: bool = False
    signer_subject: str | None = None
    signing_time: datetime | None = None
    timestamp_present: bool = False
    modification: str | None = None  # pyHanko's modification level after the signature
    content_hash: str | None = None  # found in the signed revision of the PDF
    content_hash_matches: bool | None = None  # None when no expected hash was given
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and not self.problems


def _context(trust_roots: Sequence[asn1_x509.Certificate]) -> ValidationContext:
    # Offline: no OCSP/CRL fetching; missing revocation info is tolerated (soft-fail).
    return ValidationContext(
        trust_roots=list(trust_roots), allow_fetching=False, revocation_mode="soft-fail"
    )


def verify_pdf(
    pdf_bytes: bytes,
    trust_roots: Sequence[asn1_x509.Certificate],
    *,
    expected_hash: str | None = None,
) -> VerificationReport:
    """Check the opinion's signature and content hash; never raises on a bad file."""
    report = VerificationReport()
    try:
        reader = PdfFileReader(io.BytesIO(pdf_bytes))
        signatures = list(reader.embedded_signatures)
    except Exception as exc:  # any parse failure of an untrusted file is a verdict, not a crash
        report.problems.append(f"无法解析 PDF / cannot parse the PDF: {exc}")
        return report
    if not signatures:
        report.problems.append("文件没有数字签名 / the PDF carries no signature")
        return report
    if len(signatures) > 1:
        report.problems.append(
            f"文件含 {len(signatures)} 个签名，意见书只应有一个 / "
            f"{len(signatures)} signatures found, an opinion has exactly one"
        )
    _check_signature(signatures[0], trust_roots, report)
    _check_content_hash(pdf_bytes, signatures[0], expected_hash, report)
    return report


def _check_signature(
    signature: Any, trust_roots: Sequence[asn1_x509.Certificate], report: VerificationReport
) -> None:
    try:
        status = validate_pdf_signature(signature, _context(trust_roots))
    except Exception as exc:  # malformed CMS, unsupported algorithm, broken xref…
        report.problems.append(f"签名无法验证 / the signature cannot be validated: {exc}")
        return
    report.intact, report.valid = bool(status.intact), bool(status.valid)
    report.trusted = bool(status.trusted)
    report.signer_subject = status.signing_cert.subject.human_friendly
    report.timestamp_present = status.timestamp_validity is not None
    report.signing_time = (
        status.timestamp_validity.timestamp
        if status.timestamp_validity is not None
        else status.signer_reported_dt
    )
    level = status.modification_level
    report.modification = level.name if level is not None else None
    report.problems += _status_problems(status, level)
    report.problems += _container_problems(signature, status)


def _container_problems(signature: Any, status: Any) -> list[str]:
    """Bytes of /Contents the signature value does not cover: they must be exactly ours.

    /Contents lies outside the signed byte range, and inside it the CMS certificate set and
    the zero padding are not signed either; a changed byte there leaves pyHanko's verdict
    untouched, so we require the padding to be zeros and every embedded certificate to be
    the signer's or on its validated path.
    """
    raw = bytes(signature.pkcs7_content)
    declared = len(cms.ContentInfo.load(raw).dump())
    if any(raw[declared:]):
        return ["签名容器的填充被改动 / the signature container's padding was changed"]
    path = status.validation_path
    if path is None:
        return []  # untrusted: reported already
    known = {cert.dump() for cert in path.iter_certs(include_root=True)}
    known.add(status.signing_cert.dump())
    embedded = signature.signed_data["certificates"]
    if any(choice.chosen.dump() not in known for choice in embedded or ()):
        return ["签名中含未知证书 / the signature carries a certificate off its trust path"]
    return []


def _status_problems(status: Any, level: ModificationLevel | None) -> list[str]:
    problems: list[str] = []
    if not status.intact:
        problems.append(
            "签名后内容被改动（哈希不符）/ content changed after signing (digest mismatch)"
        )
    if not status.valid:
        problems.append("签名值无效 / the signature value is invalid")
    if status.intact and status.valid and not status.trusted:
        indication = status.trust_problem_indic
        why = indication.name if indication is not None else "key usage"
        problems.append(
            f"签名证书不受信任（{why}）/ the signer's certificate is not trusted ({why})"
        )
    if status.coverage not in (
        SignatureCoverageLevel.ENTIRE_FILE,
        SignatureCoverageLevel.ENTIRE_REVISION,
    ):
        problems.append("签名未覆盖整个文件 / the signature does not cover the whole document")
    elif level is not None and level not in _ALLOWED_LEVELS:
        problems.append(
            f"签名后有不允许的增量更新（{level.name}）/ "
            f"the document was changed after signing ({level.name})"
        )
    if status.docmdp_ok is False:
        problems.append("违反认证签名的修改限制 / changes violate the certification (DocMDP)")
    return problems


def _check_content_hash(
    pdf_bytes: bytes, signature: Any, expected: str | None, report: VerificationReport
) -> None:
    found = _signed_content_hash(pdf_bytes, signature)
    report.content_hash = found
    if found is None:
        report.problems.append(
            "已签名的文件中找不到内容哈希 / no content hash in the signed revision"
        )
    if expected is not None:
        report.content_hash_matches = found == expected.strip().lower()
        if not report.content_hash_matches:
            report.problems.append(
                f"内容哈希与记录不符 / content hash differs from the record "
                f"(PDF {found or '—'}, record {expected})"
            )


def _signed_content_hash(pdf_bytes: bytes, signature: Any) -> str | None:
    """The hash in the document info of the revision the signature covers (not a later one)."""
    try:
        byte_range = [int(x) for x in signature.sig_object["/ByteRange"]]
        signed = pdf_bytes[: byte_range[2] + byte_range[3]]
        info = PdfFileReader(io.BytesIO(signed)).trailer["/Info"]
        text = f"{info.get('/Keywords', '')} {info.get('/Subject', '')}"
    except Exception:  # an unparseable revision simply has no hash to show
        return None
    match = _HASH_RE.search(text)
    return match.group(1) if match else None


@dataclass
class JsonVerification:
    """Result of checking the detached CMS signature over the JSON twin."""

    intact: bool = False
    valid: bool = False
    trusted: bool = False
    signer_subject: str | None = None
    content_hash: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and not self.problems


def verify_json(
    json_bytes: bytes,
    signature: bytes,
    trust_roots: Sequence[asn1_x509.Certificate],
    *,
    expected_hash: str | None = None,
) -> JsonVerification:
    """Check the detached signature (DER CMS) over the JSON twin, offline."""
    result = JsonVerification(content_hash=hashlib.sha256(json_bytes).hexdigest())
    try:
        signed_data = cms.ContentInfo.load(signature)["content"]
        status = asyncio.run(
            async_validate_detached_cms(
                json_bytes, signed_data, signer_validation_context=_context(trust_roots)
            )
        )
    except Exception as exc:  # malformed DER is a failed verification
        result.problems.append(f"签名无法验证 / the signature cannot be validated: {exc}")
        return result
    result.intact, result.valid = bool(status.intact), bool(status.valid)
    result.trusted = bool(status.trusted)
    result.signer_subject = status.signing_cert.subject.human_friendly
    result.problems += _status_problems_json(status)
    if expected_hash is not None and expected_hash.strip().lower() != result.content_hash:
        result.problems.append("内容哈希与记录不符 / content hash differs from the record")
    return result


def _status_problems_json(status: Any) -> list[str]:
    if not status.intact:
        return ["JSON 内容被改动 / the JSON was changed after signing"]
    if not status.valid:
        return ["签名值无效 / the signature value is invalid"]
    if not status.trusted:
        return ["签名证书不受信任 / the signer's certificate is not trusted"]
    return []
