"""Media worker processes: rooms pinned to real worker processes running real aiortc peers."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import psutil
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender
from pydantic import ValidationError

from media.peers import PeerSession
from media.snapshots import SnapshotError, Watermark
from media.workers import MediaWorkerPool, RemoteSession, WorkerError, WorkerLost
from server.config import Settings
from tests.helpers import alive, wait_until
from tests.media import (
    HEIGHT,
    WIDTH,
    Client,
    MemorySink,
    connect,
    loopback_ice,  # noqa: F401
    read_counter,
)
from tests.media.helpers import loopback_only

pytestmark = pytest.mark.usefixtures("loopback_ice")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[MediaWorkerPool]:
    """Two workers shared by the tests that do not kill one."""
    pool = MediaWorkerPool(2, setup=loopback_only)
    await pool.start()
    yield pool
    await pool.stop()


def room_in(pool: MediaWorkerPool, tmp_path: Path, **kwargs: Any) -> tuple[RemoteSession, Path]:
    kept = tmp_path / "kept"
    kept.mkdir(exist_ok=True)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    sink = kwargs.pop("sink", None) or MemorySink(kept)
    return pool.open_room("case", sink=sink, directory=work, **kwargs), kept


def video_of(client: Client) -> Any:
    return next(r for r in client.received if r.kind == "video")


async def wait_gone(pids: list[int], seconds: float = 15.0) -> None:
    await wait_until(lambda: not any(alive(pid) for pid in pids), within=seconds)


async def test_a_room_in_a_worker_forwards_records_and_snapshots(
    pool: MediaWorkerPool, tmp_path: Path
) -> None:
    sink = MemorySink(tmp_path)
    room, _ = room_in(pool, tmp_path, sink=sink, segment_seconds=1.0)
    phone = await connect(lambda s: room.handle_offer("p", "applicant", s), role="applicant")
    first = await connect(lambda s: room.handle_offer("i1", "inspector", s), role="inspector")
    clients = [phone, first]
    try:
        await wait_until(lambda: len(video_of(first).frames) > 10, within=15)
        late = await connect(lambda s: room.handle_offer("i2", "inspector", s), role="inspector")
        clients.append(late)
        await wait_until(
            lambda: any(r.kind == "video" and r.frames for r in late.received), within=10
        )
        window = time.monotonic()
        await wait_until(lambda: len([t for t, _ in video_of(late).frames if t > window]) >= 60)
        for inspector in (first, late):
            video = video_of(inspector)
            assert video.sizes == {(WIDTH, HEIGHT)}
            counters = [n for t, n in video.frames if t > window]  # every sent frame, in order
            assert counters == list(range(counters[0], counters[0] + len(counters)))
        shot = await room.snapshot(
            Watermark("QX-1", "张三", datetime.now(UTC), "2024-05-01 10:20:30")
        )
        assert (shot.width, shot.height) == (WIDTH, HEIGHT)
        live = await room.stats()
        assert live.relays["applicant.video"].pli_sent >= 1  # the late joiner's keyframe
    finally:
        for client in clients:
            await client.close()
        await room.close()

    assert room.worker_pid in {w.pid for w in pool.health()}
    assert room.worker_pid != os.getpid()
    video = sorted((s for s in sink.segments if s.kind == "video"), key=lambda s: s.seq)
    assert len(video) >= 2
    assert [s.seq for s in video] == list(range(len(video)))
    counters = []
    for segment in video:
        with av.open(str(tmp_path / segment.path.name)) as container:
            frames = [read_counter(f.to_ndarray(format="gray")) for f in container.decode(video=0)]
        assert len(frames) == segment.frame_count
        counters += frames
    assert all(b == a + 1 for a, b in itertools.pairwise(counters))  # 0 missing
    assert room.final_stats is not None
    recorder = room.final_stats.recorders["applicant.video"]
    assert len(counters) == recorder.recorded
    assert recorder.recorded == recorder.received - recorder.skipped_before_keyframe
    assert not list((tmp_path / "work").iterdir())  # stored segments are removed


async def test_rooms_are_pinned_to_the_worker_with_fewest_rooms(
    pool: MediaWorkerPool, tmp_path: Path
) -> None:
    rooms = [room_in(pool, tmp_path)[0] for _ in range(3)]
    try:
        assert [r.worker_index for r in rooms] == [0, 1, 0]
        assert [w.rooms for w in pool.health()] == [2, 1]
        await rooms[0].close()
        fourth = room_in(pool, tmp_path)[0]
        rooms.append(fourth)
        assert fourth.worker_index == 0
    finally:
        for room in rooms:
            await room.close()
    assert [w.rooms for w in pool.health()] == [0, 0]


def h264_only(pc: RTCPeerConnection) -> None:
    codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "H264"]
    for transceiver in pc.getTransceivers():
        transceiver.setCodecPreferences(codecs)


async def h264_offer() -> str:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    h264_only(pc)
    await pc.setLocalDescription(await pc.createOffer())
    sdp = str(pc.localDescription.sdp)
    await pc.close()
    return sdp


async def failure(call: Any) -> tuple[type[BaseException], str]:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - compared below, type and text
        await call
    return type(caught.value), str(caught.value)


async def test_worker_errors_come_back_with_their_type_and_message(
    pool: MediaWorkerPool, tmp_path: Path
) -> None:
    room, _ = room_in(pool, tmp_path)
    local = PeerSession(sink=MemorySink(tmp_path), directory=tmp_path / "work")
    offer = await h264_offer()
    watermark = Watermark("QX-1", "张三", datetime.now(UTC), "2024-05-01 10:20:30")
    try:
        for session in (local, room):
            bad_role = await failure(session.handle_offer("x", "observer", offer))
            assert bad_role == (ValueError, "unknown media role 'observer'")
            no_vp8 = await failure(session.handle_offer("i1", "inspector", offer))
            assert no_vp8 == (ValueError, "the offer has no video/VP8")
            no_video = await failure(session.snapshot(watermark, wait_seconds=0.1))
            assert no_video == (SnapshotError, "the applicant is not sending video")
    finally:
        await room.close()
        await local.close()
    closed = await failure(room.handle_offer("i1", "inspector", offer))
    assert closed[0] is WorkerError
    assert "not open" in closed[1]


async def test_a_killed_worker_fails_its_rooms_and_a_replacement_serves_new_ones(
    tmp_path: Path,
) -> None:
    pool = MediaWorkerPool(1, setup=loopback_only)
    await pool.start()
    lost: list[RemoteSession] = []
    clients: list[Client] = []
    try:
        room, _ = room_in(pool, tmp_path, on_lost=lost.append)
        clients.append(
            await connect(lambda s: room.handle_offer("p", "applicant", s), role="applicant")
        )
        (before,) = pool.health()
        assert before.pid is not None
        os.kill(before.pid, signal.SIGSTOP)  # a call is surely still pending when it dies
        worker, calls_before = room._worker, set(room._worker._pending)
        pending = asyncio.ensure_future(room.stats())
        # the request is registered (and written) before the reply is awaited: no fixed sleep
        await wait_until(lambda: bool(set(worker._pending) - calls_before), what="the call sent")
        assert not pending.done()
        os.kill(before.pid, signal.SIGKILL)
        with pytest.raises(WorkerLost):
            await asyncio.wait_for(pending, 10)
        assert lost == [room]
        assert room.lost
        with pytest.raises(WorkerLost):
            await room.handle_offer("i1", "inspector", "v=0\r\n")
        await room.leave("p")  # its connection died with the worker: nothing to do
        await room.close()

        await wait_until(lambda: pool.ok, within=60)
        (after,) = pool.health()
        assert after.restarts == 1
        assert after.pid not in (None, before.pid)
        assert not alive(before.pid)
        second, _ = room_in(pool, tmp_path)
        phone = await connect(lambda s: second.handle_offer("p", "applicant", s), role="applicant")
        clients.append(phone)

        async def receiving() -> bool:
            return (await second.stats()).relays["applicant.video"].packets_in > 10

        await wait_until(receiving, within=15, what="video at the replacement worker")
        await second.close()
    finally:
        for client in clients:
            await client.close()
        await pool.stop()


async def test_stop_stores_the_last_segments_and_leaves_no_worker_process(
    tmp_path: Path,
) -> None:
    pool = MediaWorkerPool(2, setup=loopback_only)
    await pool.start()
    pids = [w.pid for w in pool.health() if w.pid is not None]
    sink = MemorySink(tmp_path)
    room, _ = room_in(pool, tmp_path, sink=sink, segment_seconds=600)
    phone = await connect(lambda s: room.handle_offer("p", "applicant", s), role="applicant")
    try:

        async def recorded() -> bool:
            return (await room.stats()).recorders["applicant.video"].recorded >= 30

        await wait_until(recorded, within=15, what="30 recorded frames")
        assert not sink.segments  # one long segment, still open
        await pool.stop()  # the room was not closed first: stop() closes it
    finally:
        await phone.close()
    assert {s.track_id for s in sink.segments} >= {"applicant.video", "applicant.audio"}
    video = next(s for s in sink.segments if s.kind == "video")
    with av.open(str(tmp_path / video.path.name)) as container:
        assert sum(1 for _ in container.decode(video=0)) == video.frame_count >= 30
    assert len(pids) == 2
    children = {c.pid for c in psutil.Process().children(recursive=True)}
    assert not children & set(pids)
    assert not any(alive(pid) for pid in pids)
    assert [w.state for w in pool.health()] == ["stopped", "stopped"]
    with pytest.raises(WorkerError, match="not running"):
        room_in(pool, tmp_path)


ORPHAN_SCRIPT = """
import asyncio, sys
from media.workers import MediaWorkerPool

