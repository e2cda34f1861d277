"""A whole call on the real app: real tokens, signaling over WebSockets, aiortc peers, SeaweedFS.

The phone streams a moving pattern with a frame-counter barcode; the inspectors see it, take a
snapshot, the phone drops and rejoins, everyone leaves. Then the evidence must be complete:
every segment in storage with its hash, together holding every frame the server received.
Each call runs twice: media in the web process, and media in two worker processes started by
the app's lifespan (``media_workers``).
"""

from __future__ import annotations

import io
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import av
import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from media.workers import RemoteSession
from server.app import create_app
from server.audit.models import AuditRecord
from server.config import Settings
from server.context import AppContext
from server.evidence.models import Evidence
from server.live.media_adapter import CaseMedia, media_factory
from server.live.wiring import install
from signaling.messages import CloseCode
from tests.evidence import Member, join, token
from tests.fixtures.app import Api
from tests.flows import Journey, schedule, start_journey
from tests.helpers import alive, wait_until
from tests.media import Client, connect, loopback_ice, read_counter  # noqa: F401
from tests.media.helpers import loopback_only
from tests.signaling.live_server import running

pytestmark = pytest.mark.usefixtures("loopback_ice")

FAR = {"latitude": 26.0878 + 0.05, "longitude": 119.3036, "accuracy_m": 30.0}  # ~5.6 km north


@pytest.fixture(params=[0, 2], ids=["in-process", "workers"])
async def app(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[FastAPI]:
    """The real app with ``request.param`` media worker processes (0: media in this process)."""
    workers = settings.model_copy(update={"media_workers": request.param})
    app = create_app(workers, media_worker_setup=loopback_only)
    async with app.router.lifespan_context(app):
        yield app


def frames_of(client: Client) -> list[tuple[float, int]]:
    return next((r.frames for r in client.received if r.kind == "video"), [])


def after(client: Client, moment: float) -> list[int]:
    """Frame counters received after ``moment`` (monotonic clock)."""
    return [n for t, n in frames_of(client) if t > moment]


def check_where_media_runs(app: FastAPI, media: CaseMedia) -> None:
    workers = app.state.ctx.settings.media_workers
    if workers == 0:
        assert not isinstance(media.peers, RemoteSession)
        return
    assert isinstance(media.peers, RemoteSession)
    assert media.peers.worker_pid != os.getpid()
    health = app.state.ctx.media_pool.health()
    assert media.peers.worker_pid in {w.pid for w in health}
    assert len(health) == workers


def decode_counters(data: bytes) -> list[tuple[int, np.ndarray[Any, Any]]]:
    container: Any = av.open(io.BytesIO(data))
    with container:
        return [
            (read_counter(gray), gray)
            for gray in (f.to_ndarray(format="gray") for f in container.decode(video=0))
        ]


async def rows(ctx: AppContext, case_id: str, kind: str) -> list[Evidence]:
    async with ctx.sessionmaker() as session:
        found = await session.scalars(
            select(Evidence).where(Evidence.case_id == case_id, Evidence.kind == kind)
        )
        return list(found)


async def audit_actions(ctx: AppContext, case_id: str, action: str) -> list[AuditRecord]:
    async with ctx.sessionmaker() as session:
        found = await session.scalars(
            select(AuditRecord).where(AuditRecord.case_id == case_id, AuditRecord.action == action)
        )
        return list(found)


async def started_case(api: Api) -> tuple[Journey, str]:
    """A scheduled case whose inspection has started; returns it and its first item."""
    journey = await start_journey(api)
    await schedule(journey)
    lead = journey.inspector_headers(0)
    started = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/inspection/start", headers=lead
    )
    assert started.status_code == 200, started.text
    checklist = await api.client.get(f"/api/v1/cases/{journey.case_id}/checklist", headers=lead)
    return journey, str(checklist.json()["items"][0]["id"])


