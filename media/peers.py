"""Room-level media session: one server-side `RTCPeerConnection` per participant.

The applicant's phone publishes video+audio; each of the two inspectors publishes audio. Every
incoming track goes, undecoded, into a `Relay` slot ("applicant.video", "inspector0.audio"…)
that fans out to the other participants and to a `TrackRecorder`. Slots outlive reconnects, so
a rejoining phone resumes the inspectors' pictures and the recording shows an explicit gap.

Clients offer; the server answers. What a client wants to receive is read from the directions
in its offer: the phone offers one recv audio transceiver per inspector; an inspector offers
recv video + recv audio for the phone and one more recv audio for the other inspector.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceCandidate,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.sdp import SessionDescription, candidate_from_sdp

from media.aiortc_hooks import (
    PassthroughReceiver,
    enable_passthrough,
    forward_keyframe_requests,
    observe_remb,
    restrict_codecs,
)
from media.recorder import SEGMENT_SECONDS, SegmentSink, TrackRecorder
from media.relay import Relay, SourceInfo
from media.snapshots import Snapshot, SnapshotError, Watermark, take_snapshot

logger = logging.getLogger(__name__)

APPLICANT = "applicant"
INSPECTOR = "inspector"
INSPECTOR_SEATS = 2
VIDEO_CODEC = "video/VP8"
MAX_PENDING_CANDIDATES = 32  # trickled before the offer was applied; more is not a browser


@dataclass
class _Participant:
    participant_id: str
    seat: str  # "applicant", "inspector0", "inspector1"
    pc: RTCPeerConnection
    publishing: list[Relay] = field(default_factory=list)
    offer_applied: bool = False


class PeerSession:
    """All media of one inspection room: peers, relays, recorders, snapshots."""

    def __init__(
        self,
        *,
        sink: SegmentSink,
        directory: Path,
        segment_seconds: float = SEGMENT_SECONDS,
        ice_servers: list[RTCIceServer] | None = None,
        record: bool = True,
        recording: bool = True,
    ) -> None:
        """``record``: this session keeps recorders at all; ``recording``: they record now
        (else they wait for ``set_recording(True)``)."""
        self._sink = sink
        self._directory = directory
        self._segment_seconds = segment_seconds
        self._ice_servers = ice_servers or []
        self._record = record
        self._recording = recording
        self._participants: dict[str, _Participant] = {}
        self._seats: dict[str, str] = {}  # participant_id -> seat, stable across rejoins
        # trickled candidates that arrived while the participant's offer was being applied
        self._pending: dict[str, list[RTCIceCandidate | None]] = {}
        self.relays: dict[str, Relay] = {}
        self.recorders: dict[str, TrackRecorder] = {}

    # public API --------------------------------------------------------------------------

    async def handle_offer(self, participant_id: str, role: str, sdp: str) -> str:
        """Answer a participant's offer (a rejoin replaces its previous connection)."""
        seat = self._seat(participant_id, role)
        await self.leave(participant_id, keep_candidates=True)
        # MAX_BUNDLE: with aiortc's default BALANCED policy a second audio m-line in the offer
        # is left on a transport that BUNDLE then discards, and never starts.
        config = RTCConfiguration(
            iceServers=self._ice_servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
        )
        pc = RTCPeerConnection(config)
        participant = _Participant(participant_id, seat, pc)
        self._participants[participant_id] = participant
        self._watch(participant)

        @pc.on("track")  # type: ignore[untyped-decorator,unused-ignore]
        def on_track(track: Any) -> None:
            self._publish(participant, track)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        self._subscribe(participant, sdp)
        await pc.setLocalDescription(await pc.createAnswer())
        participant.offer_applied = True
        for candidate in self._pending.pop(participant_id, []):
            await pc.addIceCandidate(candidate)
        return str(pc.localDescription.sdp)

    async def add_ice_candidate(
        self,
        participant_id: str,
        candidate: str | None,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None:
        """A candidate the participant's browser trickled (``None``: it has no more).

        One that arrives while the offer is still being applied waits for it. A malformed
        candidate line raises ``ValueError``.
        """
        ice = remote_candidate(candidate, sdp_mid, sdp_mline_index)
        participant = self._participants.get(participant_id)
        if participant is not None and participant.offer_applied:
            await participant.pc.addIceCandidate(ice)
            return
        pending = self._pending.setdefault(participant_id, [])
        if len(pending) >= MAX_PENDING_CANDIDATES:
            raise ValueError("too many ICE candidates before the offer")
        pending.append(ice)

    async def leave(self, participant_id: str, *, keep_candidates: bool = False) -> None:
        """Close a participant's connection; its relay slots stay for a rejoin."""
        if not keep_candidates:
            self._pending.pop(participant_id, None)
        participant = self._participants.pop(participant_id, None)
        if participant is None:
            return
        for relay in participant.publishing:
            relay.detach()
        await participant.pc.close()

    def set_recording(self, on: bool) -> None:
        """Record every track from now on, or stop (each resumption shows as a gap)."""
        self._recording = on
        for recorder in self.recorders.values():
            if on:
                recorder.resume()
            else:
                recorder.pause()

    async def snapshot(self, watermark: Watermark, *, wait_seconds: float = 2.0) -> Snapshot:
        """Full-resolution JPEG of the applicant's current picture, watermarked."""
        relay = self.relays.get(f"{APPLICANT}.video")
        if relay is None or not relay.publishing:
            raise SnapshotError("the applicant is not sending video")
        deadline = time.monotonic() + wait_seconds
        while not (gop := relay.latest_gop()):
            if time.monotonic() > deadline:
                raise SnapshotError("no keyframe from the applicant")
            await relay.request_keyframe()
            await asyncio.sleep(0.05)
        codec = relay.source.codec_name if relay.source is not None else "vp8"
        return await take_snapshot(gop, codec, watermark)

    async def close(self) -> None:
        """Close every connection, then finish and hand over every segment."""
        for participant_id in list(self._participants):
            await self.leave(participant_id)
        for relay in self.relays.values():
            await relay.close()
        for recorder in self.recorders.values():
            await recorder.drain()

    # wiring ------------------------------------------------------------------------------

    def _seat(self, participant_id: str, role: str) -> str:
        if role == APPLICANT:
            return APPLICANT
        if role != INSPECTOR:
            raise ValueError(f"unknown media role {role!r}")
        if participant_id not in self._seats:
            taken = set(self._seats.values())
            free = [
                f"{INSPECTOR}{i}" for i in range(INSPECTOR_SEATS) if f"{INSPECTOR}{i}" not in taken
            ]
            if not free:
                raise ValueError("both inspector seats are taken")
            self._seats[participant_id] = free[0]
        return self._seats[participant_id]

    def _relay(self, slot: str, kind: str) -> Relay:
        relay = self.relays.get(slot)
        if relay is None:
            relay = self.relays[slot] = Relay(kind, slot)
            if self._record:
                recorder = TrackRecorder(
                    slot,
                    kind,
                    self._sink,
                    self._directory,
                    segment_seconds=self._segment_seconds,
                    request_keyframe=relay.request_keyframe,
                )
                if not self._recording:
                    recorder.pause()
                self.recorders[slot] = recorder
                relay.add_listener(recorder)
        return relay

    def _publish(self, participant: _Participant, track: Any) -> None:
        transceiver = next(t for t in participant.pc.getTransceivers() if t.receiver.track is track)
        if track.kind == "video":
            restrict_codecs(transceiver, VIDEO_CODEC)
        relay = self._relay(f"{participant.seat}.{track.kind}", track.kind)
        participant.publishing.append(relay)

        def started(receiver: PassthroughReceiver) -> None:
            if participant.participant_id in self._participants:
                source = SourceInfo(
                    track.kind, receiver.codec_name, receiver.clock_rate, receiver.channels
                )
                relay.attach(receiver, source)

        enable_passthrough(transceiver.receiver, started)

    def _wanted(self, seat: str) -> dict[str, list[str]]:
        """Which slots a seat receives, per kind, in transceiver order."""
        if seat == APPLICANT:
            return {"audio": [f"{INSPECTOR}{i}.audio" for i in range(INSPECTOR_SEATS)], "video": []}
        other = f"{INSPECTOR}{1 - int(seat[-1])}.audio"
        return {"audio": [f"{APPLICANT}.audio", other], "video": [f"{APPLICANT}.video"]}

    def _subscribe(self, participant: _Participant, sdp: str) -> None:
        receives = {
            m.rtp.muxId: m.direction in ("recvonly", "sendrecv")
            for m in SessionDescription.parse(sdp).media
        }
        wanted = self._wanted(participant.seat)
        for transceiver in participant.pc.getTransceivers():
            if transceiver.kind == "video":
                restrict_codecs(transceiver, VIDEO_CODEC)
            slots = wanted.get(transceiver.kind, [])
            if transceiver.mid is None or not receives.get(transceiver.mid) or not slots:
                continue
            relay = self._relay(slots.pop(0), transceiver.kind)
            consumer = relay.subscribe()
            transceiver.sender.replaceTrack(consumer)
            transceiver.direction = "sendrecv"
            if transceiver.kind == "video":
                forward_keyframe_requests(transceiver.sender, relay.request_keyframe)
                observe_remb(transceiver.sender, partial(relay.report_estimate, consumer))

    def _watch(self, participant: _Participant) -> None:
        @participant.pc.on("connectionstatechange")  # type: ignore[untyped-decorator,unused-ignore]
        async def on_state() -> None:
            state = participant.pc.connectionState
            current = self._participants.get(participant.participant_id)
            if state in ("failed", "closed") and current is participant:
                logger.info("media: %s %s", participant.participant_id, state)
                await self.leave(participant.participant_id)


def remote_candidate(
    candidate: str | None, sdp_mid: str | None, sdp_mline_index: int | None
) -> RTCIceCandidate | None:
    """A browser's ``RTCIceCandidate`` fields as aiortc's; ``None``/empty = end of candidates."""
    if not candidate:
        return None
    line = candidate.removeprefix("a=").removeprefix("candidate:")
    try:
        ice = candidate_from_sdp(line)
    except (AssertionError, IndexError, ValueError) as exc:
        raise ValueError(f"malformed ICE candidate: {candidate[:80]!r}") from exc
    if sdp_mid is None and sdp_mline_index is None:
        raise ValueError("an ICE candidate needs sdp_mid or sdp_mline_index")
    ice.sdpMid, ice.sdpMLineIndex = sdp_mid, sdp_mline_index
    return ice
