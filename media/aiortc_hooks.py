"""Every reliance on aiortc's private internals, in one place (aiortc is pinned to 1.16.*).

1. Passthrough receive, per receiver: `RTCRtpReceiver.receive()` starts `decoder_worker` on
   the receiver's private `__decoder_queue`, fed with `(codec, JitterFrame)` tuples by
   `_handle_rtp_packet` in the event loop. Before `receive()` runs we swap that queue for one
   whose `put()` turns each frame into an `av.Packet` (`PassthroughDecoder`) and hands it
   straight to the remote track's `_queue`. The decoder thread only ever sees the final
   `None` (which ends the track), so no decoder is created, no global is rebound, and the
   thread hop per frame disappears. Receivers not marked keep aiortc's normal decoding.
2. PLI towards the publisher: `RTCRtpReceiver._send_rtcp_pli(media_ssrc)`, with the media SSRC
   from the negotiated `RTCRtpReceiveParameters` (captured by wrapping `receive()` on the
   instance), never the RTX SSRC.
3. Keyframe requests from subscribers: `RTCRtpSender._handle_rtcp_packet` calls
   `self._send_keyframe()` on PLI/FIR; it is overridden on the sender instance so the request
   reaches the publisher instead of setting a flag for an encoder that never runs.
4. Bandwidth (REMB). A subscriber's REMB reaches `RTCRtpSender._handle_rtcp_packet`, which
   would only set the target bitrate of an encoder that never runs; the method is wrapped on
   the sender instance to report the estimate. Towards the publisher, the receiver's own
   estimator sends REMB through `RTCRtpReceiver._send_rtcp`, wrapped on the instance so the
   value can be lowered; forwarded REMBs go out through the unwrapped `_send_rtcp`, from the
   receiver's private `__rtcp_ssrc`, listing the negotiated media SSRC.
5. Sender reports (A/V sync). `RTCRtpReceiver._handle_rtcp_packet` gets the publisher's
   `RtcpSrPacket`s (wrapped on the instance). SRs carry raw 32-bit RTP timestamps while frames
   reach us already shifted by the receiver's private `__timestamp_mapper`, which is replaced
   by a subclass that also remembers the last raw/shifted pair, to relate the two.

tests/media/test_aiortc_hooks.py asserts these attributes and signatures exist.
"""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc.rtcrtpreceiver import TimestampMapper
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtcpSrPacket, pack_remb_fci, unpack_remb_fci

from media.passthrough import PassthroughDecoder
from media.sync import MediaClock, SenderClockFilter, SenderReport, clock_from_report

logger = logging.getLogger(__name__)

DECODER_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
DECODER_THREAD_ATTR = "_RTCRtpReceiver__decoder_thread"
RTX_SSRC_ATTR = "_RTCRtpReceiver__rtx_ssrc"
RTCP_SSRC_ATTR = "_RTCRtpReceiver__rtcp_ssrc"
TIMESTAMP_MAPPER_ATTR = "_RTCRtpReceiver__timestamp_mapper"
RECEIVER_ATTRS = (
    DECODER_QUEUE_ATTR,
    DECODER_THREAD_ATTR,
    RTCP_SSRC_ATTR,
    TIMESTAMP_MAPPER_ATTR,
    "_track",
    "_send_rtcp_pli",
    "_send_rtcp",
    "_handle_rtcp_packet",
)


class HookError(RuntimeError):
    """aiortc's internals are not where this module expects them (upgrade?)."""


