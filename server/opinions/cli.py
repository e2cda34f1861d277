"""``cloudinspect verify-opinion file.pdf``: check an opinion offline and print a zh/en report."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from server.devtools.ca import dev_ca_cert_path
from server.opinions.bundle_check import BundleReport, check_bundle
from server.opinions.qr import (
    QR_KEYWORD_PREFIX,
    ROOT_KEYWORD_PREFIX,
    from_keywords,
    parse_qr_payload,
)
from server.opinions.signing import load_certificates
from server.opinions.verify import VerificationReport, signed_keywords, verify_pdf
from server.platform.time import shanghai_time

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _trust(
    trust_paths: list[Path], data_dir: Path, out: Callable[[str], None]
) -> list[Path] | None:
    paths = trust_paths or [dev_ca_cert_path(data_dir)]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        out(f"错误：找不到信任根证书 / error: trust root not found: {', '.join(map(str, missing))}")
        out("请用 --trust 指定签发机关的根证书 / pass the bureau's root certificate with --trust")
        return None
    if trust_paths:
        out(f"信任根 / Trust roots: {', '.join(map(str, paths))}")
    else:
        out(
            f"信任根 / Trust roots: 开发用 CA（仅限开发环境）/ the development CA "
            f"(development only): {paths[0]}"
        )
    return paths


def verify_opinion_command(
    pdf_path: Path | None,
    *,
    expected_hash: str | None,
    trust_paths: list[Path],
    data_dir: Path,
    bundle_path: Path | None = None,
    qr_text: str | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Verify a PDF and/or an evidence bundle; exit 0 valid, 1 not valid, 2 cannot run."""
    for path in (pdf_path, bundle_path):
        if path is not None and not path.is_file():
            out(f"错误：找不到文件 / error: no such file: {path}")
            return EXIT_USAGE
    if pdf_path is None and bundle_path is None:
        out("错误：请给出意见书 PDF 或 --bundle 证据包 / error: give a PDF or --bundle")
        return EXIT_USAGE
    paths = _trust(trust_paths, data_dir, out)
    if paths is None:
        return EXIT_USAGE
    _quiet_pyhanko()  # its loggers print tracebacks for every expected failure
    roots = load_certificates(paths)
    ok = True
    if pdf_path is not None:
        out(f"意见书验证 / Opinion verification: {pdf_path}")
        pdf = pdf_path.read_bytes()
        report = verify_pdf(pdf, roots, expected_hash=expected_hash)
        report.problems += root_problems(pdf, report, qr_text)
        lines = report_lines(report, expected_hash=expected_hash)
        at = next(i for i, line in enumerate(lines) if line.startswith("结果"))
        for line in [*lines[:at], *root_lines(pdf), *lines[at:]]:
            out(line)
        ok = report.ok
    if bundle_path is not None:
        out(f"证据包验证 / Evidence bundle verification: {bundle_path}")
        bundle = check_bundle(bundle_path.read_bytes(), roots)
        if qr_text is not None:
            bundle.problems += _qr_against(qr_text, bundle.root, None)
        if pdf_path is not None:
            bundle.problems += _same_opinion(pdf_path.read_bytes(), bundle.root)
        for line in bundle_lines(bundle):
            out(line)
        ok = ok and bundle.ok
    return EXIT_VALID if ok else EXIT_INVALID


def _same_opinion(pdf: bytes, bundle_root: str | None) -> list[str]:
    root = from_keywords(signed_keywords(pdf), ROOT_KEYWORD_PREFIX)
    if root == bundle_root:
        return []
    return [f"所给 PDF 与证据包不是同一份意见书 / the PDF is not the bundle's opinion ({root})"]


def root_lines(pdf: bytes) -> list[str]:
    root = from_keywords(signed_keywords(pdf), ROOT_KEYWORD_PREFIX)
    shown = root or "—（出具于证据根之前 / issued before evidence roots）"
    return [f"  证据根 / Evidence root:       {shown}"]


def root_problems(pdf: bytes, report: VerificationReport, qr_text: str | None) -> list[str]:
    """The QR payload in the signed revision must name this PDF's root and content hash."""
    keywords = signed_keywords(pdf)
    root = from_keywords(keywords, ROOT_KEYWORD_PREFIX)
    payload = from_keywords(keywords, QR_KEYWORD_PREFIX)
    problems: list[str] = []
    if root is not None and payload is not None:
        problems += _qr_against(payload, root, report.content_hash)
    if qr_text is not None:
        if payload is not None and qr_text.strip() != payload:
            problems.append("扫描的二维码与签名内容不符 / the scanned QR is not the signed one")
        problems += _qr_against(qr_text, root, report.content_hash)
    return problems