async def phone_streams(url: str, journey: Journey) -> tuple[Member, Client]:
    phone = await join(url, token(journey.applicant))
    return phone, await connect(phone.answer, role="applicant")


async def test_a_call_leaves_complete_evidence(app: FastAPI, api: Api, ctx: AppContext) -> None:
    factory = media_factory(app, segment_seconds=1.5)
    install(app, factory)
    journey, item = await started_case(api)
    async with running(app) as base:
        url = f"{base}/ws/cases/{journey.case_id}"
        lead = await join(url, token(journey.inspector_headers(0)))
        second = await join(url, token(journey.inspector_headers(1)))
        views = [await connect(m.answer, role="inspector") for m in (lead, second)]
        phone, camera = await phone_streams(url, journey)
        media: CaseMedia = factory.open[journey.case_id]

        # both inspectors see the phone's picture at the rate it is sent: no frame missing
        window = time.monotonic()
        await wait_until(lambda: all(len(after(v, window)) >= 45 for v in views), within=15)
        for view in views:
            counters = after(view, window)
            assert counters == list(range(counters[0], counters[0] + len(counters)))
        check_where_media_runs(app, media)

        # the phone reports a position far from the site; the lead is on item 1
        await phone.send(type="location", **FAR)
        await lead.wait("location_reported")
        await lead.send(type="current_item", item_id=item)
        await second.wait("current_item_changed")
        await wait_for_audit(ctx, journey.case_id, "inspection.current_item")
        await wait_for_audit(ctx, journey.case_id, "live.location")
        await wait_for_audit(ctx, journey.case_id, "live.recording_started")

        start = len(lead.messages)
        await lead.send(type="snapshot_request", request_id="r1")
        result = await lead.wait("snapshot_result", start, within=15)
        assert result["ok"], result
        await second.wait("snapshot_result")

        # the phone drops and comes back
        await camera.close()
        await phone.close()
        await lead.wait("participant_left", where=lambda m: m["participant_id"] != "")
        await wait_for_audit(ctx, journey.case_id, "live.recording_stopped")  # no phone, no film
        phone, camera = await phone_streams(url, journey)
        seen = len(frames_of(views[0]))
        await wait_until(lambda: len(frames_of(views[0])) >= seen + 30, within=15)

        for client in (camera, *views):
            await client.close()
        for joined in (phone, lead, second):
            await joined.close()
        await wait_for_closed(media)

    await check_snapshot(ctx, journey.case_id, result["snapshot_id"], item)
    await check_segments(ctx, journey.case_id, media, result["snapshot_id"])
    await check_location_flag(ctx, journey.case_id)
    recordings = await api.client.get(
        f"/api/v1/cases/{journey.case_id}/recordings", headers=journey.inspector_headers(0)
    )
    assert recordings.status_code == 200, recordings.text
    check_gap_in_playlist(recordings.json())


async def wait_for_audit(ctx: AppContext, case_id: str, action: str) -> None:
    found: list[AuditRecord] = []

    async def poll() -> bool:
        found[:] = await audit_actions(ctx, case_id, action)
        return bool(found)

    await wait_until(poll)


async def wait_for_closed(media: CaseMedia) -> None:
    async def closed() -> bool:
        return media.closed.is_set()

    await wait_until(closed, within=30)


async def check_snapshot(ctx: AppContext, case_id: str, snapshot_id: str, item: str) -> None:
    (snapshot,) = await rows(ctx, case_id, "snapshot")
    assert snapshot.id == snapshot_id
    assert snapshot.item_ids == [item]
    assert snapshot.created_by.startswith("staff:")
    assert snapshot.off_site
    assert snapshot.distance_m is not None
    assert 5000 < snapshot.distance_m < 6000
    assert snapshot.audit_seq is not None
    assert snapshot.object_key is not None
    jpeg = await ctx.store.get_verified(snapshot.object_key, snapshot.sha256)
    picture = Image.open(io.BytesIO(jpeg))
    assert picture.format == "JPEG"
    assert picture.size == (640, 480)