class _PassthroughQueue(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue; converts frames in the event loop."""

    def __init__(self, track_queue: asyncio.Queue[Any]) -> None:
        super().__init__()
        self._track_queue = track_queue
        self._decoder: PassthroughDecoder | None = None

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # end of stream: let the idle decoder thread end the track
            super().put(None, block, timeout)
            return
        codec, encoded_frame = item
        if self._decoder is None or self._decoder.codec_name != codec.name:
            self._decoder = PassthroughDecoder(codec.name, codec.clockRate)
        for packet in self._decoder.decode(encoded_frame):
            self._track_queue.put_nowait(packet)


class _ReportingMapper(TimestampMapper):  # type: ignore[misc,unused-ignore]
    """aiortc's RTP timestamp unwrapper, also remembering the last raw → shifted pair."""

    def __init__(self) -> None:
        super().__init__()
        self.last: tuple[int, int] | None = None  # (raw RTP timestamp, shifted timestamp)
        self.on_map: Callable[[], None] = lambda: None

    def map(self, timestamp: int) -> int:
        mapped = int(super().map(timestamp))
        self.last = (timestamp, mapped)
        self.on_map()
        return mapped


def _remb_bitrate(packet: Any) -> tuple[int, list[int]] | None:
    """(bitrate, SSRCs) if `packet` is a well-formed REMB, else None."""
    if not isinstance(packet, RtcpPsfbPacket) or packet.fmt != RTCP_PSFB_APP:
        return None
    try:
        bitrate, ssrcs = unpack_remb_fci(packet.fci)
    except ValueError:
        return None
    return int(bitrate), [int(s) for s in ssrcs]


def filter_remb(receiver: Any, transform: Callable[[int], int]) -> None:
    """Pass every REMB `receiver`'s own estimator sends through `transform(bitrate)`."""
    if not callable(getattr(receiver, "_send_rtcp", None)):
        raise HookError("RTCRtpReceiver has no _send_rtcp; check the aiortc version")
    original_send = receiver._send_rtcp

    async def send_rtcp(packet: Any) -> None:
        remb = _remb_bitrate(packet)
        if remb is not None:
            bitrate, ssrcs = remb
            packet = RtcpPsfbPacket(
                fmt=RTCP_PSFB_APP,
                ssrc=packet.ssrc,
                media_ssrc=packet.media_ssrc,
                fci=pack_remb_fci(transform(bitrate), ssrcs),
            )
        await original_send(packet)

    receiver._send_rtcp = send_rtcp


def observe_remb(sender: Any, on_estimate: Callable[[int], None]) -> None:
    """Call `on_estimate(bitrate)` for each REMB the remote peer sends about `sender`'s stream."""
    if not callable(getattr(sender, "_handle_rtcp_packet", None)) or not hasattr(sender, "_ssrc"):
        raise HookError("RTCRtpSender has no _handle_rtcp_packet/_ssrc; check the aiortc version")
    original_handle = sender._handle_rtcp_packet

    async def handle_rtcp_packet(packet: Any) -> None:
        await original_handle(packet)
        remb = _remb_bitrate(packet)
        if remb is not None and sender._ssrc in remb[1]:
            on_estimate(remb[0])

    sender._handle_rtcp_packet = handle_rtcp_packet


def _check_receiver(receiver: Any) -> None:
    for attr in RECEIVER_ATTRS:
        if not hasattr(receiver, attr):
            raise HookError(f"RTCRtpReceiver has no {attr}; check the aiortc version")
    if getattr(receiver, DECODER_THREAD_ATTR) is not None:
        raise HookError("passthrough must be enabled before the receiver starts")
    if type(getattr(receiver, TIMESTAMP_MAPPER_ATTR)) is not TimestampMapper:
        raise HookError("RTCRtpReceiver's timestamp mapper is not aiortc's TimestampMapper")


class PassthroughReceiver:
    """A publisher-side receiver whose track yields `av.Packet`s.

    It can ask for keyframes (PLI) and send bandwidth limits (REMB), and it maps the
    publisher's sender reports onto the track's timeline (`sender_clock`).
    """

    def __init__(self, receiver: Any, on_started: Callable[[PassthroughReceiver], None]) -> None:
        _check_receiver(receiver)
        self.receiver = receiver
        self.media_ssrc: int | None = None
        self.codec_name = ""
        self.clock_rate = 0
        self.channels = 1
        self.sender_clock: MediaClock | None = None  # best recent SR, on the track's timeline
        self.sender_reports = 0
        self._clock_filter = SenderClockFilter()
        self._rtx_ssrcs: set[int] = set()
        self._pending_report: SenderReport | None = None
        self._remb_transform: Callable[[int], int] = lambda bitrate: bitrate
        setattr(receiver, DECODER_QUEUE_ATTR, _PassthroughQueue(receiver._track._queue))
        self._mapper = _ReportingMapper()
        self._mapper.on_map = self._place_report
        setattr(receiver, TIMESTAMP_MAPPER_ATTR, self._mapper)
        self._send_rtcp_unfiltered = receiver._send_rtcp  # forwarded REMBs skip the filter
        filter_remb(receiver, lambda bitrate: self._remb_transform(bitrate))
        self._wrap_rtcp_handler()
        original_receive = receiver.receive

        async def receive(parameters: Any) -> None:
            self._remember(parameters)
            await original_receive(parameters)
            on_started(self)

        receiver.receive = receive

    @property
    def track(self) -> Any:
        return self.receiver.track

    def _remember(self, parameters: Any) -> None:
        codec = next(c for c in parameters.codecs if c.name.lower() != "rtx")
        self.codec_name, self.clock_rate = codec.name, codec.clockRate
        self.channels = codec.channels or 1
        for encoding in parameters.encodings:
            if encoding.rtx is not None:
                self._rtx_ssrcs.add(encoding.rtx.ssrc)
            if self.media_ssrc is None and encoding.ssrc:
                self.media_ssrc = encoding.ssrc

    def _current_ssrc(self) -> int | None:
        if self.media_ssrc is not None:
            return self.media_ssrc
        # No a=ssrc in the offer: take a seen SSRC that is not a known RTX one.
        for source in self.receiver.getSynchronizationSources():
            if source.source not in self._rtx_ssrcs:
                return int(source.source)
        return None

    async def send_pli(self) -> bool:
        """Send one RTCP PLI for the media SSRC; False if it is not known yet."""
        ssrc = self._current_ssrc()
        if ssrc is None:
            return False
        await self.receiver._send_rtcp_pli(ssrc)
        return True

    async def send_remb(self, bitrate: int) -> bool:
        """Send one REMB limiting the media SSRC to `bitrate`; False if not possible yet."""
        ssrc = self._current_ssrc()
        rtcp_ssrc = getattr(self.receiver, RTCP_SSRC_ATTR)
        if ssrc is None or rtcp_ssrc is None:
            return False
        packet = RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(bitrate, [ssrc])
        )
        await self._send_rtcp_unfiltered(packet)
        return True

    def limit_remb(self, transform: Callable[[int], int]) -> None:
        """Route the receiver's own REMB (the uplink estimate) through `transform`."""
        self._remb_transform = transform

    # sender reports --------------------------------------------------------------------

    def _wrap_rtcp_handler(self) -> None:
        original_handle = self.receiver._handle_rtcp_packet

        async def handle_rtcp_packet(packet: Any) -> None:
            await original_handle(packet)
            if isinstance(packet, RtcpSrPacket):
                self._on_sender_report(packet)

        self.receiver._handle_rtcp_packet = handle_rtcp_packet

    def _on_sender_report(self, packet: Any) -> None:
        # Only the media stream's: the RTX stream's SRs (Chrome sends them) describe another
        # timestamp sequence.
        if packet.ssrc != self._current_ssrc():
            return
        info = packet.sender_info
        try:
            report = SenderReport(info.ntp_timestamp, info.rtp_timestamp, info.packet_count)
        except ValueError:
            logger.warning("ignoring a malformed sender report from %s", packet.ssrc)
            return
        if not report.describes_media:
            return
        self.sender_reports += 1
        self._pending_report = report
        self._place_report()

    def _place_report(self) -> None:
        """Put the latest SR on the timeline once a frame relates raw and shifted timestamps."""
        report, last = self._pending_report, self._mapper.last
        if report is None or last is None or not self.clock_rate:
            return
        self._pending_report = None
        clock = clock_from_report(
            report, reference_rtp=last[0], reference_pts=last[1], clock_rate=self.clock_rate
        )
        self.sender_clock = self._clock_filter.add(clock)


