"""Fail loudly if an aiortc upgrade moves the internals media/aiortc_hooks.py relies on."""

from __future__ import annotations

import inspect

import aiortc
import pytest
from aiortc import RTCPeerConnection, rtcrtpreceiver, rtcrtpsender, rtcrtptransceiver

from media import aiortc_hooks


def test_aiortc_is_the_pinned_minor() -> None:
    assert aiortc.__version__.startswith("1.16.")


def test_receiver_internals_exist() -> None:
    source = inspect.getsource(rtcrtpreceiver.RTCRtpReceiver)
    assert "self.__decoder_queue.put((codec, encoded_frame))" in source
    assert "target=decoder_worker" in source
    assert "self.__decoder_queue," in source  # the thread gets the queue at receive() time
    params = list(inspect.signature(rtcrtpreceiver.RTCRtpReceiver._send_rtcp_pli).parameters)
    assert params == ["self", "media_ssrc"]
    assert list(inspect.signature(rtcrtpreceiver.decoder_worker).parameters) == [
        "loop",
        "input_q",
        "output_q",
        "decode_error",
    ]
    assert "_queue" in inspect.getsource(rtcrtpreceiver.RemoteStreamTrack.__init__)


def test_sender_calls_send_keyframe_on_pli_and_packs_packets() -> None:
    source = inspect.getsource(rtcrtpsender.RTCRtpSender)
    assert "self._send_keyframe()" in source
    assert "self.__encoder.pack(data)" in source
    assert "_codecs" in inspect.getsource(rtcrtptransceiver.RTCRtpTransceiver.__init__)


async def test_enable_passthrough_swaps_the_decoder_queue_on_a_fresh_receiver() -> None:
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver("video", direction="recvonly")
    receiver = transceiver.receiver
    receiver._track = rtcrtpreceiver.RemoteStreamTrack(kind="video")
    started = []
    aiortc_hooks.enable_passthrough(receiver, started.append)
    assert type(getattr(receiver, aiortc_hooks.DECODER_QUEUE_ATTR)).__name__ == "_PassthroughQueue"
    aiortc_hooks.restrict_codecs(transceiver, "video/VP8") if transceiver._codecs else None
    await pc.close()


def test_hook_refuses_an_unexpected_receiver() -> None:
    with pytest.raises(aiortc_hooks.HookError):
        aiortc_hooks.enable_passthrough(object(), lambda _: None)
    with pytest.raises(aiortc_hooks.HookError):
        aiortc_hooks.forward_keyframe_requests(object(), lambda: None)  # type: ignore[arg-type,return-value]
