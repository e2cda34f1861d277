"""Checks an uploaded photo and makes the copies we serve: bytes in, a verdict and bytes out.

Pure (no storage, no database). The order matters: the cheap structural checks (magic bytes,
declared type, the file's own end marker, script signatures) run before Pillow decodes a pixel,
and the pixel count is checked from the header before the image is loaded. Derived copies are
re-encoded from pixels into a fresh JPEG, so no EXIF, GPS, comment or appended payload survives.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from PIL import Image, ImageOps

from media.quality import PhotoQuality, assess_encoded
from server.errors import BadInput
from server.platform.time import CHINA_TZ

MAX_PHOTO_BYTES = 15 * 1024 * 1024
# Below Pillow's own bomb threshold (89 MP warning, 179 MP error): a 12 MP phone photo decodes
# to 48 MB of RGBA; 40 MP keeps one decode near 160 MB.
MAX_PIXELS = 40_000_000
MAX_SIDE = 12_000
DISPLAY_SIDE = 1600
THUMBNAIL_SIDE = 320
DISPLAY_QUALITY = 85
THUMBNAIL_QUALITY = 80
# Cameras pad some JPEGs after the end marker with zeros or 0xFF; more than this is a payload.
MAX_PADDING = 4096


@dataclass(frozen=True, slots=True)
class PhotoFormat:
    mime: str
    ext: str
    pillow: str  # the only decoder Image.open may use for it


PHOTO_FORMATS = {
    "image/jpeg": PhotoFormat("image/jpeg", "jpg", "JPEG"),
    "image/png": PhotoFormat("image/png", "png", "PNG"),
    "image/webp": PhotoFormat("image/webp", "webp", "WEBP"),
}

# What a refused file turned out to be, for the message (never decoded).
_KNOWN_OTHERS = {
    "image/jpeg": ("JPEG 照片", "a JPEG photo"),
    "image/png": ("PNG 图片", "a PNG image"),
    "image/webp": ("WebP 图片", "a WebP image"),
    "image/heic": ("HEIC 照片", "a HEIC photo"),
    "image/gif": ("GIF 动图", "a GIF"),
    "image/svg+xml": ("SVG/HTML 文本", "SVG/HTML text"),
    "application/pdf": ("PDF 文档", "a PDF document"),
    "application/zip": ("压缩包", "a ZIP archive"),
    "video/mp4": ("视频", "a video"),
    "video/webm": ("视频", "a video"),
}
_SCRIPT_SIGNATURES = (b"<script", b"<html", b"<svg", b"<?php", b"<iframe", b"<body", b"<!doctype")


class FileRefused(BadInput):
    """An uploaded file we will not keep; ``reason`` is a stable code the client can branch on."""

    code = "file_refused"

    def __init__(self, reason: str, message_zh: str, message_en: str, **extra: Any) -> None:
        super().__init__(message_zh, message_en, reason=reason, **extra)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GpsFix:
    lat: float
    lng: float
    accuracy_m: float | None = None


@dataclass(frozen=True, slots=True)
class ProcessedPhoto:
    """A photo that passed every check, with its metadata and its two clean copies."""

    mime: str
    ext: str
    width: int  # after applying the EXIF orientation
    height: int
    captured_at: datetime | None  # EXIF DateTimeOriginal in UTC, when present and plausible
    gps: GpsFix | None
    had_exif: bool
    display: bytes  # JPEG, longest side <= DISPLAY_SIDE, no metadata
    thumbnail: bytes  # JPEG, longest side <= THUMBNAIL_SIDE, no metadata
    quality: PhotoQuality  # measured on the display copy: what the inspectors will look at


# --- sniffing ------------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The type the bytes say they are (magic numbers), whatever name or header came with them."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.startswith(b"%PDF"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif"):
            return "image/heic"
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<", b"<?xml")):
        return "image/svg+xml"
    return None


def refuse_type(declared: str, actual: str | None) -> FileRefused:
    if actual == "image/heic":
        return FileRefused(
            "heic_not_supported",
            "暂不支持 HEIC 格式照片。请在手机“设置-相机-格式”中选择“兼容性最佳”后重拍，"
            "或将照片导出为 JPEG 后上传。",
            "HEIC photos are not accepted. Set the camera to 'Most Compatible' (JPEG) and "
            "retake the photo, or export it as JPEG before uploading.",
        )
    what_zh, what_en = _KNOWN_OTHERS.get(actual or "", ("无法识别的文件", "an unrecognised file"))
    return FileRefused(
        "type_mismatch",
        f"文件内容是{what_zh}，与声明的类型 {declared} 不符。请上传手机相机拍摄的 JPEG、PNG 或 "
        "WebP 照片。",
        f"The file is {what_en}, not the declared {declared}. Upload a JPEG, PNG or WebP photo "
        "taken with the phone camera.",
        declared=declared,
        detected=actual,
    )


# --- structure: where the image ends ---------------------------------------------------------


def _truncated() -> FileRefused:
    return FileRefused(
        "truncated",
        "照片文件不完整（可能上传中断），请重新上传。",
        "The photo file is incomplete (the upload may have been cut off); upload it again.",
    )


def _jpeg_walk(data: bytes, start: int = 0) -> tuple[int, int]:
    """(offset past the EOI marker, offset of the first scan) of the JPEG stream at ``start``."""
    pos = start + 2
    size = len(data)
    first_scan = 0
    while True:
        while pos < size and data[pos] != 0xFF:  # entropy-coded data after SOS
            pos += 1
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            raise _truncated()
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            return pos, first_scan or pos
        if marker == 0x00 or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue  # stuffed byte or restart marker inside scan data
        if pos + 2 > size:
            raise _truncated()
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            raise _corrupt()
        if marker == 0xDA and not first_scan:
            first_scan = pos
        pos += length


def _png_walk(data: bytes) -> tuple[int, bytes]:
    pos = 8
    metadata = bytearray()
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind != b"IDAT":
            metadata += data[pos + 4 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IEND":
            if pos > len(data):
                raise _truncated()
            return pos, bytes(metadata)
    raise _truncated()


def _webp_walk(data: bytes) -> tuple[int, bytes]:
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = 8 + riff_size + (riff_size & 1)
    if end > len(data):
        raise _truncated()
    pos = 12
    metadata = bytearray()
    while pos + 8 <= end:
        kind = data[pos : pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        if kind not in (b"VP8 ", b"VP8L", b"ALPH", b"ANMF"):
            metadata += data[pos : pos + 8 + length]
        pos += 8 + length + (length & 1)
    return end, bytes(metadata)


def _structure(data: bytes, mime: str) -> tuple[int, bytes]:
    """Where the image ends, and its non-pixel bytes (headers, metadata chunks)."""
    if mime == "image/jpeg":
        end, first_scan = _jpeg_walk(data)
        metadata = data[:first_scan]
        # Multi-picture JPEGs (MPF: depth maps, previews) append further complete JPEGs.
        while data.startswith(b"\xff\xd8\xff", end):
            start = end
            end, first_scan = _jpeg_walk(data, start)
            metadata += data[start:first_scan]
        return end, metadata
    if mime == "image/png":
        return _png_walk(data)
    return _webp_walk(data)


def _check_trailing(data: bytes, end: int) -> None:
    trailer = data[end:]
    if trailer and (len(trailer) > MAX_PADDING or trailer.strip(b"\x00\xff")):
        raise FileRefused(
            "trailing_data",
            "照片文件末尾附带了其他数据（可能是“动态照片”或被改动过的文件）。请关闭相机的"
            "“动态照片/实况”后重拍，或截图后上传。",
            "The photo has extra data after the image (a motion photo, or an altered file). "
            "Turn off motion/live photos and retake it, or upload a screenshot.",
            trailing_bytes=len(trailer),
        )


def _check_no_script(data: bytes) -> None:
    """Markup in headers, metadata or after the end: pixel data is skipped (random bytes)."""
    lowered = data.lower()
    for signature in _SCRIPT_SIGNATURES:
        if signature in lowered:
            raise FileRefused(
                "embedded_markup",
                "照片文件中夹带了网页或脚本代码，已拒收。请直接上传相机拍摄的原始照片。",
                "The photo contains web page or script code and was refused. Upload the photo "
                "straight from the camera.",
                signature=signature.decode(),
            )


# --- decoding ------------------------------------------------------------------------------


def _corrupt() -> FileRefused:
    return FileRefused(
        "corrupt",
        "照片文件已损坏，无法打开，请重新拍摄或重新上传。",
        "The photo is damaged and cannot be opened; retake or re-upload it.",
    )


def _too_many_pixels(width: int, height: int) -> FileRefused:
    return FileRefused(
        "too_many_pixels",
        f"照片尺寸过大（{width}×{height} 像素，上限 {MAX_PIXELS // 1_000_000} 百万像素、"
        f"单边 {MAX_SIDE} 像素）。请用相机的普通模式拍摄（约 1200 万像素）后上传。",
        f"The photo is too large ({width}x{height} pixels; the limit is "
        f"{MAX_PIXELS // 1_000_000} MP and {MAX_SIDE} px per side). Use the camera's standard "
        "mode (about 12 MP).",
        width=width,
        height=height,
    )


@contextmanager
def _bomb_guard() -> Iterator[None]:
    """Pillow's own bomb warning becomes an error; its decode errors become ``corrupt``."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels(0, 0) from exc
        except FileRefused:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError) as exc:
            if "truncated" in str(exc):
                raise _truncated() from exc
            raise _corrupt() from exc