def enable_passthrough(
    receiver: Any, on_started: Callable[[PassthroughReceiver], None]
) -> PassthroughReceiver:
    """Mark a receiver for passthrough; call from the `track` event, before `receive()`.

    `on_started` runs once the receiver has started (codec and SSRC known).
    """
    return PassthroughReceiver(receiver, on_started)


def restrict_codecs(transceiver: Any, mime_type: str) -> None:
    """Keep only `mime_type` (and its RTX) in a transceiver negotiated from a remote offer.

    Passthrough needs every subscriber to take the publisher's codec, so the server's answer
    offers one video codec. Call between `setRemoteDescription()` and `createAnswer()`.
    """
    codecs = getattr(transceiver, "_codecs", None)
    if codecs is None:
        raise HookError("RTCRtpTransceiver has no _codecs; check the aiortc version")
    kept = [c for c in codecs if c.mimeType.lower() == mime_type.lower()]
    payload_types = {c.payloadType for c in kept}
    kept += [
        c for c in codecs if c.name.lower() == "rtx" and c.parameters.get("apt") in payload_types
    ]
    if not kept:
        raise ValueError(f"the offer has no {mime_type}")
    transceiver._codecs = kept


def forward_keyframe_requests(sender: Any, on_request: Callable[[], Awaitable[None]]) -> None:
    """Route a subscriber's PLI/FIR arriving at `sender` to `on_request` (rate-limited there)."""
    if not callable(getattr(sender, "_send_keyframe", None)):
        raise HookError("RTCRtpSender has no _send_keyframe; check the aiortc version")
    tasks: set[asyncio.Task[None]] = set()

    def _send_keyframe() -> None:
        task = asyncio.ensure_future(on_request())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    sender._send_keyframe = _send_keyframe
