"""Segmented WebM recording: bit-exact, complete, and an explicit gap on a rejoin."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import pytest

from media.peers import MediaSession
from tests.media import MemorySink, connect, loopback_ice, read_counter, wait_for  # noqa: F401

pytestmark = pytest.mark.usefixtures("loopback_ice")


def decode_counters(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [read_counter(f.to_ndarray(format="gray")) for f in container.decode(video=0)]


async def test_segments_cover_every_received_frame_and_a_rejoin_leaves_a_gap(
    tmp_path: Path,
) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    sink = MemorySink(kept)
    session = MediaSession(sink=sink, directory=tmp_path, segment_seconds=1.0)
    relay = None
    try:
        for _ in range(2):  # the phone joins, drops, and rejoins
            phone = await connect(
                lambda s: session.handle_offer("p", "applicant", s), role="applicant"
            )
            relay = session.relays["applicant.video"]
            target = relay.packets_in + 75
            await wait_for(lambda r=relay, t=target: r.packets_in >= t)
            await phone.close()
            await session.leave("p")
    finally:
        await session.close()
    recorder = session.recorders["applicant.video"]
    video = sorted((s for s in sink.segments if s.kind == "video"), key=lambda s: s.seq)
    audio = [s for s in sink.segments if s.kind == "audio"]

    assert len(video) >= 4
    assert audio
    assert [s.seq for s in video] == list(range(len(video)))
    assert all(s.keyframe_started for s in video)
    counters = [n for s in video for n in decode_counters(kept / s.path.name)]
    frames = sum(s.frame_count for s in video)
    assert len(counters) == frames == recorder.recorded
    assert recorder.recorded == recorder.received - recorder.skipped_before_keyframe
    runs = [0]  # two publisher runs, each contiguous: 0 missing frames
    for previous, current in itertools.pairwise(counters):
        if current != previous + 1:
            runs.append(current)
    assert len(runs) == 2
    assert runs[1] < 5
    assert sorted(g.track_id for g in sink.gaps) == ["applicant.audio", "applicant.video"]
    gap = next(g for g in sink.gaps if g.kind == "video")
    assert gap.started_at < gap.ended_at
    for segment in video:
        assert segment.started_at <= segment.ended_at
    with av.open(str(kept / audio[0].path.name)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.extradata[:8] == b"OpusHead"
        assert sum(1 for _ in container.decode(audio=0)) > 10