def _qr_against(text: str, root: str | None, twin_sha256: str | None) -> list[str]:
    try:
        facts = parse_qr_payload(text)
    except ValueError as exc:
        return [f"二维码 / QR: {exc}"]
    problems = []
    if facts.root != root:
        problems.append(f"二维码中的证据根不符 / the QR's evidence root differs: {facts.root}")
    if twin_sha256 is not None and facts.twin_sha256 != twin_sha256:
        problems.append(f"二维码中的内容哈希不符 / the QR's twin hash differs: {facts.twin_sha256}")
    return problems


def bundle_lines(report: BundleReport) -> list[str]:
    lines = [
        f"  证据根 / Evidence root:       {report.root or '—'}",
        f"  JSON 副本签名 / Twin signed:  {_yes(report.twin_signature_ok)}",
        f"  PDF 签名 / PDF signed:        {_yes(report.pdf_signature_ok)}",
        f"  对象 / Objects:               {report.objects_ok}/{report.objects_checked} 一致 match",
    ]
    if report.ok:
        return [*lines, "结果 / Result: 通过 — 每件证据与意见书一致 / VALID"]
    lines.append("结果 / Result: 未通过 / NOT VALID")
    return [*lines, *(f"  - {problem}" for problem in report.problems)]


def _quiet_pyhanko() -> None:
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _yes(flag: bool) -> str:
    return "是 yes" if flag else "否 NO"


def report_lines(report: VerificationReport, *, expected_hash: str | None) -> list[str]:
    """The report as the lines a person reads."""
    lines = [
        f"  签名完整 / Intact:            {_yes(report.intact)}",
        f"  签名有效 / Valid:             {_yes(report.valid)}",
        f"  证书可信 / Trusted:           {_yes(report.trusted)}",
        f"  签名人 / Signer:              {report.signer_subject or '—'}",
        f"  签名时间 / Signing time:      {_beijing(report.signing_time)}",
        f"  时间戳 / Timestamp:           {_timestamp(report)}",
        f"  时间戳服务 / TSA:             {report.timestamp_authority or '—'}",
        f"  长期验证数据 / LTV data:      {_validation_data(report)}",
        f"  签名级别 / PAdES level:       {_level(report)}",
        f"  签名后修改 / Later changes:   {_modification(report.modification)}",
        f"  内容哈希 / Content hash:      {report.content_hash or '—'}",
        f"  记录哈希 / Record hash:       {_record(report, expected_hash)}",
    ]
    if report.ok:
        return [*lines, "结果 / Result: 通过 — 文件完整、签名有效、来源可信 / VALID"]
    lines.append("结果 / Result: 未通过 / NOT VALID")
    return [*lines, *(f"  - {problem}" for problem in report.problems)]


def _beijing(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return f"{shanghai_time(moment, '%Y-%m-%d %H:%M:%S')}（北京时间 / Beijing time）"


def _timestamp(report: VerificationReport) -> str:
    if not report.timestamp_present:
        return "无 none"
    verdict = "有效 valid" if report.timestamp_valid else "无效 NOT VALID"
    return f"{verdict}, {_beijing(report.timestamp_time)}"


def _validation_data(report: VerificationReport) -> str:
    if not report.validation_data:
        return "无 none"
    if report.archive_timestamp_time is None:
        return "已内嵌，可离线验证 / embedded, verifiable offline"
    stamped = _beijing(report.archive_timestamp_time)
    return f"已内嵌，归档时间戳 {stamped} / embedded, archive timestamp"


def _level(report: VerificationReport) -> str:
    return f"PAdES {report.level}" if report.level else "— （未通过验证 / not established）"


def _modification(level: str | None) -> str:
    if level in (None, "NONE"):
        return "无 none"
    if level == "LTA_UPDATES":
        return "仅长期验证数据 / validation data only (LTA)"
    return f"有 {level}"


def _record(report: VerificationReport, expected_hash: str | None) -> str:
    if expected_hash is None:
        return "未提供，未比对 / not given, not compared"
    return (
        "一致 / matches" if report.content_hash_matches else f"不一致 / DIFFERS ({expected_hash})"
    )
