"""A hostile-file corpus generated in memory (nothing binary is committed): reliability #18.

Each entry is a file a phone (or someone pretending to be one) could send, with the type it
is announced as. Built from small real images so every run makes the same kinds of file.
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from tests.images import SVG, jpeg, jpeg_with_comment, png, png_bomb, zip_payload


@dataclass(frozen=True, slots=True)
class Hostile:
    name: str
    build: Callable[[], bytes]
    declared: str


def _image(
    fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **params: object
) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 90).save(out, fmt, **params)
    return out.getvalue()


def _noise_png() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((300, 300), 60).save(out, "PNG")
    return out.getvalue()


def _exif_jpeg(fill: Callable[[Image.Exif], None]) -> bytes:
    exif = Image.Exif()
    fill(exif)
    out = io.BytesIO()
    Image.new("RGB", (320, 240), "navy").save(out, "JPEG", exif=exif)
    return out.getvalue()


def _gps(lat: tuple[IFDRational, ...], ref: str = "N") -> Callable[[Image.Exif], None]:
    def fill(exif: Image.Exif) -> None:
        lng = (IFDRational(121), IFDRational(0), IFDRational(0))
        exif[0x8825] = {1: ref, 2: lat, 3: "E", 4: lng}

    return fill


def _taken(value: str, offset: str | None = None) -> Callable[[Image.Exif], None]:
    def fill(exif: Image.Exif) -> None:
        exif.get_ifd(0x8769)[36867] = value
        if offset is not None:
            exif.get_ifd(0x8769)[0x9011] = offset

    return fill


def _tag(tag: int, value: object) -> Callable[[Image.Exif], None]:
    def fill(exif: Image.Exif) -> None:
        exif[tag] = value

    return fill


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims ``width``×``height``."""
    data = bytearray(jpeg((64, 48), taken=None))
    at = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with_text(text: bytes) -> bytes:
    data = png((32, 32), "RGB")
    return data[:33] + _png_chunk(b"tEXt", b"Comment\x00" + text) + data[33:]


def _jpeg_with_xmp() -> bytes:
    data = jpeg((64, 48), taken=None)
    xmp = (
        b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'>"
        b"<exif:GPSLatitude>31,13.8N</exif:GPSLatitude></x:xmpmeta>"
    )
    segment = b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp
    return data[:2] + segment + data[2:]


def _nested_zip(depth: int = 5) -> bytes:
    payload = b"inner"
    for level in range(depth):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"level{level}.zip", payload)
        payload = out.getvalue()
    return payload


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\x00" * 5_000_000)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
HTML = b"<!doctype html><html><body><script>fetch('/x')</script></body></html>"
R = IFDRational

