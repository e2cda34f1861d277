"""A track's whole recording as one WebM: real segments in, one continuous file out, gaps kept.

Segments are made by the real recorder from aiortc's own VP8 and Opus encoders (a frame-counter
pattern and a tone), handed through the passthrough decoder as the server's receiver does, and
stored by the app's evidence sink in the session's SeaweedFS. The recorder's wall clock is a
test clock, so a gap lasts exactly as long as the test says.
"""

from __future__ import annotations

import io
import itertools
import os
import time
from pathlib import Path

import av
import httpx
import pytest
from fastapi import FastAPI

from media.peers import PeerSession
from server.context import AppContext
from server.evidence.playback import (
    SOURCE_CLOCK_HEADER,
    STALE_WORK_SECONDS,
    sweep_stale_work,
)
from server.live.media_adapter import EvidenceSink, _Room
from tests.evidence.recording import (
    FPS,
    decoded,
    evidence,
    journey,
    phone,
    poll,
    reads,
    record,
    url,
    work_files,
)
from tests.flows import Journey
from tests.helpers import wait_until
from tests.media import connect, loopback_ice

__all__ = ["journey", "loopback_ice"]


async def test_a_video_track_plays_as_one_file_with_the_gap_kept_as_a_hole(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    publisher = await record(app, journey.case_id, "video", tmp_path)
    segments = await evidence(ctx, journey.case_id, "segment", "applicant.video")
    (gap,) = await evidence(ctx, journey.case_id, "gap", "applicant.video")
    assert len(segments) >= 4

    response = await client.get(
        url(journey.case_id, "applicant.video"), headers=journey.inspector_headers(0)
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/webm"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert f"{journey.case['number']}-applicant.video.webm" in disposition
    assert response.headers["x-recording-segments"] == str(len(segments))
    assert response.headers["x-recording-started-at"] == segments[0].meta["started_at"]
    pts, counters = decoded(response.content, "video")
    frames = sum(int(s.meta["frame_count"]) for s in segments)
    assert len(pts) == frames == publisher.recorder.recorded == publisher.sent
    assert counters == list(range(publisher.sent))  # every frame, in order, none twice
    assert all(b > a for a, b in itertools.pairwise(pts))
    jumps = [b - a for a, b in itertools.pairwise(pts)]
    hole = max(jumps)
    assert hole >= round(gap.meta["seconds"] * 1000)
    assert counters[jumps.index(hole) + 1] == int(2.5 * FPS)  # the hole is where the phone left
    assert sorted(jumps)[-2] <= 1000 / FPS + 1  # elsewhere frames follow at the frame rate
    covered = sum(s.meta["media_end"] - s.meta["media_start"] for s in segments)
    assert pts[-1] / 1000 >= covered + gap.meta["seconds"] - 0.01
    where, seconds = (
        float(v.split("=")[1]) for v in response.headers["x-recording-gaps"].split(";")
    )
    assert where * 1000 == pytest.approx(pts[jumps.index(hole)], abs=1)
    assert seconds * 1000 == pytest.approx(hole, abs=1)
    (read,) = await reads(ctx, journey.case_id)
    assert read.detail == {
        "what": "recording:applicant.video",
        "evidence_ids": [s.id for s in segments],
    }
    assert work_files(ctx) == []


async def test_an_audio_track_plays_as_one_file_with_its_opus_header(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    publisher = await record(app, journey.case_id, "audio", tmp_path)
    segments = await evidence(ctx, journey.case_id, "segment", "applicant.audio")
    (gap,) = await evidence(ctx, journey.case_id, "gap", "applicant.audio")

    response = await client.get(url(journey.case_id, "applicant.audio"), headers=journey.dispatcher)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/webm"
    with av.open(io.BytesIO(response.content)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus"
        assert stream.codec_context.extradata[:8] == b"OpusHead"
    pts, _ = decoded(response.content, "audio")
    assert len(pts) == sum(int(s.meta["frame_count"]) for s in segments) == publisher.sent
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert max(b - a for a, b in itertools.pairwise(pts)) >= round(gap.meta["seconds"] * 1000)
    assert pts[-1] / 1000 >= publisher.media - publisher.step - 0.01  # 2.5 s + away + 1.5 s


async def test_a_track_still_being_recorded_serves_what_is_stored(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    publisher = phone(app, journey.case_id, "video", tmp_path)
    await publisher.run(int(2.5 * FPS))  # segments 0 and 1 closed, segment 2 still open
    await poll(lambda: evidence(ctx, journey.case_id, "segment", "applicant.video"), 2)
    segments = await evidence(ctx, journey.case_id, "segment", "applicant.video")

    response = await client.get(
        url(journey.case_id, "applicant.video"), headers=journey.inspector_headers(1)
    )

    assert response.status_code == 200, response.text
    pts, counters = decoded(response.content, "video")
    assert len(pts) == sum(int(s.meta["frame_count"]) for s in segments) < publisher.sent
    assert counters == list(range(len(pts)))
    assert response.headers["x-recording-gaps"] == ""
    publisher.leave(0)
    await publisher.recorder.drain()


# --- a real call ---------------------------------------------------------------------------


@pytest.mark.usefixtures("loopback_ice")
async def test_a_real_call_with_a_rejoin_plays_through_with_its_gap(
    app: FastAPI, ctx: AppContext, client: httpx.AsyncClient, journey: Journey, tmp_path: Path
) -> None:
    session = PeerSession(
        sink=EvidenceSink(_Room(app, journey.case_id)), directory=tmp_path, segment_seconds=1.0
    )
    try:
        for _ in range(2):  # the phone joins, drops, and rejoins
            camera = await connect(
                lambda s: session.handle_offer("p", "applicant", s), role="applicant"
            )
            relay = session.relays["applicant.video"]
            target = relay.packets_in + 60
            await wait_until(lambda r=relay, t=target: r.packets_in >= t)
            await camera.close()
            await session.leave("p")
    finally:
        await session.close()
    recorder = session.recorders["applicant.video"]
    (gap,) = await evidence(ctx, journey.case_id, "gap", "applicant.video")

    response = await client.get(url(journey.case_id, "applicant.video"), headers=journey.admin)

    assert response.status_code == 200, response.text
    pts, counters = decoded(response.content, "video")
    assert len(pts) == recorder.recorded
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert max(b - a for a, b in itertools.pairwise(pts)) >= round(gap.meta["seconds"] * 1000)
    runs = [c for a, c in itertools.pairwise(counters) if c != a + 1]
    assert len(runs) == 1  # two runs of the phone, each without a missing frame
    # The phone's sender reports put its own clock on the segments, and on the file's first frame.
    segments = await evidence(ctx, journey.case_id, "segment", "applicant.video")
    assert any(row.meta.get("first_frame_ntp") for row in segments)
    first_ntp = segments[0].meta.get("first_frame_ntp")
    assert response.headers.get(SOURCE_CLOCK_HEADER) == (str(first_ntp) if first_ntp else None)
    audio = await client.get(url(journey.case_id, "applicant.audio"), headers=journey.admin)
    assert audio.status_code == 200, audio.text
    audio_pts, _ = decoded(audio.content, "audio")
    assert len(audio_pts) == session.recorders["applicant.audio"].recorded
    assert all(b > a for a, b in itertools.pairwise(audio_pts))


def test_startup_sweeps_only_work_folders_left_long_ago(tmp_path: Path) -> None:
    root = tmp_path / "playback"
    old, fresh = root / "case-old", root / "case-fresh"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "track.webm").write_bytes(b"partial")
    now = time.time()
    long_ago = now - STALE_WORK_SECONDS - 60
    os.utime(old, (long_ago, long_ago))

    assert sweep_stale_work(tmp_path, now=now) == 1
    assert not old.exists()
    assert fresh.exists()  # another process may be serving it right now
    assert sweep_stale_work(tmp_path / "nothing-here", now=now) == 0
