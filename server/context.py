"""What the app builds in its lifespan and hands to requests (no module-level registries)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.audit.detached import DetachedWriter
from server.config import Settings

if TYPE_CHECKING:
    from checklists.schema import Catalogue
    from media.workers.pool import MediaWorkerPool
    from server.auth.ended import AccessEnded
    from server.auth.lookup_limit import FailureAllowance
    from server.cases.service import MatterLookup
    from server.opinions.signature_check import CachedCheck
    from server.platform.news import RoomNewsHook
    from server.platform.ratelimits import TokenBucket
    from server.platform.seaweed import SeaweedProcess
    from server.platform.storage import ObjectStore


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
    # The media worker processes; None when media runs in the web process.
    media_pool: MediaWorkerPool | None = None
    # Per-process state of the rate limits and caches, keyed by client address or opinion.
    token_lookup_limits: dict[str, FailureAllowance] = field(default_factory=dict)
    login_checks_in_flight: Counter[str] = field(default_factory=Counter)
    verify_rate_limits: dict[str, TokenBucket] = field(default_factory=dict)
    uplink_rate_limits: dict[str, TokenBucket] = field(default_factory=dict)  # by link
    signature_checks: dict[tuple[str, str], CachedCheck] = field(default_factory=dict)
    # Told (after the commit) when a login or an applicant link ends, so that parts holding
    # live connections (the WebSocket rooms) can close them; wired at start-up.
    access_ended: list[Callable[[AccessEnded], None]] = field(default_factory=list)
    # Told (after the commit) of a stored verdict or rectification request, so the case's
    # live room pushes it to the people in the call; wired at start-up (server.live.news).
    room_news: list[RoomNewsHook] = field(default_factory=list)
    # Writes from live code that no cancellation may cut short (audit of joins and leaves).
    detached: DetachedWriter = field(init=False)

    def __post_init__(self) -> None:
        self.detached = DetachedWriter(self.sessionmaker)