async def check_segments(ctx: AppContext, case_id: str, media: CaseMedia, snapshot_id: str) -> None:
    segments = await rows(ctx, case_id, "segment")
    video = sorted(
        (s for s in segments if s.meta["track_id"] == "applicant.video"),
        key=lambda s: s.meta["seq"],
    )
    tracks = {s.meta["track_id"] for s in segments}
    assert {"applicant.video", "applicant.audio", "inspector0.audio"} <= tracks
    assert [s.meta["seq"] for s in video] == list(range(len(video)))
    assert len(video) >= 3
    decoded: list[tuple[int, np.ndarray[Any, Any]]] = []
    for segment in video:
        assert segment.object_key is not None
        data = await ctx.store.get_verified(segment.object_key, segment.sha256)
        frames = decode_counters(data)
        assert len(frames) == segment.meta["frame_count"]
        decoded += frames
    stats = await media.stats()
    assert stats is not None
    recorder = stats.recorders["applicant.video"]
    counters = [n for n, _ in decoded]
    # every frame the server received (after the first keyframe) is in the recording
    assert len(counters) == recorder.recorded
    assert recorder.recorded == recorder.received - recorder.skipped_before_keyframe
    runs = [counters[0]]  # two publisher runs, each without a missing frame
    for previous, current in itertools.pairwise(counters):
        if current != previous + 1:
            runs.append(current)
    assert len(runs) == 2, runs
    await check_watermark(ctx, case_id, snapshot_id, dict(decoded))


async def check_watermark(
    ctx: AppContext, case_id: str, snapshot_id: str, plain: dict[int, np.ndarray[Any, Any]]
) -> None:
    """The snapshot is the recorded frame plus a watermark box at the bottom left."""
    (snapshot,) = [s for s in await rows(ctx, case_id, "snapshot") if s.id == snapshot_id]
    assert snapshot.object_key is not None
    jpeg = await ctx.store.get(snapshot.object_key)
    gray = np.asarray(Image.open(io.BytesIO(jpeg)).convert("L")).astype(np.int16)
    frame = plain[read_counter(gray.astype(np.uint8))].astype(np.int16)
    box = np.abs(gray[440:470, 20:120] - frame[440:470, 20:120]).mean()
    elsewhere = np.abs(gray[300:360, 400:600] - frame[300:360, 400:600]).mean()
    assert elsewhere < 8, elsewhere
    assert box > 25 + elsewhere, (box, elsewhere)


async def check_location_flag(ctx: AppContext, case_id: str) -> None:
    (record,) = await audit_actions(ctx, case_id, "live.location")
    assert record.detail["off_site"] is True
    assert 5000 < record.detail["distance_m"] < 6000


def check_gap_in_playlist(body: Any) -> None:
    assert isinstance(body, dict), body
    track = next(t for t in body["tracks"] if t["track_id"] == "applicant.video")
    types = [e["type"] for e in track["entries"]]
    assert "gap" in types
    gap = track["entries"][types.index("gap")]
    assert gap["evidence_id"]
    assert not gap["inferred"]
    assert types[0] == "segment"
    assert all(e["url"].startswith("http") for e in track["entries"] if e["type"] == "segment")


