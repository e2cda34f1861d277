"""``verify-opinion``: exit codes and the report a person reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.opinions.cli import EXIT_INVALID, EXIT_USAGE, EXIT_VALID, verify_opinion_command
from server.opinions.content import OpinionContent, content_hash
from server.opinions.signing import SigningMaterial, ensure_dev_signing_material


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
