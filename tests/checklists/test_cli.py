"""``cloudinspect catalog validate``."""

from __future__ import annotations

from pathlib import Path

import pytest

from checklists.cli import validate_command
from tests.checklists.helpers import edit


def test_valid_catalogue_exits_zero_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_command(None) == 0
    out = capsys.readouterr().out
    assert "目录有效" in out
    assert "2026.11-1" in out
    assert "6 matters" in out


def test_broken_catalogue_exits_one_with_file_and_line(
    catalogue_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = edit(catalogue_copy, "food_retail.yaml", "  - ref: SH-06\n", "  - ref: SH-99\n")
    assert validate_command(catalogue_copy) == 1
    err = capsys.readouterr().err
    assert f"food_retail.yaml:{line}: 未知的共用检查项 SH-99 / unknown shared item SH-99" in err


def test_missing_directory_exits_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_command(tmp_path / "nowhere") == 1
    assert "catalogue directory not found" in capsys.readouterr().err
