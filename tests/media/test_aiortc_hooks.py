"""Fail loudly if an aiortc upgrade moves the internals media/aiortc_hooks.py relies on."""

from __future__ import annotations

import inspect
from typing import Any

import aiortc
import pytest
from aiortc import (
    RTCPeerConnection,
    rtcdtlstransport,
    rtcrtpreceiver,
    rtcrtpsender,
    rtcrtptransceiver,
)
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RtcpPsfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    pack_remb_fci,
    unpack_remb_fci,
)

from media import aiortc_hooks
from media.sync import NTP_UNIX_OFFSET


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


def test_receiver_internals_for_bandwidth_and_sender_reports_exist() -> None:
    receiver_cls = rtcrtpreceiver.RTCRtpReceiver
    rtp_path = inspect.getsource(receiver_cls._handle_rtp_packet)
    # The own estimate goes out through the overridable `_send_rtcp`, as a REMB.
    assert "pack_remb_fci(*remb)" in rtp_path
    assert "await self._send_rtcp(rtcp_packet)" in rtp_path
    # Frames are shifted by the timestamp mapper right before they are queued.
    mapped = rtp_path.index("self.__timestamp_mapper.map(")
    assert mapped < rtp_path.index("self.__decoder_queue.put((codec, encoded_frame))")
    assert list(inspect.signature(rtcrtpreceiver.TimestampMapper.map).parameters) == [
        "self",
        "timestamp",
    ]
    assert "isinstance(packet, RtcpSrPacket)" in inspect.getsource(receiver_cls._handle_rtcp_packet)
    assert list(inspect.signature(receiver_cls._send_rtcp).parameters) == ["self", "packet"]
    # The transport hands SRs to the receiver of that SSRC, REMBs to the senders they list.
    route = inspect.getsource(rtcdtlstransport.RtpRouter.route_rtcp)
    assert "add_recipient(self.ssrc_table.get(packet.ssrc))" in route
    assert "rtp.unpack_remb_fci(packet.fci)[1]" in route
    transport_source = inspect.getsource(rtcdtlstransport.RTCDtlsTransport._handle_rtcp_data)
    assert "await recipient._handle_rtcp_packet(packet)" in transport_source
    assert "await receiver._handle_rtp_packet(" in inspect.getsource(
        rtcdtlstransport.RTCDtlsTransport._handle_rtp_data
    )


def test_sender_reads_remb_for_its_own_ssrc() -> None:
    source = inspect.getsource(rtcrtpsender.RTCRtpSender._handle_rtcp_packet)
    assert "unpack_remb_fci(packet.fci)" in source
    assert "if self._ssrc in ssrcs:" in source


async def fresh_receiver() -> tuple[RTCPeerConnection, Any]:
    pc = RTCPeerConnection()
    receiver = pc.addTransceiver("video", direction="recvonly").receiver
    receiver._track = rtcrtpreceiver.RemoteStreamTrack(kind="video")
    return pc, receiver


async def test_fresh_receivers_have_the_private_attributes_the_hooks_use() -> None:
    pc, receiver = await fresh_receiver()
    assert hasattr(receiver, aiortc_hooks.RTCP_SSRC_ATTR)
    mapper = getattr(receiver, aiortc_hooks.TIMESTAMP_MAPPER_ATTR)
    assert type(mapper) is rtcrtpreceiver.TimestampMapper
    assert isinstance(pc.getTransceivers()[0].sender._ssrc, int)
    await pc.close()


async def test_observe_remb_reports_only_estimates_for_the_senders_stream() -> None:
    pc = RTCPeerConnection()
    sender = pc.addTransceiver("video", direction="sendonly").sender
    estimates: list[int] = []
    aiortc_hooks.observe_remb(sender, estimates.append)

    def remb(bitrate: int, ssrcs: list[int]) -> RtcpPsfbPacket:
        return RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(bitrate, ssrcs)
        )

    await sender._handle_rtcp_packet(remb(300_000, [sender._ssrc, 99]))
    await sender._handle_rtcp_packet(remb(100_000, [99]))  # another stream's estimate
    await sender._handle_rtcp_packet(
        RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=b"XXXX")
    )
    assert estimates == [300_000]
    await pc.close()


