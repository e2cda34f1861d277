"""Shared fixtures: real databases (SQLite and PostgreSQL) and a real SeaweedFS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.db import make_engine
from server.sessions import app_sessionmaker
from server.sla.clock import SlaPolicy

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.seaweed",
    "tests.fixtures.app",
    "tests.fixtures.clock",
]

# Where timing is part of what is checked (live media measured, a killed process), tests run on
# their own after the rest; ``make test`` runs the rest on both cores (pytest-xdist).
# (tests/live/, the aiortc hooks and trickle tests passed three runs in a row on both cores
# with the machine loaded by other work: their waits are bounded, not timed. So do the browser
# tests in tests/e2e/: each has its own app, SeaweedFS and Chromium, and waits by polling.)
SERIAL = (
    "tests/media/test_bandwidth.py",
    "tests/media/test_recorder.py",
    "tests/media/test_relay.py",
    "tests/media/test_snapshots.py",
    "tests/media/test_sync.py",
    "tests/media/test_workers.py",
    "tests/evidence/test_live_call.py",
    "tests/reliability/test_kill_acknowledged.py",
    "tests/reliability/test_scheduler_kill.py",
)


# A table of input variants (hostile files, impossible positions and times, a tampered bundle,
# forms abused): its subject is the file or the form, not the database, so its rows run on
# PostgreSQL, the production database, only. The rest of each module runs on both.
VARIANTS_BACKEND = "postgresql"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        if item.nodeid.startswith(SERIAL):
            item.add_marker(pytest.mark.serial)
        (dropped if _variant_on_another_backend(item) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _variant_on_another_backend(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("database_url") if callspec is not None else None
    marked = item.get_closest_marker("variants") is not None
    return marked and backend is not None and backend != VARIANTS_BACKEND


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return app_sessionmaker(engine, SlaPolicy())  # the default settings' policy
