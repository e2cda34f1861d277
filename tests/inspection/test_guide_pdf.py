"""The preparation guide as a PDF: key items present, the CJK font embedded, reproducible."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pypdf import PdfReader

from checklists.engine import build_checklist
from checklists.guide import Guide, build_guide
from checklists.loader import load_catalogue
from checklists.schema import Catalogue
from server.inspection.guide_pdf import render_guide_pdf

MATTERS = ["FS", "CY", "XC", "NY", "CB", "GW"]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def full_guide(catalogue: Catalogue, matter: str) -> Guide:
    """The guide for one matter with every one of its scenarios switched on."""
    scenarios = list(catalogue.matter(matter).scenarios)
    return build_guide(build_checklist(catalogue, [matter], scenarios))


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def pdf_fonts(pdf: bytes) -> list[Any]:
    fonts: dict[str, Any] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources: Any = page["/Resources"]
        for ref in resources["/Font"].values():
            font = ref.get_object()
            fonts[font["/BaseFont"]] = font
    return list(fonts.values())


def test_unsupported_language_is_refused(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        render_guide_pdf(full_guide(catalogue, "FS"), lang="fr")


@pytest.mark.parametrize("matter", MATTERS)
def test_pdf_guide_in_chinese_contains_the_key_items(catalogue: Catalogue, matter: str) -> None:
    guide = full_guide(catalogue, matter)
    pdf = render_guide_pdf(guide)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "零基础准备指南" in text
    for step in guide.key_points:
        assert re.sub(r"\s+", "", f"{step.item_id}{step.title}") in text


def test_pdf_guide_embeds_the_cjk_font(catalogue: Catalogue) -> None:
    fonts = pdf_fonts(render_guide_pdf(full_guide(catalogue, "CY")))
    assert fonts
    for font in fonts:
        assert "WenQuanYi" in font["/BaseFont"]
        assert "/FontFile2" in font["/FontDescriptor"]  # TrueType outlines embedded


def test_pdf_draws_degrees_celsius_the_font_can_show(catalogue: Catalogue) -> None:
    text = pdf_text(render_guide_pdf(full_guide(catalogue, "FS")))
    assert "0–8°C" in text
    assert "℃" not in text


def test_pdf_is_reproducible(catalogue: Catalogue) -> None:
    guide = full_guide(catalogue, "XC")
    assert render_guide_pdf(guide) == render_guide_pdf(guide)
