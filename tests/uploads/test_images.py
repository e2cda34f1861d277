"""The photo pipeline on a hostile-file corpus generated here: each refused or neutralised."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from PIL import Image

from server.uploads.images import FileRefused, process_photo, sniff
from tests.images import HOSTILE, jpeg, png


@pytest.mark.parametrize(
    ("builder", "declared", "reason"),
    [pytest.param(b, d, r, id=n) for n, b, d, r in HOSTILE],
)
def test_hostile_file_is_refused_with_a_reason(
    builder: Callable[[], bytes], declared: str, reason: str
) -> None:
    with pytest.raises(FileRefused) as refused:
        process_photo(builder(), declared)

    assert refused.value.reason == reason
    assert refused.value.status == 422
    assert refused.value.message_zh
    assert refused.value.message_en


def test_gps_and_capture_time_are_read_then_stripped_from_both_copies() -> None:
    result = process_photo(jpeg((2400, 1800), gps=True), "image/jpeg")

    assert result.gps is not None
    assert result.gps.lat == pytest.approx(31.2304, abs=1e-4)
    assert result.gps.lng == pytest.approx(121.4737, abs=1e-4)
    assert result.gps.accuracy_m == 8.0
    assert result.captured_at == datetime(2025, 5, 1, 2, 20, 30, tzinfo=UTC)  # 10:20 in Beijing
    for copy, side in ((result.display, 1600), (result.thumbnail, 320)):
        image = Image.open(io.BytesIO(copy))
        assert image.format == "JPEG"
        assert max(image.size) == side
        assert len(image.getexif()) == 0
        assert "exif" not in image.info
        assert b"Exif" not in copy[:200]


@pytest.mark.parametrize(
    ("offset", "utc"),
    [
        pytest.param(None, datetime(2025, 5, 1, 2, 20, 30, tzinfo=UTC), id="no_offset_is_beijing"),
        pytest.param("+02:00", datetime(2025, 5, 1, 8, 20, 30, tzinfo=UTC), id="plus_two"),
        pytest.param("-05:00", datetime(2025, 5, 1, 15, 20, 30, tzinfo=UTC), id="minus_five"),
    ],
)
def test_exif_capture_time_is_read_with_its_offset(offset: str | None, utc: datetime) -> None:
    assert process_photo(jpeg(offset=offset), "image/jpeg").captured_at == utc


def test_photo_without_exif_time_has_no_capture_time() -> None:
    assert process_photo(jpeg(taken=None), "image/jpeg").captured_at is None


def test_small_photo_is_not_upscaled() -> None:
    result = process_photo(jpeg((800, 600)), "image/jpeg")

    assert Image.open(io.BytesIO(result.display)).size == (800, 600)
    assert result.gps is None


def test_transparent_png_is_flattened_on_white() -> None:
    result = process_photo(png(), "image/png")

    image = Image.open(io.BytesIO(result.display))
    assert image.mode == "RGB"
    assert image.getpixel((0, 0))[0] > 100  # half-transparent green on white, not on black


def test_webp_is_accepted() -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), "blue").save(out, "WEBP")

    result = process_photo(out.getvalue(), "image/webp")

    assert result.ext == "webp"
    assert Image.open(io.BytesIO(result.thumbnail)).format == "JPEG"


def test_camera_padding_after_the_end_marker_is_tolerated() -> None:
    result = process_photo(jpeg() + b"\x00" * 512, "image/jpeg")

    assert result.width == 800


def test_a_multi_picture_jpeg_is_one_image() -> None:
    """MPF: phones append a second complete JPEG (preview or depth map) after the first."""
    result = process_photo(jpeg() + jpeg((160, 120)), "image/jpeg")

    assert result.width == 800


def test_orientation_is_applied_before_metadata_is_dropped() -> None:
    image = Image.new("RGB", (400, 200), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)

    result = process_photo(out.getvalue(), "image/jpeg")

    assert (result.width, result.height) == (200, 400)


def test_an_implausible_capture_time_is_ignored() -> None:
    image = Image.new("RGB", (64, 64))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "1980:01:01 00:00:00"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)

    assert process_photo(out.getvalue(), "image/jpeg").captured_at is None


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic", "image/heic"),
        (b"\x00\x00\x00\x18ftypisom", "video/mp4"),
        (b"\x1a\x45\xdf\xa3", "video/webm"),
        (b"  <svg>", "image/svg+xml"),
        (b"hello", None),
    ],
)
def test_sniff_trusts_bytes_not_names(data: bytes, mime: str | None) -> None:
    assert sniff(data) == mime