async def main():
    pool = MediaWorkerPool(2)
    await pool.start()
    print(" ".join(str(w.pid) for w in pool.health()), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_workers_exit_when_the_web_process_is_killed() -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", ORPHAN_SCRIPT, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(parent.stdout.readline(), 60)
        pids = [int(p) for p in line.split()]
        assert len(pids) == 2
        assert all(alive(pid) for pid in pids)
        parent.kill()  # SIGKILL: no shutdown code runs in the parent
        await asyncio.wait_for(parent.wait(), 10)
        await wait_gone(pids)
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()


FORGETFUL_SCRIPT = """
import asyncio
from media.workers import MediaWorkerPool

KEPT = []  # still referenced at interpreter exit, as an app held by a module would be

async def main():
    pool = MediaWorkerPool(2)
    await pool.start()
    KEPT.append(pool)
    print(" ".join(str(w.pid) for w in pool.health()), flush=True)

asyncio.run(main())  # returns without pool.stop(): interpreter exit must not hang
"""


async def test_a_parent_that_exits_without_stopping_its_pool_does_not_hang() -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FORGETFUL_SCRIPT, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(parent.stdout.readline(), 60)
        pids = [int(p) for p in line.split()]
        assert len(pids) == 2
        assert await asyncio.wait_for(parent.wait(), 30) == 0
        await wait_gone(pids)
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()


async def test_workers_run_the_configured_event_loop(tmp_path: Path) -> None:
    plain = MediaWorkerPool(1, setup=loopback_only, event_loop="asyncio")
    await plain.start()
    try:
        (worker,) = plain.health()
        assert worker.event_loop.startswith("asyncio")
        room, _ = room_in(plain, tmp_path, segment_seconds=1.0)
        phone = await connect(lambda s: room.handle_offer("p", "applicant", s), role="applicant")
        try:

            async def flowing() -> bool:
                return (await room.stats()).relays["applicant.video"].packets_in >= 30

            await wait_until(flowing, what="30 video packets in")
        finally:
            await phone.close()
            await room.close()
    finally:
        await plain.stop()


async def test_workers_default_to_uvloop(pool: MediaWorkerPool) -> None:
    assert {w.event_loop for w in pool.health()} == {"uvloop"}


async def test_pool_refuses_bad_configuration(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1 worker"):
        MediaWorkerPool(0)
    with pytest.raises(ValueError, match="uvloop"):
        MediaWorkerPool(1, event_loop="trio")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="spawn"):
        MediaWorkerPool(1, start_method="fork")  # type: ignore[arg-type]
    with pytest.raises(WorkerError, match="not running"):
        room_in(MediaWorkerPool(1), tmp_path)


def test_media_workers_setting_defaults_to_the_cores_and_refuses_a_negative_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().media_workers == len(os.sched_getaffinity(0))
    monkeypatch.setenv("CLOUDINSPECT_MEDIA_WORKERS", "0")
    assert Settings().media_workers == 0
    with pytest.raises(ValidationError, match="media_workers"):
        Settings(media_workers=-1)
    assert Settings().media_event_loop == "uvloop"
    with pytest.raises(ValidationError, match="media_event_loop"):
        Settings(media_event_loop="trio")  # type: ignore[arg-type]
