"""What the app builds in its lifespan and hands to requests (no module-level registries)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.audit.detached import DetachedWriter
from server.config import Settings

if TYPE_CHECKING:
    from checklists.schema import Catalogue
    from server.auth.ended import AccessEnded
    from server.cases.service import MatterLookup
    from server.seaweed import SeaweedProcess
    from server.storage import ObjectStore


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    store: ObjectStore
    metrics: CollectorRegistry
    catalogue: Catalogue
    matter_lookup: MatterLookup
    seaweed: SeaweedProcess | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    # Told (after the commit) when a login or an applicant link ends, so that parts holding
    # live connections (the WebSocket rooms) can close them; wired at start-up.
    access_ended: list[Callable[[AccessEnded], None]] = field(default_factory=list)
    # Writes from live code that no cancellation may cut short (audit of joins and leaves).
    detached: DetachedWriter = field(init=False)

    def __post_init__(self) -> None:
        self.detached = DetachedWriter(self.sessionmaker)
