"""Verify an issued opinion offline: the PAdES signature, its level, later updates, the hash.

pyHanko checks the hash over the signed byte ranges, the signature value, the chain to the
given trust roots (no network fetching) and the signer's key usage (non-repudiation). On top,
we accept an incremental update after the signature only if it adds validation data or
archive timestamps (LTA updates): anything else — an annotation, a new page, a changed
object — fails, whatever a viewer would show.

The level reported is the one that holds, not the one claimed (ETSI EN 319 142-1):

* B-B   a valid PAdES signature, checked now (revocation data is used when found: soft-fail);
* B-T   plus a signature timestamp from a TSA the trust roots vouch for;
* B-LT  plus a document security store (DSS) from which the signer's chain validates *at the
        timestamp's time* with revocation data for every certificate and nothing fetched —
        which still works after the signing certificate has expired;
* B-LTA plus document timestamps over that DSS; the newest is checked now, each older one and
        the signature timestamp at the time of the one after it.

A DSS that does not carry the signature is a problem, not a silent fall back to B-T: our
opinions are issued either without one or with a complete one.
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
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms, extract_tst_data_iter
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy

from server.opinions.pdf import HASH_KEYWORD_PREFIX
from server.opinions.revisions import later_revision_problems, trailing_problem

_HASH_RE = re.compile(re.escape(HASH_KEYWORD_PREFIX) + r"([0-9a-f]{64})")
_ALLOWED_LEVELS = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
PADES_SUBFILTER = "/ETSI.CAdES.detached"


@dataclass
class VerificationReport:
    """What a verifier needs to decide; ``ok`` only when nothing at all is wrong."""

    intact: bool = False
    valid: bool = False
    trusted: bool = False
    signer_subject: str | None = None
    signing_time: datetime | None = None  # the timestamp's when there is one, else the claim
    timestamp_present: bool = False
    timestamp_valid: bool = False
    timestamp_time: datetime | None = None  # the TSA's time (UTC) in the signature timestamp
    timestamp_authority: str | None = None
    validation_data: bool = False  # the DSS validated the signature offline (B-LT)
    archive_timestamp_time: datetime | None = None  # the newest document timestamp (B-LTA)
    level: str | None = None  # the PAdES level that holds; None unless ``ok``
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


@dataclass(frozen=True)
class _Trust:
    """The trust roots, the document's DSS (if any) and the time of the check."""

    roots: tuple[asn1_x509.Certificate, ...]
    dss: DocumentSecurityStore | None
    at: datetime | None  # None = now

    def current(self) -> ValidationContext:
        """Checked at ``at`` (now), soft-fail, DSS certificates available for path building."""
        certs = list(self.dss.load_certs()) if self.dss is not None else []
        return ValidationContext(
            trust_roots=list(self.roots),
            other_certs=certs,
            moment=self.at,
            allow_fetching=False,
            revocation_mode="soft-fail",
        )

    def back_then(self, moment: datetime) -> ValidationContext:
        """Checked at ``moment`` from the DSS alone: every certificate needs revocation data."""
        kwargs: dict[str, Any] = {
            "trust_roots": list(self.roots),
            "moment": moment,
            "allow_fetching": False,
            "revinfo_policy": CertRevTrustPolicy(REQUIRE_REVINFO),
        }
        if self.dss is None:
            return ValidationContext(crls=[], ocsps=[], **kwargs)
        return self.dss.as_validation_context(kwargs)


def verify_pdf(
    pdf_bytes: bytes,
    trust_roots: Sequence[asn1_x509.Certificate],
    *,
    expected_hash: str | None = None,
    at: datetime | None = None,
) -> VerificationReport:
    """Check the opinion's signature, level and content hash; never raises on a bad file.

    ``at`` checks as of another moment (aware datetime), e.g. years ahead, to show what the
    long-term validation data is for; default now.
    """
    report = VerificationReport()
    try:
        reader = PdfFileReader(io.BytesIO(pdf_bytes))
        signatures = list(reader.embedded_signatures)
    except Exception as exc:  # any parse failure of an untrusted file is a verdict, not a crash
        report.problems.append(f"无法解析 PDF / cannot parse the PDF: {exc}")
        return report
    regular = [s for s in signatures if s.sig_object_type == "/Sig"]
    if not regular:
        report.problems.append("文件没有数字签名 / the PDF carries no signature")
        return report
    if len(regular) > 1:
        report.problems.append(
            f"文件含 {len(regular)} 个签名，意见书只应有一个 / "
            f"{len(regular)} signatures found, an opinion has exactly one"
        )
    signature = regular[0]
    stamps = [
        s
        for s in signatures
        if s.sig_object_type == "/DocTimeStamp" and s.signed_revision > signature.signed_revision
    ]
    trust = _Trust(tuple(trust_roots), _read_dss(reader, report), at)
    reference = _check_archive_timestamps(stamps, trust, report)
    _check_signature(signature, trust, reference, report)
    report.problems += _revision_problems(reader, signature, pdf_bytes)
    _check_content_hash(pdf_bytes, signature, expected_hash, report)
    report.level = _level(signature, report) if report.ok else None
    return report


def _revision_problems(reader: PdfFileReader, signature: Any, pdf_bytes: bytes) -> list[str]:
    try:
        later = later_revision_problems(reader, signature.signed_revision)
    except Exception as exc:  # an update we cannot even read is not one we accept
        later = [f"签名后的修订无法解析 / a later revision cannot be read: {exc}"]
    return later + trailing_problem(pdf_bytes)


