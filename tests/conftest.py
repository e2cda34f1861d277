"""Shared fixtures: real databases (SQLite and PostgreSQL) and a real SeaweedFS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.db import make_engine
from server.sessions import app_sessionmaker
from server.sla.clock import SlaPolicy

pytest_plugins = ["tests.fixtures.databases", "tests.fixtures.seaweed", "tests.fixtures.app"]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return app_sessionmaker(engine, SlaPolicy())  # the default settings' policy
