"""Snapshots decode the latest GOP off the loop and carry a visible watermark."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from media.peers import PeerSession
from media.snapshots import Watermark, decode_last_picture
from tests.helpers import wait_until
from tests.media import HEIGHT, WIDTH, MemorySink, connect, loopback_ice  # noqa: F401

pytestmark = pytest.mark.usefixtures("loopback_ice")


async def test_snapshot_is_full_resolution_and_watermarked(tmp_path: Path) -> None:
    session = PeerSession(sink=MemorySink(tmp_path), directory=tmp_path, record=False)
    phone = await connect(lambda s: session.handle_offer("p", "applicant", s), role="applicant")
    try:
        relay = session.relays["applicant.video"]
        await wait_until(lambda: len(relay.latest_gop()) > 3)
        watermark = Watermark(
            "QX-2024-001", "张三", datetime.now(UTC), "2024-05-01 10:20:30", gps=(31.23, 121.47)
        )
        snapshot = await session.snapshot(watermark)
        plain = np.asarray(decode_last_picture(relay.latest_gop(), "vp8").convert("L"), float)
    finally:
        await phone.close()
        await session.close()
    picture = np.asarray(Image.open(io.BytesIO(snapshot.jpeg)).convert("L"), float)
    assert (snapshot.width, snapshot.height) == (WIDTH, HEIGHT)
    bottom_left = np.abs(
        picture[-HEIGHT // 4 :, : WIDTH // 3] - plain[-HEIGHT // 4 :, : WIDTH // 3]
    )
    # the text box darkens/brightens the bottom-left; the (moving) rest is only compared loosely
    assert bottom_left.mean() > 20
    assert (bottom_left > 40).mean() > 0.3