async def test_filter_remb_rewrites_only_remb_packets() -> None:
    pc, receiver = await fresh_receiver()
    sent: list[Any] = []

    async def capture(packet: Any) -> None:
        sent.append(packet)

    receiver._send_rtcp = capture  # stands for the wire, below the hook
    aiortc_hooks.filter_remb(receiver, lambda bitrate: bitrate // 2)
    remb = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=5, media_ssrc=0, fci=pack_remb_fci(800_000, [7]))
    pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=5, media_ssrc=7)
    await receiver._send_rtcp(remb)
    await receiver._send_rtcp(pli)
    assert unpack_remb_fci(sent[0].fci) == (400_000, [7])
    assert (sent[0].ssrc, sent[0].media_ssrc) == (5, 0)
    assert sent[1] is pli
    await pc.close()


async def test_sender_reports_of_the_media_ssrc_become_the_tracks_clock() -> None:
    pc, receiver = await fresh_receiver()
    hooked = aiortc_hooks.enable_passthrough(receiver, lambda _: None)
    assert not await hooked.send_remb(500_000)  # no media SSRC negotiated or seen yet
    hooked.media_ssrc, hooked.clock_rate = 1234, 90_000
    mapper = getattr(receiver, aiortc_hooks.TIMESTAMP_MAPPER_ATTR)
    assert mapper.map(0xFFFF_0000) == 0  # aiortc's mapper, now also noting raw → shifted
    assert mapper.map(0x0000_FFFF) == 0x1_FFFF  # across the 32-bit wrap

    def sr(ssrc: int, ntp: int, rtp: int, packets: int = 10) -> RtcpSrPacket:
        info = RtcpSenderInfo(
            ntp_timestamp=ntp, rtp_timestamp=rtp, packet_count=packets, octet_count=1
        )
        return RtcpSrPacket(ssrc=ssrc, sender_info=info)

    unix_1000 = (1000 + NTP_UNIX_OFFSET) << 32
    await receiver._handle_rtcp_packet(sr(1234, 0, 0, packets=0))  # before any packet: ignored
    await receiver._handle_rtcp_packet(sr(4321, unix_1000, 0))  # RTX or another stream
    assert hooked.sender_clock is None
    await receiver._handle_rtcp_packet(sr(1234, unix_1000, 0x0000_FFFF))
    clock = hooked.sender_clock
    assert clock is not None
    assert clock.wallclock_at(0x1_FFFF) == 1000.0
    assert clock.wallclock_at(0x1_FFFF - 90_000) == 999.0
    assert hooked.sender_reports == 1
    await pc.close()


async def test_send_remb_limits_the_media_ssrc_and_own_rembs_go_through_the_limit() -> None:
    pc, receiver = await fresh_receiver()
    sent: list[Any] = []

    async def capture(packet: Any) -> None:
        sent.append(packet)

    receiver._send_rtcp = capture  # stands for the wire, below the hooks
    hooked = aiortc_hooks.enable_passthrough(receiver, lambda _: None)
    hooked.media_ssrc = 1234
    hooked.limit_remb(lambda bitrate: min(bitrate, 300_000))
    assert await hooked.send_remb(256_000)  # forwarded: sent as it is, not limited again
    own = pack_remb_fci(2_000_000, [1234])
    await receiver._send_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=9, media_ssrc=0, fci=own))
    assert unpack_remb_fci(sent[0].fci) == (256_000, [1234])
    assert sent[0].ssrc == getattr(receiver, aiortc_hooks.RTCP_SSRC_ATTR)
    assert unpack_remb_fci(sent[1].fci) == (300_000, [1234])  # the receiver's own estimate
    await pc.close()


def test_bandwidth_hooks_refuse_unexpected_objects() -> None:
    with pytest.raises(aiortc_hooks.HookError):
        aiortc_hooks.observe_remb(object(), lambda _: None)
    with pytest.raises(aiortc_hooks.HookError):
        aiortc_hooks.filter_remb(object(), lambda bitrate: bitrate)
