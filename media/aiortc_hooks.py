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

tests/media/test_aiortc_hooks.py asserts these attributes and signatures exist.
"""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import Awaitable, Callable
from typing import Any

from media.passthrough import PassthroughDecoder

logger = logging.getLogger(__name__)

DECODER_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
DECODER_THREAD_ATTR = "_RTCRtpReceiver__decoder_thread"
RTX_SSRC_ATTR = "_RTCRtpReceiver__rtx_ssrc"


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


class PassthroughReceiver:
    """A publisher-side receiver whose track yields `av.Packet`s; can ask for keyframes."""

    def __init__(self, receiver: Any, on_started: Callable[[PassthroughReceiver], None]) -> None:
        for attr in (DECODER_QUEUE_ATTR, DECODER_THREAD_ATTR, "_track", "_send_rtcp_pli"):
            if not hasattr(receiver, attr):
                raise HookError(f"RTCRtpReceiver has no {attr}; check the aiortc version")
        if getattr(receiver, DECODER_THREAD_ATTR) is not None:
            raise HookError("passthrough must be enabled before the receiver starts")
        self.receiver = receiver
        self.media_ssrc: int | None = None
        self.codec_name = ""
        self.clock_rate = 0
        self.channels = 1
        self._rtx_ssrcs: set[int] = set()
        setattr(receiver, DECODER_QUEUE_ATTR, _PassthroughQueue(receiver._track._queue))
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
