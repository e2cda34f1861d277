"""The registry of rooms and media sessions, as the app's shutdown uses it."""

from __future__ import annotations

import time

from signaling.registry import Registry
from signaling.room import Identity
from tests.signaling.fakes import FakeMediaFactory, FakeRoomMedia


async def test_shutdown_closes_every_media_session_so_recordings_are_stored() -> None:
    factory = FakeMediaFactory()
    registry = Registry(factory)
    sessions = [registry.media("case-1"), registry.media("case-2")]
    assert await registry.close_all() == 2
    assert all(isinstance(s, FakeRoomMedia) and s.closed for s in sessions)
    assert registry.existing_media("case-1") is None
    assert await registry.close_all() == 0


def test_a_join_checked_before_a_logout_is_refused_after_it() -> None:
    registry = Registry(FakeMediaFactory())
    lead = Identity("i1", "inspector", credential="login-1")
    asked = time.monotonic()
    assert not registry.ended_since(lead, asked)
    registry.kick("i1", credential="login-2")  # another login of the same inspector
    assert not registry.ended_since(lead, asked)
    registry.kick("i1", credential="login-1")
    assert registry.ended_since(lead, asked)
    assert not registry.ended_since(
        lead, time.monotonic()
    )  # checked after: the token check refuses it
    registry.kick("i1")  # disabled: every login
    assert registry.ended_since(Identity("i1", "inspector", credential="login-3"), asked)