def _decode(data: bytes, fmt: PhotoFormat) -> Image.Image:
    with _bomb_guard():
        image = Image.open(io.BytesIO(data), formats=[fmt.pillow])
        width, height = image.size
        if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE or 0 in image.size:
            raise _too_many_pixels(width, height)
        image.load()  # every byte decoded: truncation and corrupt scans fail here
    return image


# --- EXIF ------------------------------------------------------------------------------------

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_DATETIME_ORIGINAL = 36867
_OFFSET_TIME_ORIGINAL = 36881
_DATETIME = 306


def _degrees(value: Any, ref: Any, positive: str, negative: str) -> float | None:
    """Decimal degrees, or None for a malformed value or a reference that is no hemisphere."""
    try:
        d, m, s = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = d + m / 60 + s / 3600
    if result != result:  # NaN from a 0/0 rational
        return None
    ref_text = ref.decode(errors="replace") if isinstance(ref, bytes) else str(ref or positive)
    hemisphere = ref_text.strip("\x00 ").upper() or positive
    if hemisphere not in (positive, negative):
        return None  # "Q" is no hemisphere: guessing a sign would move the photo
    return -result if hemisphere == negative else result


def read_gps(exif: Image.Exif) -> GpsFix | None:
    """Decimal degrees from the GPS IFD, or None when absent or out of range."""
    gps = exif.get_ifd(_GPS_IFD)
    if not gps:
        return None
    lat = _degrees(gps.get(2), gps.get(1), "N", "S")
    lng = _degrees(gps.get(4), gps.get(3), "E", "W")
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    if lat == 0 and lng == 0:
        return None  # "no fix" written as zeros
    accuracy: float | None
    try:
        accuracy = float(gps[31]) if 31 in gps else None  # GPSHPositioningError, metres
    except (TypeError, ValueError, ZeroDivisionError):
        accuracy = None
    return GpsFix(round(lat, 7), round(lng, 7), accuracy)


