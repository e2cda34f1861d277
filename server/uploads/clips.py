"""Checks a short rectification video clip with PyAV and makes the copy we serve.

Pure (bytes in, verdict and bytes out) and blocking: call it with ``asyncio.to_thread``. The
container is named explicitly (never guessed by FFmpeg), every packet is demuxed to measure the
real duration (browser-recorded WebM carries none in its header), one frame is decoded for the
poster, and the served copy is a stream-copy remux with no container metadata (phones write the
recording location there).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from av.container import InputContainer

from server.uploads.images import THUMBNAIL_QUALITY, THUMBNAIL_SIDE, FileRefused, GpsFix, sniff

MAX_CLIP_BYTES = 50 * 1024 * 1024
MAX_CLIP_SECONDS = 30.0
MAX_CLIP_PIXELS = 3840 * 2160
MAX_PACKETS = 30 * 240 * 2  # 30 s of 240 fps video and as much audio: more is not a clip


@dataclass(frozen=True, slots=True)
class ClipFormat:
    mime: str
    ext: str
    demuxer: str
    muxer: str


CLIP_FORMATS = {
    "video/mp4": ClipFormat("video/mp4", "mp4", "mp4", "mp4"),
    "video/quicktime": ClipFormat("video/quicktime", "mov", "mov", "mov"),
    "video/webm": ClipFormat("video/webm", "webm", "webm", "webm"),
}
VIDEO_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1"})
AUDIO_CODECS = frozenset({"aac", "opus", "vorbis", "mp3"})
_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")


@dataclass(frozen=True, slots=True)
class ProcessedClip:
    mime: str
    ext: str
    duration_s: float
    width: int
    height: int
    video_codec: str
    gps: GpsFix | None  # from the container's ISO 6709 ``location`` tag, when present
    served: bytes  # remuxed, same streams, no metadata
    poster: bytes  # JPEG of the first frame, no metadata


def _bad_clip(reason: str, zh: str, en: str, **extra: Any) -> FileRefused:
    return FileRefused(reason, zh, en, **extra)


def check_clip_size(size: int) -> None:
    if size > MAX_CLIP_BYTES:
        mb = MAX_CLIP_BYTES // (1024 * 1024)
        raise _bad_clip(
            "too_large",
            f"视频超过 {mb} MB，请缩短到 {MAX_CLIP_SECONDS:.0f} 秒以内或降低画质后重新上传。",
            f"The video is larger than {mb} MB; keep it under {MAX_CLIP_SECONDS:.0f} s or lower "
            "the quality and upload again.",
            size=size,
            limit=MAX_CLIP_BYTES,
        )
    if size <= 0:
        raise _bad_clip("empty", "文件是空的，请重新选择视频。", "The file is empty.")


def _unreadable() -> FileRefused:
    return _bad_clip(
        "corrupt",
        "视频文件已损坏或不完整，无法播放，请重新录制后上传。",
        "The video is damaged or incomplete and cannot be played; record it again.",
    )


def _location(container: InputContainer) -> GpsFix | None:
    for key in ("location", "com.apple.quicktime.location.ISO6709", "location-eng"):
        match = _ISO6709.match(str(container.metadata.get(key, "")))
        if match:
            lat, lng = float(match.group(1)), float(match.group(2))
            if -90 <= lat <= 90 and -180 <= lng <= 180 and (lat, lng) != (0, 0):
                return GpsFix(lat, lng)
    return None


def _measure(container: InputContainer) -> float:
    """The clip's real length: the latest packet end over all streams, in seconds."""
    end = 0.0
    for count, packet in enumerate(container.demux()):
        if count > MAX_PACKETS:
            raise _too_long(None)
        if packet.pts is None or packet.time_base is None:
            continue
        stop = packet.pts + (packet.duration or 0)
        start_time = packet.stream.start_time or 0
        end = max(end, float((stop - start_time) * Fraction(packet.time_base)))
    return end


