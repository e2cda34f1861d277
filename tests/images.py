"""Photos and hostile files made on the spot for tests: camera JPEGs, PNGs, bombs, polyglots."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
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


# --- scenes for photo quality (media/quality.py, bench/photo_quality.py) -----------------------

SCENE_SIZE = (1600, 1200)
QUALITY_CLASSES = ("sharp", "blurred", "too_dark", "overexposed")


def scene(seed: int, size: tuple[int, int] = SCENE_SIZE) -> np.ndarray[Any, Any]:
    """A sharp textured RGB scene (a shop wall: shapes, lines, labels, sensor noise)."""
    rng = np.random.default_rng(seed)
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    base = 90 + 70 * xs / width + 30 * ys / height
    picture = np.dstack([base, base * 0.95, base * 0.9]).astype(np.uint8)
    for _ in range(40):
        colour = tuple(int(c) for c in rng.integers(20, 235, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(40, width // 4)), int(rng.integers(40, height // 4))
        match int(rng.integers(0, 3)):
            case 0:
                cv2.rectangle(picture, (x, y), (x + w, y + h), colour, -1)
            case 1:
                cv2.circle(picture, (x, y), w // 3, colour, int(rng.integers(2, 8)))
            case _:
                cv2.line(picture, (x, y), (x + w, y + h), colour, int(rng.integers(1, 5)))
    for _ in range(12):
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        where = (int(rng.integers(0, width - 300)), int(rng.integers(40, height)))
        cv2.putText(picture, f"NO.{seed}-{where[0]}", where, 0, 1.5, colour, 3)
    noise = rng.normal(0, 3, picture.shape)
    return np.clip(picture + noise, 0, 255).astype(np.uint8)


def blurred(picture: np.ndarray[Any, Any], sigma: float = 3.0) -> np.ndarray[Any, Any]:
    """Out of focus or a shaking hand: a Gaussian blur of ``sigma`` pixels."""
    return cv2.GaussianBlur(picture, (0, 0), sigma)


def darkened(picture: np.ndarray[Any, Any], gain: float = 0.2) -> np.ndarray[Any, Any]:
    """Underexposed: the light scaled by ``gain``, then the sensor's noise on top."""
    noise = np.random.default_rng(1).normal(0, 2, picture.shape)
    return np.clip(picture * gain + noise, 0, 255).astype(np.uint8)


def overexposed(picture: np.ndarray[Any, Any], gain: float = 2.5) -> np.ndarray[Any, Any]:
    """Burnt out: the light scaled by ``gain`` and an offset, clipped at white."""
    return np.clip(picture.astype(np.float64) * gain + 60, 0, 255).astype(np.uint8)


def encoded(picture: np.ndarray[Any, Any], fmt: str = "JPEG", quality: int = 90) -> bytes:
    """The RGB array as a JPEG (or PNG) file, as a phone would upload it."""
    out = io.BytesIO()
    Image.fromarray(picture).save(out, fmt, quality=quality)
    return out.getvalue()


def quality_set(
    seeds: range = range(8),
) -> list[tuple[str, str, np.ndarray[Any, Any]]]:
    """(class, variant, picture) for each seed: sharp, blurred, too dark and overexposed kinds."""
    out: list[tuple[str, str, np.ndarray[Any, Any]]] = []
    for seed in seeds:
        sharp = scene(seed)
        out.append(("sharp", "sharp", sharp))
        out += [("blurred", f"sigma={s}", blurred(sharp, s)) for s in (2.0, 3.0, 5.0)]
        out += [("too_dark", f"gain={g}", darkened(sharp, g)) for g in (0.12, 0.2, 0.3)]
        out += [("overexposed", f"gain={g}", overexposed(sharp, g)) for g in (2.2, 2.5, 3.0)]
    return out