def read_captured_at(exif: Image.Exif, now: datetime) -> datetime | None:
    """DateTimeOriginal as UTC; phone-local (China) time when no offset is recorded."""
    sub = exif.get_ifd(_EXIF_IFD)
    raw = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        local = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone: tzinfo = CHINA_TZ  # EXIF times without an offset are phone-local time
    offset = sub.get(_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str) and len(offset.strip()) == 6:
        try:
            sign = -1 if offset.strip()[0] == "-" else 1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        except ValueError:
            zone = CHINA_TZ
    value = local.replace(tzinfo=zone).astimezone(UTC)
    if value.year < 2000 or value > now + timedelta(days=1):
        return None  # an unset or wrong phone clock: the server's time is better evidence
    return value


# --- derived copies --------------------------------------------------------------------------


def _flatten(image: Image.Image) -> Image.Image:
    """RGB pixels on white (transparent PNG/WebP would turn black in a JPEG)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _jpeg(image: Image.Image, side: int, quality: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    # A fresh image carries no info dict: no EXIF, ICC, comment or XMP can leak into the file.
    clean = Image.frombytes("RGB", copy.size, copy.tobytes())
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


# --- the pipeline ------------------------------------------------------------------------------


def check_size(size: int, limit: int = MAX_PHOTO_BYTES) -> None:
    if size > limit:
        mb = limit // (1024 * 1024)
        raise FileRefused(
            "too_large",
            f"照片超过 {mb} MB，请压缩后重新上传（可在相机设置中降低分辨率）。",
            f"The photo is larger than {mb} MB; compress it (or lower the camera resolution) "
            "and upload again.",
            size=size,
            limit=limit,
        )
    if size <= 0:
        raise FileRefused("empty", "文件是空的，请重新选择照片。", "The file is empty.")


def process_photo(data: bytes, declared: str, *, now: datetime | None = None) -> ProcessedPhoto:
    """Validate one photo and derive its display copy and thumbnail; raises ``FileRefused``."""
    check_size(len(data))
    actual = sniff(data)
    fmt = PHOTO_FORMATS.get(declared)
    if fmt is None or actual != declared:
        raise refuse_type(declared, actual)
    try:
        end, metadata = _structure(data, declared)
    except (IndexError, struct.error) as exc:
        raise _truncated() from exc
    _check_no_script(metadata + data[end:])
    _check_trailing(data, end)
    image = _decode(data, fmt)
    exif = image.getexif()
    had_exif = len(exif) > 0
    gps = read_gps(exif)
    captured_at = read_captured_at(exif, now or datetime.now(UTC))
    with _bomb_guard():
        upright = ImageOps.exif_transpose(image)
        flat = _flatten(upright)
        display = _jpeg(flat, DISPLAY_SIDE, DISPLAY_QUALITY)
        thumbnail = _jpeg(flat, THUMBNAIL_SIDE, THUMBNAIL_QUALITY)
    return ProcessedPhoto(
        mime=fmt.mime,
        ext=fmt.ext,
        width=flat.width,
        height=flat.height,
        captured_at=captured_at,
        gps=gps,
        had_exif=had_exif,
        display=display,
        thumbnail=thumbnail,
        quality=assess_encoded(display),
    )