CORPUS: list[Hostile] = [
    # nothing, or almost nothing
    Hostile("zero_bytes", lambda: b"", "image/jpeg"),
    Hostile("one_byte", lambda: b"\xff", "image/jpeg"),
    Hostile("jpeg_magic_only", lambda: b"\xff\xd8\xff", "image/jpeg"),
    Hostile("png_magic_only", lambda: b"\x89PNG\r\n\x1a\n", "image/png"),
    # truncated
    Hostile("jpeg_cut_at_100", lambda: jpeg()[:100], "image/jpeg"),
    Hostile("jpeg_cut_at_half", lambda: jpeg()[: len(jpeg()) // 2], "image/jpeg"),
    Hostile("jpeg_without_eoi", lambda: jpeg()[:-2], "image/jpeg"),
    Hostile("png_header_only", lambda: png()[:33], "image/png"),
    Hostile("png_cut_at_half", lambda: _noise_png()[: len(_noise_png()) // 2], "image/png"),
    Hostile("png_without_iend", lambda: png()[:-12], "image/png"),
    Hostile("webp_cut", lambda: _image("WEBP", (200, 200))[:60], "image/webp"),
    # wrong magic for the declared type
    Hostile("png_declared_jpeg", lambda: png(), "image/jpeg"),
    Hostile("jpeg_declared_png", lambda: jpeg(), "image/png"),
    Hostile("jpeg_declared_webp", lambda: jpeg(), "image/webp"),
    Hostile("gif_declared_jpeg", lambda: _image("GIF"), "image/jpeg"),
    Hostile("bmp_declared_jpeg", lambda: _image("BMP"), "image/jpeg"),
    Hostile("tiff_declared_jpeg", lambda: _image("TIFF"), "image/jpeg"),
    Hostile("ico_declared_png", lambda: _image("ICO", (32, 32)), "image/png"),
    Hostile("heic_brand_as_jpeg", lambda: b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40, "image/jpeg"),
    Hostile("heic_declared", lambda: b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40, "image/heic"),
    Hostile("gif_declared_gif", lambda: _image("GIF"), "image/gif"),
    # not images at all
    Hostile("html_as_jpg", lambda: HTML, "image/jpeg"),
    Hostile("svg_with_script_as_png", lambda: SVG, "image/png"),
    Hostile("svg_as_svg", lambda: SVG, "image/svg+xml"),
    Hostile("pdf_as_photo", lambda: PDF, "image/jpeg"),
    Hostile("zip_as_photo", zip_payload, "image/jpeg"),
    Hostile("nested_zip_as_photo", _nested_zip, "image/png"),
    Hostile("zip_bomb_as_photo", _zip_bomb, "image/jpeg"),
    Hostile("gzip_as_photo", lambda: gzip.compress(b"\x00" * 100_000), "image/jpeg"),
    Hostile("elf_as_photo", lambda: b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "image/jpeg"),
    Hostile("windows_exe_as_photo", lambda: b"MZ\x90\x00" + b"\x00" * 200, "image/png"),
    Hostile("shell_script_as_photo", lambda: b"#!/bin/sh\nrm -rf /\n", "image/jpeg"),
    Hostile("json_as_photo", lambda: b'{"lat": 31.2, "lng": 121.4}', "image/webp"),
    Hostile("utf16_text_as_photo", lambda: "照片".encode("utf-16") * 50, "image/jpeg"),
    # polyglots
    Hostile("jpeg_then_zip", lambda: jpeg() + zip_payload(), "image/jpeg"),
    Hostile("jpeg_then_html", lambda: jpeg() + HTML, "image/jpeg"),
    Hostile("jpeg_then_pdf", lambda: jpeg() + PDF, "image/jpeg"),
    Hostile("png_then_zip", lambda: png() + zip_payload(), "image/png"),
    Hostile("gifar", lambda: _image("GIF") + zip_payload(), "image/jpeg"),
    Hostile("pdf_then_jpeg", lambda: PDF + jpeg(), "image/jpeg"),
    Hostile("script_in_jpeg_comment", lambda: jpeg_with_comment(b"<script>x()</script>"),
            "image/jpeg"),
    Hostile("html_in_png_text_chunk", lambda: _png_with_text(b"<html><script>x()</script>"),
            "image/png"),
    # decompression bombs: huge dimensions in a small file
    Hostile("png_50000x50000", lambda: png_bomb(50_000, 50_000), "image/png"),
    Hostile("png_8000x6000", lambda: png_bomb(8000, 6000), "image/png"),
    Hostile("png_20000x1", lambda: png_bomb(20_000, 1), "image/png"),
    Hostile("png_1x20000", lambda: png_bomb(1, 20_000), "image/png"),
    Hostile("jpeg_header_65500x65500", lambda: _jpeg_claiming(65_500, 65_500), "image/jpeg"),
    Hostile("jpeg_header_0x0", lambda: _jpeg_claiming(0, 0), "image/jpeg"),
    # EXIF with absurd values (accepted and re-encoded clean, or refused: never a 5xx)
    Hostile("exif_latitude_999", lambda: _exif_jpeg(_gps((R(999), R(0), R(0)))), "image/jpeg"),
    Hostile("exif_latitude_zero_denominator",
            lambda: _exif_jpeg(_gps((R(1, 0), R(0), R(0)))), "image/jpeg"),
    Hostile("exif_latitude_bad_ref", lambda: _exif_jpeg(_gps((R(31), R(0), R(0)), "Q")),
            "image/jpeg"),
    Hostile("exif_taken_year_9999", lambda: _exif_jpeg(_taken("9999:12:31 23:59:59")),
            "image/jpeg"),
    Hostile("exif_taken_year_0", lambda: _exif_jpeg(_taken("0000:00:00 00:00:00")), "image/jpeg"),
    Hostile("exif_taken_garbage", lambda: _exif_jpeg(_taken("not a date at all")), "image/jpeg"),
    Hostile("exif_offset_plus_99", lambda: _exif_jpeg(_taken("2025:05:01 10:00:00", "+99:99")),
            "image/jpeg"),
    Hostile("exif_orientation_99", lambda: _exif_jpeg(_tag(0x0112, 99)), "image/jpeg"),
    Hostile("exif_huge_comment", lambda: _exif_jpeg(_tag(0x010E, "x" * 60_000)), "image/jpeg"),
    Hostile("xmp_with_gps", _jpeg_with_xmp, "image/jpeg"),
    # odd but genuine images (accepted and re-encoded)
    Hostile("cmyk_jpeg", lambda: _image("JPEG", mode="CMYK"), "image/jpeg"),
    Hostile("progressive_jpeg", lambda: _image("JPEG", progressive=True), "image/jpeg"),
    Hostile("one_pixel_png", lambda: _image("PNG", (1, 1)), "image/png"),
    Hostile("sixteen_bit_png", lambda: _image("PNG", (40, 40), "I;16"), "image/png"),
    Hostile("palette_png", lambda: _image("PNG", (40, 40), "P"), "image/png"),
    Hostile("lossless_webp", lambda: _image("WEBP", (40, 40), lossless=True), "image/webp"),
    # clips that are not clips
    Hostile("garbage_mp4", lambda: b"\x00\x00\x00\x18ftypisom" + b"\x01" * 4000, "video/mp4"),
    Hostile("garbage_webm", lambda: b"\x1a\x45\xdf\xa3" + b"\x02" * 4000, "video/webm"),
    Hostile("jpeg_declared_mp4", lambda: jpeg(), "video/mp4"),
    Hostile("html_declared_quicktime", lambda: HTML, "video/quicktime"),
]  # fmt: skip