def _read_dss(reader: PdfFileReader, report: VerificationReport) -> DocumentSecurityStore | None:
    try:
        return DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return None
    except Exception as exc:  # a DSS that cannot be read is as good as a forged one
        report.problems.append(
            f"长期验证数据（DSS）无法读取 / the validation data (DSS) cannot be read: {exc}"
        )
        return None


def _check_archive_timestamps(
    stamps: Sequence[Any], trust: _Trust, report: VerificationReport
) -> datetime | None:
    """Newest first, each at the time of the one after it; the oldest one's time, if all hold."""
    context, reference = trust.current(), None
    for stamp in reversed(stamps):
        moment = _valid_document_timestamp(stamp, context, report)
        if moment is None:
            return None
        reference = moment
        report.archive_timestamp_time = report.archive_timestamp_time or moment
        context = trust.back_then(moment)
    return reference


def _valid_document_timestamp(
    stamp: Any, context: ValidationContext, report: VerificationReport
) -> datetime | None:
    """The document timestamp's time, or None (and a problem) when it does not hold."""
    try:
        status = validate_pdf_timestamp(stamp, context)
    except Exception as exc:  # malformed token: the chain of archive timestamps is broken
        why = str(exc)
    else:
        if status.intact and status.valid and status.trusted:
            moment: datetime = status.timestamp
            return moment
        why = status.summary()
    report.problems.append(
        f"文档时间戳（归档时间戳）无效 / the document (archive) timestamp does not validate: {why}"
    )
    return None


def _signature_timestamp_time(signature: Any) -> datetime | None:
    """The time in the signature timestamp token, read before it is validated."""
    for token in extract_tst_data_iter(signature.signer_info, signed=False):
        gen_time: datetime = token["encap_content_info"]["content"].parsed["gen_time"].native
        return gen_time
    return None


def _check_signature(
    signature: Any, trust: _Trust, reference: datetime | None, report: VerificationReport
) -> None:
    try:
        token_time = _signature_timestamp_time(signature)
        long_term = token_time is not None and trust.dss is not None
        signer_context = trust.current()
        if token_time is not None and long_term:  # the signer, as of the TSA's time
            signer_context = trust.back_then(token_time)
        stamp_context = trust.back_then(reference) if reference else trust.current()
        status = validate_pdf_signature(signature, signer_context, stamp_context)
    except Exception as exc:  # malformed CMS, unsupported algorithm, broken xref…
        report.problems.append(f"签名无法验证 / the signature cannot be validated: {exc}")
        return
    report.intact, report.valid = bool(status.intact), bool(status.valid)
    report.trusted = bool(status.trusted)
    report.signer_subject = status.signing_cert.subject.human_friendly
    _read_timestamp(status, report)
    trusted_time = report.timestamp_time if report.timestamp_valid else None
    report.signing_time = trusted_time or status.signer_reported_dt
    level = status.modification_level
    report.modification = level.name if level is not None else None
    report.problems += _status_problems(status, level)
    report.problems += _timestamp_problems(report)
    report.problems += _container_problems(signature, status)
    report.validation_data = long_term and report.trusted and report.timestamp_valid
    if long_term and not report.validation_data:
        report.problems.append(
            "所附长期验证数据不足以离线验证签名 / the embedded validation data (DSS) does not "
            "validate the signature offline at its timestamp's time"
        )


def _read_timestamp(status: Any, report: VerificationReport) -> None:
    token = status.timestamp_validity
    report.timestamp_present = token is not None
    if token is None:
        return
    report.timestamp_valid = bool(token.intact and token.valid and token.trusted)
    report.timestamp_time = token.timestamp
    report.timestamp_authority = token.signing_cert.subject.human_friendly


def _timestamp_problems(report: VerificationReport) -> list[str]:
    if report.timestamp_present and not report.timestamp_valid:
        return [
            "签名时间戳无效或其时间戳服务不受信任 / the signature timestamp does not validate "
            "or its TSA is not trusted"
        ]
    return []


def _level(signature: Any, report: VerificationReport) -> str | None:
    """The PAdES baseline level that holds for a signature that passed every check."""
    if signature.sig_object.get("/SubFilter") != PADES_SUBFILTER:
        return None  # a plain PKCS#7 signature has no PAdES level
    if not report.timestamp_valid:
        return "B-B"
    if not report.validation_data:
        return "B-T"
    return "B-LTA" if report.archive_timestamp_time is not None else "B-LT"


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
    match = _HASH_RE.search(_signed_info_text(pdf_bytes, signature))
    return match.group(1) if match else None


def _signed_info_text(pdf_bytes: bytes, signature: Any) -> str:
    try:
        byte_range = [int(x) for x in signature.sig_object["/ByteRange"]]
        signed = pdf_bytes[: byte_range[2] + byte_range[3]]
        info = PdfFileReader(io.BytesIO(signed)).trailer["/Info"]
        return f"{info.get('/Keywords', '')} {info.get('/Subject', '')}"
    except Exception:  # an unparseable revision simply has no keywords to show
        return ""


def signed_keywords(pdf_bytes: bytes) -> str:
    """Keywords and subject of the revision the first signature covers ("" if none)."""
    try:
        signatures = PdfFileReader(io.BytesIO(pdf_bytes), strict=False).embedded_signatures
    except Exception:  # not a PDF we can read: no signed keywords
        return ""
    return _signed_info_text(pdf_bytes, signatures[0]) if signatures else ""


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
