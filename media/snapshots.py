"""Full-resolution snapshots (截图) decoded from the latest GOP, with an evidence watermark.

The relay keeps the packets since the last keyframe; a snapshot decodes them with its own
decoder in a worker thread (never in the event loop, never touching the forwarding path) and
stamps case number, time (Beijing time, as the caller writes it), inspector and GPS onto the JPEG.
Its quality (blurred, too dark, overexposed: ``media.quality``) is measured on the decoded
picture before the watermark, whose sharp text would otherwise count as detail.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from media.passthrough import copy_packet
from media.quality import PhotoQuality, assess

DECODERS = {"vp8": "libvpx", "h264": "h264"}


class SnapshotError(RuntimeError):
    """No decodable picture yet (no keyframe since the publisher joined)."""


@dataclass(frozen=True)
class Watermark:
    """What is stamped on a snapshot; `font_path` is a TrueType font with CJK glyphs."""

    case_number: str
    inspector: str
    taken_at: datetime
    taken_at_local: str  # ``taken_at`` as people read it, written by the caller (Beijing time)
    gps: tuple[float, float] | None = None
    font_path: Path | None = None

    def lines(self) -> list[str]:
        local = f"{self.taken_at_local} (北京时间)"
        lines = [f"案件 {self.case_number}", local, f"踏勘人员 {self.inspector}"]
        if self.gps is not None:
            lines.append(f"GPS {self.gps[0]:.6f}, {self.gps[1]:.6f}")
        return lines


@dataclass(frozen=True)
class Snapshot:
    jpeg: bytes
    width: int
    height: int
    sha256: str
    taken_at: datetime
    quality: PhotoQuality | None = None


def decode_last_picture(packets: Sequence[av.Packet[Any]], codec_name: str) -> Image.Image:
    """Decode a GOP (keyframe first) with a fresh decoder; returns the last picture. Blocking."""
    if not packets or not packets[0].is_keyframe:
        raise SnapshotError("no keyframe buffered yet")
    decoder: Any = av.CodecContext.create(DECODERS.get(codec_name.lower(), codec_name), "r")
    last: av.VideoFrame | None = None
    for packet in [*packets, None]:
        for frame in decoder.decode(copy_packet(packet) if packet is not None else None):
            if isinstance(frame, av.VideoFrame):
                last = frame
    if last is None:
        raise SnapshotError("the buffered packets decoded to no picture")
    picture: Image.Image = last.to_image()  # type: ignore[no-untyped-call]
    return picture


def _font(font_path: Path | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if font_path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(font_path), size)


def apply_watermark(image: Image.Image, watermark: Watermark) -> Image.Image:
    """Stamp the watermark lines in a translucent box at the bottom left."""
    base = image.convert("RGBA")
    size = max(14, base.height // 28)
    font = _font(watermark.font_path, size)
    text = "\n".join(watermark.lines())
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    margin = size // 2
    left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font)
    y = base.height - (bottom - top) - 3 * margin
    box = (margin, y - margin, margin * 3 + right - left, base.height - margin)
    draw.rectangle(box, fill=(0, 0, 0, 140))
    draw.multiline_text((2 * margin, y - top), text, font=font, fill=(255, 255, 255, 255))
    return Image.alpha_composite(base, overlay).convert("RGB")


def render_snapshot(
    packets: Sequence[av.Packet[Any]], codec_name: str, watermark: Watermark, quality: int = 92
) -> Snapshot:
    """Decode, measure, watermark and JPEG-encode. Blocking: run it in a thread."""
    decoded = decode_last_picture(packets, codec_name)
    measured = assess(np.asarray(decoded.convert("RGB")))
    picture = apply_watermark(decoded, watermark)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality)
    jpeg = buffer.getvalue()
    return Snapshot(
        jpeg=jpeg,
        width=picture.width,
        height=picture.height,
        sha256=hashlib.sha256(jpeg).hexdigest(),
        taken_at=watermark.taken_at.astimezone(UTC),
        quality=measured,
    )


async def take_snapshot(
    packets: Sequence[av.Packet[Any]], codec_name: str, watermark: Watermark
) -> Snapshot:
    """`render_snapshot` off the event loop; `packets` is a `Relay.latest_gop()`."""
    return await asyncio.to_thread(render_snapshot, list(packets), codec_name, watermark)