@pytest.mark.parametrize("app", [2], indirect=True, ids=["workers"])
async def test_a_killed_media_worker_ends_the_call_and_a_rejoined_call_works(
    app: FastAPI, api: Api, ctx: AppContext
) -> None:
    factory = media_factory(app, segment_seconds=1.5)
    install(app, factory)
    journey, _ = await started_case(api)
    async with running(app) as base:
        url = f"{base}/ws/cases/{journey.case_id}"
        lead = await join(url, token(journey.inspector_headers(0)))
        view = await connect(lead.answer, role="inspector")
        phone, camera = await phone_streams(url, journey)
        media: CaseMedia = factory.open[journey.case_id]
        await wait_until(lambda: len(frames_of(view)) >= 30, within=15)

        async def a_video_segment_is_stored() -> bool:
            stored = await rows(ctx, journey.case_id, "segment")
            return any(s.meta["track_id"] == "applicant.video" for s in stored)

        await wait_until(a_video_segment_is_stored, within=15)  # audio may be stored first
        assert isinstance(media.peers, RemoteSession)
        killed = media.peers.worker_pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)

        # every participant is told: the socket closes with 1011 and a real client rejoins
        for member in (lead, phone):
            await wait_until(member._task.done, within=10)
            assert member.ws.close_code == CloseCode.internal
        await wait_for_closed(media)
        for client in (view, camera):
            await client.close()
        health = await healthy(api, journey.admin)
        assert [w["restarts"] for w in health["media"]["processes"]].count(1) == 1
        assert not alive(killed)

        lead = await join(url, token(journey.inspector_headers(0)))
        view = await connect(lead.answer, role="inspector")
        phone, camera = await phone_streams(url, journey)
        rejoined: CaseMedia = factory.open[journey.case_id]
        assert rejoined is not media
        assert isinstance(rejoined.peers, RemoteSession)
        assert rejoined.peers.worker_pid != killed
        window = time.monotonic()
        await wait_until(lambda: len(after(view, window)) >= 30, within=15)
        for client in (view, camera):
            await client.close()
        for joined in (lead, phone):
            await joined.close()
        await wait_for_closed(rejoined)

    segments = await rows(ctx, journey.case_id, "segment")
    seqs = [s.meta["seq"] for s in segments if s.meta["track_id"] == "applicant.video"]
    assert len(seqs) >= 2
    assert len(set(seqs)) == len(seqs)  # the rejoined call's segments continue the numbering


async def healthy(api: Api, admin: dict[str, str]) -> dict[str, Any]:
    """The detailed health once every media worker serves again (bounded polling)."""
    answers: list[httpx.Response] = []

    async def serving() -> bool:
        answers.append(await api.client.get("/api/v1/ops/health", headers=admin))
        assert answers[-1].status_code == 200 or answers[-1].json()["media"]["ok"] is False
        return answers[-1].status_code == 200

    await wait_until(serving, within=60, interval=0.1, what="every media worker serving")
    body: dict[str, Any] = answers[-1].json()
    return body


async def test_shutdown_stores_the_segment_in_progress_then_stops_the_workers(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    app = create_app(
        settings.model_copy(update={"media_workers": 2}), media_worker_setup=loopback_only
    )
    factory = media_factory(app, segment_seconds=600)  # one long segment, open at shutdown
    install(app, factory)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    shut_down = False
    try:
        ctx: AppContext = app.state.ctx
        pids = [w.pid for w in ctx.media_pool.health()]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            journey, _ = await started_case(Api(client, ctx))
        async with running(app) as base:
            url = f"{base}/ws/cases/{journey.case_id}"
            lead = await join(url, token(journey.inspector_headers(0)))  # recorded with them in
            phone, camera = await phone_streams(url, journey)
            media: CaseMedia = factory.open[journey.case_id]

            async def recording() -> bool:
                stats = await media.stats()
                return stats is not None and stats.recorders["applicant.video"].recorded >= 30

            await wait_until(recording, within=15)
            assert not await rows(ctx, journey.case_id, "segment")
            shut_down = True
            await lifespan.__aexit__(None, None, None)  # the app stops mid-call
            await camera.close()
            await phone.close()
            await lead.close()
    finally:
        if not shut_down:
            await lifespan.__aexit__(None, None, None)
    async with sessionmaker() as session:
        found = await session.scalars(
            select(Evidence).where(Evidence.case_id == journey.case_id, Evidence.kind == "segment")
        )
        video = [s for s in found if s.meta["track_id"] == "applicant.video"]
    assert len(video) == 1
    assert video[0].meta["frame_count"] >= 30
    assert len(pids) == 2
    assert not any(alive(pid) for pid in pids if pid is not None)
