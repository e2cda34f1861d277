"""The opinion PDF: every part printed, font embedded, QR code readable, output deterministic."""

from __future__ import annotations

import io
import re

import cv2
import numpy as np
import pypdf
import pytest

from server.devtools.samples import sample_photo_jpeg
from server.opinions.content import OpinionContent, content_hash
from server.opinions.pdf import render_opinion_pdf


def _text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


@pytest.fixture(scope="module")
def text(pdf: bytes) -> str:
    return _text(pdf)


@pytest.fixture(scope="module")
def compact(text: str) -> str:
    """The text without white space: long hashes and titles wrap inside table cells."""
    return re.sub(r"\s+", "", text)


def test_prints_case_identity(content: OpinionContent, text: str) -> None:
    for value in (content.case_number, content.application_no, content.applicant, "张明", "李华"):
        assert value in text


def test_prints_every_item_title(content: OpinionContent, compact: str) -> None:
    for item in content.items:
        # ℃ is drawn as °C (the font has no glyph for it)
        assert re.sub(r"\s+", "", item.title.replace("℃", "°C")) in compact


def test_prints_conclusion_and_rectification(content: OpinionContent, text: str) -> None:
    assert content.conclusion.text_zh in text
    assert "已整改，复核符合" in text


def test_prints_photo_and_segment_hashes(content: OpinionContent, compact: str) -> None:
    for photo in content.photos:
        assert photo.sha256 in compact
    for segment in content.segments:
        assert segment.sha256 in compact


def test_prints_verification_code_and_content_hash(content: OpinionContent, compact: str) -> None:
    assert content.verification_code in compact
    assert content_hash(content) in compact


def test_times_are_shown_in_shanghai(text: str) -> None:
    assert "2025-03-14 09:30" in text  # 01:30 UTC


def test_cjk_font_is_embedded(pdf: bytes) -> None:
    assert b"/FontFile2" in pdf


def test_content_hash_in_metadata(content: OpinionContent, pdf: bytes) -> None:
    info = pypdf.PdfReader(io.BytesIO(pdf)).metadata
    assert info is not None
    assert f"content-sha256:{content_hash(content)}" in str(info.get("/Keywords"))


def test_qr_code_decodes_to_verification_url(content: OpinionContent, pdf: bytes) -> None:
    last_page = pypdf.PdfReader(io.BytesIO(pdf)).pages[-1]
    detector = cv2.QRCodeDetector()
    decoded = []
    for image in last_page.images:
        pixels = np.array(image.image.convert("L"))
        value, _, _ = detector.detectAndDecode(pixels)
        decoded.append(value)
    assert content.verification_url in decoded


def test_every_photo_is_embedded(photos: dict[str, bytes], pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert sum(len(page.images) for page in reader.pages) == len(photos) + 1  # + the QR code


def test_full_size_photo_is_downscaled(content: OpinionContent) -> None:
    big = {"P01": sample_photo_jpeg(1, size=(1600, 1200))}
    reader = pypdf.PdfReader(io.BytesIO(render_opinion_pdf(content, big)))
    sizes = [img.image.size for page in reader.pages for img in page.images]
    assert (800, 600) in sizes


def test_same_input_gives_identical_bytes(
    content: OpinionContent, photos: dict[str, bytes], pdf: bytes
) -> None:
    assert render_opinion_pdf(content, photos) == pdf


def test_missing_photo_is_marked_not_fatal(content: OpinionContent) -> None:
    assert "照片未提供" in _text(render_opinion_pdf(content, {}))


def test_correction_names_the_version_it_replaces(
    content: OpinionContent, photos: dict[str, bytes]
) -> None:
    correction = content.model_copy(update={"version": 2, "previous_version_id": "OP-OLD-1"})
    assert "OP-OLD-1" in _text(render_opinion_pdf(correction, photos))