def _too_long(seconds: float | None) -> FileRefused:
    shown = f"（{seconds:.1f} 秒）" if seconds is not None else ""
    return _bad_clip(
        "too_long",
        f"视频过长{shown}，请只录制 {MAX_CLIP_SECONDS:.0f} 秒以内的整改画面后重新上传。",
        f"The video is too long{f' ({seconds:.1f} s)' if seconds is not None else ''}; record "
        f"at most {MAX_CLIP_SECONDS:.0f} s of the rectified item.",
        duration_s=seconds,
        limit_s=MAX_CLIP_SECONDS,
    )


def _poster(data: bytes, fmt: ClipFormat) -> bytes:
    with av.open(io.BytesIO(data), "r", format=fmt.demuxer) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            image = frame.to_image()  # type: ignore[no-untyped-call]
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=THUMBNAIL_QUALITY)
            return out.getvalue()
    raise _unreadable()


def _remux(data: bytes, fmt: ClipFormat) -> bytes:
    """The same audio and video packets in a fresh container that carries no metadata."""
    out = io.BytesIO()
    with (
        av.open(io.BytesIO(data), "r", format=fmt.demuxer) as source,
        av.open(out, "w", format=fmt.muxer) as target,
    ):
        keep = [s for s in source.streams if s.type in ("video", "audio")]
        mapping = {s.index: target.add_stream_from_template(s) for s in keep}
        for stream in mapping.values():
            stream.metadata.clear()
        for packet in source.demux(keep):
            if packet.dts is None:
                continue  # the demuxer's flush packet
            packet.stream = mapping[packet.stream.index]
            target.mux(packet)
    return out.getvalue()


def process_clip(data: bytes, declared: str) -> ProcessedClip:
    """Validate one clip and derive its served copy and poster; raises ``FileRefused``."""
    check_clip_size(len(data))
    fmt = CLIP_FORMATS.get(declared)
    actual = sniff(data)
    container_ok = (
        actual == "video/webm"
        if declared == "video/webm"
        else actual
        in (
            "video/mp4",
            "video/quicktime",
        )
    )
    if fmt is None or not container_ok:
        raise _bad_clip(
            "type_mismatch",
            "文件内容与声明的视频类型不符。请上传手机拍摄的 MP4、MOV 或 WebM 视频。",
            "The file does not match the declared video type. Upload an MP4, MOV or WebM video "
            "recorded on the phone.",
            declared=declared,
            detected=actual,
        )
    try:
        with av.open(io.BytesIO(data), "r", format=fmt.demuxer) as container:
            if not container.streams.video:
                raise _bad_clip(
                    "no_video",
                    "文件里没有视频画面，请重新录制。",
                    "The file has no video picture; record it again.",
                )
            video = container.streams.video[0]
            codec = video.codec_context.name
            width, height = video.codec_context.width, video.codec_context.height
            gps = _location(container)
            if codec not in VIDEO_CODECS or any(
                s.codec_context.name not in AUDIO_CODECS for s in container.streams.audio
            ):
                raise _bad_clip(
                    "codec",
                    "视频编码不受支持，请用手机自带相机录制后上传。",
                    "The video codec is not supported; record with the phone's own camera.",
                    codec=codec,
                )
            if width * height > MAX_CLIP_PIXELS or width <= 0 or height <= 0:
                raise _bad_clip(
                    "too_many_pixels",
                    f"视频分辨率过高（{width}×{height}），请用 1080p 或 4K 以下录制。",
                    f"The video resolution is too high ({width}x{height}); record at 4K or less.",
                )
            duration = _measure(container)
        if duration > MAX_CLIP_SECONDS + 0.5 or duration <= 0:
            raise _too_long(duration) if duration > 0 else _unreadable()
        poster = _poster(data, fmt)
        served = _remux(data, fmt)
    except FileRefused:
        raise
    except (av.FFmpegError, ValueError, IndexError, OSError, EOFError) as exc:
        raise _unreadable() from exc
    return ProcessedClip(
        mime=fmt.mime,
        ext=fmt.ext,
        duration_s=round(duration, 3),
        width=width,
        height=height,
        video_codec=codec,
        gps=gps,
        served=served,
        poster=poster,
    )
