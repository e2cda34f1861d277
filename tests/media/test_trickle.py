"""Trickle ICE into the server's peer: candidates a browser sends after its offer are used."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from media.peers import PeerSession, remote_candidate
from media.workers import MediaWorkerPool
from tests.helpers import wait_until
from tests.media import MemorySink, connect, loopback_ice  # noqa: F401
from tests.media.helpers import loopback_only

pytestmark = pytest.mark.usefixtures("loopback_ice")

HOST = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host"


def test_a_browser_candidate_reads_as_aiortcs() -> None:
    ice = remote_candidate(HOST, "0", 0)
    assert ice is not None
    assert (ice.ip, ice.port, ice.type, ice.protocol) == ("127.0.0.1", 50000, "host", "udp")
    assert (ice.sdpMid, ice.sdpMLineIndex) == ("0", 0)
    assert remote_candidate("a=" + HOST, None, 0) is not None  # SDP attribute form


def test_an_empty_candidate_is_the_end_of_candidates() -> None:
    assert remote_candidate(None, None, None) is None
    assert remote_candidate("", "0", 0) is None


@pytest.mark.parametrize("line", ["candidate:1 1 udp", "garbage", "candidate:1 1 udp x y z typ"])
def test_a_malformed_candidate_is_refused_with_a_reason(line: str) -> None:
    with pytest.raises(ValueError, match="malformed ICE candidate"):
        remote_candidate(line, "0", 0)


def test_a_candidate_without_its_media_line_is_refused() -> None:
    with pytest.raises(ValueError, match="sdp_mid or sdp_mline_index"):
        remote_candidate(HOST, None, None)


def split_offer(sdp: str) -> tuple[str, list[str]]:
    """The offer without its candidates (as a browser sends it at once), and the candidates."""
    lines = sdp.splitlines()
    candidates = list(dict.fromkeys(ln[2:] for ln in lines if ln.startswith("a=candidate:")))
    kept = [ln for ln in lines if not ln.startswith("a=candidate:") and ln != "a=end-of-candidates"]
    return "\r\n".join(kept) + "\r\n", candidates


class Trickler:
    """Answers like the signaling endpoint: one candidate before the offer, the rest after."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.candidates: list[str] = []

    async def __call__(self, offer: str) -> str:
        bare, self.candidates = split_offer(offer)
        assert self.candidates, "the client gathered no candidate"
        await self.session.add_ice_candidate("p", self.candidates[0], "0", 0)  # waits for it
        answer: str = await self.session.handle_offer("p", "applicant", bare)
        for candidate in self.candidates[1:]:
            await self.session.add_ice_candidate("p", candidate, "0", 0)
        await self.session.add_ice_candidate("p", None, None, None)
        return answer


async def test_trickled_candidates_reach_the_servers_peer_connection(tmp_path: Path) -> None:
    session = PeerSession(sink=MemorySink(tmp_path), directory=tmp_path, record=False)
    trickler = Trickler(session)
    try:
        phone = await connect(trickler, role="applicant")
        relay = session.relays["applicant.video"]
        await wait_until(lambda: relay.packets_in >= 30)
        pc = session._participants["p"].pc
        transport = pc.getTransceivers()[0].receiver.transport.transport
        known = {(c.ip, c.port) for c in transport.getRemoteCandidates()}
        trickled = [remote_candidate(c, "0", 0) for c in trickler.candidates]
        sent = {(ice.ip, ice.port) for ice in trickled if ice is not None}
        assert sent <= known  # every trickled candidate, the early one included
        with pytest.raises(ValueError, match="malformed"):
            await session.add_ice_candidate("p", "candidate:nonsense", "0", 0)
        await phone.close()
    finally:
        await session.close()


@pytest.fixture
async def one_worker() -> AsyncIterator[MediaWorkerPool]:
    pool = MediaWorkerPool(1, setup=loopback_only)
    await pool.start()
    yield pool
    await pool.stop()


async def test_trickled_candidates_cross_to_a_worker(
    one_worker: MediaWorkerPool, tmp_path: Path
) -> None:
    session = one_worker.open_room("case", sink=MemorySink(tmp_path), directory=tmp_path)
    try:
        phone = await connect(Trickler(session), role="applicant")

        async def flowing() -> bool:
            return (await session.stats()).relays["applicant.video"].packets_in >= 30

        await wait_until(flowing, what="30 video packets in")
        with pytest.raises(ValueError, match="malformed"):  # the same type, across the pipe
            await session.add_ice_candidate("p", "candidate:nonsense", "0", 0)
        await phone.close()
    finally:
        await session.close()
