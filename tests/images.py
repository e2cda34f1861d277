"""Photos and hostile files made on the spot for tests: camera JPEGs, PNGs, bombs, polyglots."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from server.uploads.images import MAX_PHOTO_BYTES

SHANGHAI = (31.2304, 121.4737)


def jpeg(
    size: tuple[int, int] = (800, 600),
    *,
    gps: bool = False,
    quality: int = 85,
    taken: str | None = "2025:05:01 10:20:30",
    offset: str | None = None,
) -> bytes:
    """A camera-like JPEG with EXIF capture time (``taken``, None for none; ``offset`` its
    OffsetTimeOriginal) and optionally GPS (People's Square)."""
    image = Image.effect_noise(size, 40).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "TestPhone"
    exif[0x0112] = 1
    if taken is not None:
        exif.get_ifd(0x8769)[36867] = taken
    if offset is not None:
        exif.get_ifd(0x8769)[0x9011] = offset
    if gps:
        exif[0x8825] = {
            1: "N",
            2: (IFDRational(31), IFDRational(13), IFDRational(4944, 100)),
            3: "E",
            4: (IFDRational(121), IFDRational(28), IFDRational(2532, 100)),
            31: IFDRational(8),
        }
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=quality)
    return out.getvalue()


def png(size: tuple[int, int] = (200, 100), mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 200, 30, 128) if mode == "RGBA" else 0).save(out, "PNG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bomb(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width``×``height`` (rows of zeros compress ~1000:1)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = compressor.compress(row * 64) + compressor.flush()  # only the first rows
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def zip_payload() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.exe", b"MZ\x90\x00" * 64)
    return out.getvalue()


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)


def jpeg_with_comment(comment: bytes) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(out, "JPEG", comment=comment)
    return out.getvalue()


# (name, builder, declared type, expected reason)
HOSTILE: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("oversize", lambda: jpeg() + b"\x00" * (MAX_PHOTO_BYTES + 1), "image/jpeg", "too_large"),
    ("png_declared_as_jpeg", png, "image/jpeg", "type_mismatch"),
    ("text_file", lambda: b"just some notes\n" * 10, "image/jpeg", "type_mismatch"),
    ("svg_with_script", lambda: SVG, "image/png", "type_mismatch"),
    ("html_page", lambda: b"<!doctype html><html><script>x()</script></html>", "image/jpeg",
     "type_mismatch"),
    ("heic", lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/jpeg",
     "heic_not_supported"),
    ("truncated_jpeg", lambda: jpeg()[:5000], "image/jpeg", "truncated"),
    ("truncated_png", lambda: png((400, 400), "RGB")[:-30], "image/png", "truncated"),
    ("pixel_bomb_50000x50000", lambda: png_bomb(50_000, 50_000), "image/png", "too_many_pixels"),
    ("pixels_over_our_cap_8000x6000", lambda: png_bomb(8000, 6000), "image/png",
     "too_many_pixels"),
    ("one_pixel_high_strip", lambda: png_bomb(20_000, 1), "image/png", "too_many_pixels"),
    ("jpeg_plus_zip", lambda: jpeg() + zip_payload(), "image/jpeg", "trailing_data"),
    ("jpeg_plus_html", lambda: jpeg() + b"<html><script>alert(1)</script></html>",
     "image/jpeg", "embedded_markup"),
    ("jpeg_plus_text", lambda: jpeg() + b"hello world" * 1000, "image/jpeg", "trailing_data"),
    ("png_plus_zip", lambda: png() + zip_payload(), "image/png", "trailing_data"),
    ("script_in_jpeg_comment", lambda: jpeg_with_comment(b"<script>alert(1)</script>"),
     "image/jpeg", "embedded_markup"),
    ("garbage_after_jpeg_header", lambda: b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x13" * 500,
     "image/jpeg", "truncated"),
]  # fmt: skip
