"""``cloudinspect verify-opinion file.pdf``: check an opinion offline and print a zh/en report."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from server.opinions.content import shanghai_time
from server.opinions.signing import DEV_DIR_NAME, load_certificates
from server.opinions.verify import VerificationReport, verify_pdf

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
_DEV_CA = Path(DEV_DIR_NAME) / "dev-ca.cert.pem"


def verify_opinion_command(
    pdf_path: Path,
    *,
    expected_hash: str | None,
    trust_paths: list[Path],
    data_dir: Path,
    out: Callable[[str], None] = print,
) -> int:
    """Verify ``pdf_path``; exit code 0 valid, 1 not valid, 2 cannot run (file or trust root)."""
    if not pdf_path.is_file():
        out(f"错误：找不到文件 / error: no such file: {pdf_path}")
        return EXIT_USAGE
    paths = trust_paths or [data_dir / _DEV_CA]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        out(f"错误：找不到信任根证书 / error: trust root not found: {', '.join(map(str, missing))}")
        out("请用 --trust 指定签发机关的根证书 / pass the bureau's root certificate with --trust")
        return EXIT_USAGE
    out(f"意见书验证 / Opinion verification: {pdf_path}")
    if trust_paths:
        out(f"信任根 / Trust roots: {', '.join(map(str, paths))}")
    else:
        out(
            f"信任根 / Trust roots: 开发用 CA（仅限开发环境）/ the development CA "
            f"(development only): {paths[0]}"
        )
    _quiet_pyhanko()  # its loggers print tracebacks for every expected failure
    report = verify_pdf(
        pdf_path.read_bytes(), load_certificates(paths), expected_hash=expected_hash
    )
    for line in report_lines(report, expected_hash=expected_hash):
        out(line)
    return EXIT_VALID if report.ok else EXIT_INVALID


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
