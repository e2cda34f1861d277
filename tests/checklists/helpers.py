"""Helpers for editing a copy of the catalogue in tests."""

from __future__ import annotations

from pathlib import Path


def edit(directory: Path, name: str, old: str, new: str) -> int:
    """Replace ``old`` (which must occur once) by ``new`` in a file; return the line of ``new``."""
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {name}"
    before = text.index(old)
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text[:before].count("\n") + 1
