"""``verify-opinion``: exit codes and the report a person reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.devtools.ca import ensure_dev_signing_material
from server.devtools.tsa import DevTsaServer
from server.opinions.cli import EXIT_INVALID, EXIT_USAGE, EXIT_VALID, verify_opinion_command
from server.opinions.content import OpinionContent, content_hash
from server.opinions.signing import (
    SignatureLevel,
    SignaturePolicy,
    SigningMaterial,
    sign_opinion_pdf,
)
from server.opinions.verify import verify_pdf
from server.platform.time import shanghai_time


@pytest.fixture
def signed_file(tmp_path: Path, signed_pdf: bytes) -> Path:
    path = tmp_path / "opinion.pdf"
    path.write_bytes(signed_pdf)
    return path


def _run(
    path: Path,
    data_dir: Path,
    *,
    expected_hash: str | None = None,
    trust_paths: list[Path] | None = None,
) -> tuple[int, str]:
    lines: list[str] = []
    code = verify_opinion_command(
        path,
        expected_hash=expected_hash,
        trust_paths=trust_paths or [],
        data_dir=data_dir,
        out=lines.append,
    )
    return code, "\n".join(lines)


def test_valid_opinion_exits_zero_trusting_dev_ca(
    signed_file: Path, data_dir: Path, material: SigningMaterial, content: OpinionContent
) -> None:
    code, output = _run(signed_file, data_dir, expected_hash=content_hash(content))
    assert code == EXIT_VALID
    assert "开发用 CA" in output
    assert "VALID" in output
    assert "一致 / matches" in output
    assert "PAdES B-B" in output
    assert "时间戳 / Timestamp:           无 none" in output


def test_explicit_trust_root_is_named(
    signed_file: Path, data_dir: Path, material: SigningMaterial
) -> None:
    code, output = _run(signed_file, data_dir, trust_paths=[material.chain_paths[0]])
    assert code == EXIT_VALID
    assert str(material.chain_paths[0]) in output
    assert "开发用 CA" not in output


def test_tampered_opinion_exits_non_zero(
    signed_file: Path, data_dir: Path, material: SigningMaterial
) -> None:
    data = bytearray(signed_file.read_bytes())
    data[len(data) // 3] ^= 0x01
    signed_file.write_bytes(bytes(data))
    code, output = _run(signed_file, data_dir)
    assert code == EXIT_INVALID
    assert "NOT VALID" in output


def test_hash_differing_from_record_fails(
    signed_file: Path, data_dir: Path, material: SigningMaterial
) -> None:
    code, output = _run(signed_file, data_dir, expected_hash="ab" * 32)
    assert code == EXIT_INVALID
    assert "content hash differs from the record" in output


def test_other_trust_root_reports_untrusted(
    signed_file: Path, data_dir: Path, material: SigningMaterial, tmp_path: Path
) -> None:
    other = ensure_dev_signing_material(tmp_path / "other")
    code, output = _run(signed_file, data_dir, trust_paths=[other.chain_paths[0]])
    assert code == EXIT_INVALID
    assert "not trusted" in output


def test_missing_file_is_a_usage_error(data_dir: Path, tmp_path: Path) -> None:
    code, output = _run(tmp_path / "nope.pdf", data_dir)
    assert code == EXIT_USAGE
    assert "no such file" in output


def test_missing_dev_ca_is_a_usage_error(signed_file: Path, tmp_path: Path) -> None:
    code, output = _run(signed_file, tmp_path / "empty")
    assert code == EXIT_USAGE
    assert "--trust" in output


@pytest.mark.parametrize(("level", "data_line"), [("B-T", "无 none"), ("B-LTA", "归档时间戳")])
def test_report_names_the_level_and_the_timestamp_in_beijing_time(
    tmp_path: Path,
    data_dir: Path,
    pdf: bytes,
    material: SigningMaterial,
    tsa: DevTsaServer,
    level: SignatureLevel,
    data_line: str,
) -> None:
    policy = SignaturePolicy(level=level, tsa_url=tsa.url)
    path = tmp_path / "opinion.pdf"
    path.write_bytes(sign_opinion_pdf(pdf, material, policy, reason="r", location="l"))
    code, output = _run(path, data_dir)
    assert code == EXIT_VALID, output
    assert f"PAdES {level}" in output
    report = verify_pdf(path.read_bytes(), material.trust_roots())
    assert report.timestamp_time is not None
    beijing = shanghai_time(report.timestamp_time, "%Y-%m-%d %H:%M:%S")
    assert f"有效 valid, {beijing}（北京时间 / Beijing time）" in output
    lines = {line.split(":", 1)[0].strip(): line for line in output.splitlines()}
    assert data_line in lines["长期验证数据 / LTV data"]


def test_tampered_opinion_has_no_level(
    signed_file: Path, data_dir: Path, material: SigningMaterial
) -> None:
    data = bytearray(signed_file.read_bytes())
    data[len(data) // 3] ^= 0x01
    signed_file.write_bytes(bytes(data))
    code, output = _run(signed_file, data_dir)
    assert code == EXIT_INVALID
    assert "not established" in output
