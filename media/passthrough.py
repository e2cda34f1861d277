"""Passthrough "decoder": turns aiortc's re-assembled encoded frames into `av.Packet[Any]`s.

It never decodes. The packet's pts/dts is the receiver's unwrapped, zero-based RTP timestamp
in the codec's clock (1/90000 for video, 1/48000 for Opus), and `is_keyframe` is read from the
bitstream, so the packet can be forwarded (`RTCRtpSender` `pack()`s it) and muxed as it is.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Protocol

import av

H264_IDR = 5
H264_SPS = 7


class EncodedFrame(Protocol):
    """What aiortc's jitter buffer hands to a decoder (`JitterFrame`)."""

    data: bytes
    timestamp: int


def vp8_is_keyframe(data: bytes) -> bool:
    """VP8 frame tag (RFC 6386 §9.1): bit 0 of the first byte is 0 on a key frame."""
    return bool(data) and data[0] & 0x01 == 0


def h264_is_keyframe(data: bytes) -> bool:
    """True if an Annex-B access unit holds an IDR slice or an SPS."""
    start = data.find(b"\x00\x00\x01")
    while start != -1 and start + 3 < len(data):
        if data[start + 3] & 0x1F in (H264_IDR, H264_SPS):
            return True
        start = data.find(b"\x00\x00\x01", start + 3)
    return False


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """Keyframe flag for a codec; audio frames are all independently decodable."""
    name = codec_name.lower()
    if name == "vp8":
        return vp8_is_keyframe(data)
    if name == "h264":
        return h264_is_keyframe(data)
    return True


class PassthroughDecoder:
    """Duck-types aiortc's `Decoder`: `decode(encoded_frame)` returns `[av.Packet[Any]]`."""

    def __init__(self, codec_name: str, clock_rate: int) -> None:
        self.codec_name = codec_name
        self.time_base = Fraction(1, clock_rate)

    def decode(self, encoded_frame: EncodedFrame) -> list[av.Packet[Any]]:
        packet = av.Packet(encoded_frame.data)
        packet.pts = encoded_frame.timestamp
        packet.dts = encoded_frame.timestamp
        packet.time_base = self.time_base
        packet.is_keyframe = is_keyframe(self.codec_name, encoded_frame.data)
        return [packet]


def media_pts(packet: av.Packet[Any]) -> int:
    """The packet's pts; passthrough packets always have one."""
    if packet.pts is None:
        raise ValueError("packet without pts")
    return packet.pts


def copy_packet(packet: av.Packet[Any]) -> av.Packet[Any]:
    """A private copy: `mux()` rewrites pts/time_base in place, and packets are shared."""
    copy = av.Packet(bytes(packet))
    copy.pts = packet.pts
    copy.dts = packet.dts
    copy.time_base = packet.time_base
    copy.is_keyframe = packet.is_keyframe
    return copy
