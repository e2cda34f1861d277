"""The registry of rooms and media sessions, as the app's shutdown uses it."""

from __future__ import annotations

from signaling.registry import Registry
from signaling.testing import FakeMediaFactory, FakeMediaSession


async def test_shutdown_closes_every_media_session_so_recordings_are_stored() -> None:
    factory = FakeMediaFactory()
    registry = Registry(factory)
    sessions = [registry.media("case-1"), registry.media("case-2")]
    assert await registry.close_all() == 2
    assert all(isinstance(s, FakeMediaSession) and s.closed for s in sessions)
    assert registry.existing_media("case-1") is None
    assert await registry.close_all() == 0
