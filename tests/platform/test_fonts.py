"""The embeddable CJK TrueType font used by every PDF."""

from __future__ import annotations

import pytest

from server.platform import fonts


def test_font_is_a_truetype_collection() -> None:
    path = fonts.cjk_font_path()
    assert path.read_bytes()[:4] == b"ttcf"


def test_font_comes_from_the_pypi_package_when_installed() -> None:
    assert "paperang_p2_fonts_cjk" in str(fonts.cjk_font_path())


def test_registering_twice_returns_the_same_name() -> None:
    assert fonts.register_cjk_font() == fonts.register_cjk_font() == fonts.FONT_NAME


def test_missing_font_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "_package_font", lambda: None)
    monkeypatch.setattr(fonts, "DEBIAN_FONTS", ())
    with pytest.raises(fonts.CjkFontNotFound, match="pip install paperang-p2-fonts-cjk"):
        fonts.cjk_font_path()


def test_characters_the_font_cannot_draw_are_substituted() -> None:
    assert fonts.pdf_text("冷藏0–8 ℃") == "冷藏0–8 °C"
