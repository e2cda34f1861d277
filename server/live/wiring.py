"""Adapters that let ``signaling`` ask the server who a token is and what a case allows,
and persist what happens in a room. Each call opens its own short session and commits:
no database session is held for the life of a WebSocket.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from server.appointments.service import record_applicant_joined
from server.audit.service import Actor, append
from server.auth.ended import AccessEnded, AccessEndedHook
from server.auth.models import Role
from server.auth.principal import Principal
from server.auth.service import resolve_token
from server.cases.access import CaseView, current_inspectors
from server.cases.models import Case
from server.cases.states import is_joinable
from server.config import Settings
from server.context import AppContext
from server.errors import AppError, NotAuthenticated
from server.evidence.service import locate
from server.inspection.service import set_current_item
from server.live.media_adapter import RECORDER
from server.live.turn import ice_servers
from server.platform.ratelimits import FloodGuard
from signaling.admission import AdmissionFactory
from signaling.endpoint import AuthenticationFailed, SignalingDeps, Timing, make_router
from signaling.media import MediaError, MediaFactory, SignalChannel
from signaling.messages import ParticipantKind
from signaling.registry import Registry
from signaling.room import (
    Identity,
    ItemChanged,
    LocationEvent,
    ParticipantEntered,
    ParticipantExited,
    RecordingSwitched,
    RoomEvent,
    RoomFacts,
    Site,
)

log = logging.getLogger(__name__)


def identity_of(principal: Principal) -> Identity:
    """A case inspector joins as ``inspector``; other staff only ever as observers."""
    if principal.kind == "applicant":
        return Identity(
            principal.id,
            "applicant",
            principal.display_name,
            principal.case_id,
            credential=principal.id,
        )
    kind: ParticipantKind = "inspector" if principal.role == Role.inspector else "observer"
    return Identity(
        principal.id, kind, principal.display_name, credential=principal.session_id or None
    )


def end_live_access(app: FastAPI) -> AccessEndedHook:
    """The hook that closes the live sockets (and so the media) of an ended login or link."""

    def end(ended: AccessEnded) -> None:
        registry: Registry = app.state.live  # looked up now: tests may install a new one
        closed = registry.kick(ended.principal_id, credential=ended.session_id)
        if closed:
            log.info("live access ended (%s): %d connection(s) closed", ended.reason, closed)

    return end


def _actor(participant_id: str, kind: str) -> Actor:
    return Actor("applicant" if kind == "applicant" else "staff", participant_id)


@dataclass(frozen=True, slots=True)
class LiveAdapter:
    """The server side of the signaling protocols, bound to one app."""

    app: FastAPI

    @property
    def ctx(self) -> AppContext:
        ctx: AppContext = self.app.state.ctx
        return ctx

    async def authenticate(self, token: str) -> Identity:
        async with self.ctx.sessionmaker() as session:
            try:
                principal = await resolve_token(session, self.ctx.settings, token)
            except NotAuthenticated:
                raise AuthenticationFailed from None
            await session.commit()  # last-seen stamps
        servers = ice_servers(self.ctx.settings, principal.id, datetime.now(UTC))
        return replace(identity_of(principal), ice_servers=tuple(s.as_json() for s in servers))

    async def room_facts(self, case_id: str) -> RoomFacts | None:
        async with self.ctx.sessionmaker() as session:
            case = await session.get(Case, case_id)
            if case is None:
                return None
            inspectors = await current_inspectors(session, case_id)
        site = None
        if case.site_lat is not None and case.site_lng is not None:
            site = Site(case.site_lat, case.site_lng)
        # Applicant links are checked (revoked, expired) by resolve_token; any live link of
        # this case admits. No observers yet: supervisors watching calls is a later decision.
        return RoomFacts(case.id, is_joinable(case.state), frozenset(inspectors), site=site)

    def on_event(self, event: RoomEvent, at: datetime) -> asyncio.Future[None]:
        """Start persisting ``event`` at once, detached: a replaced or closed connection
        that stops waiting for it never cuts the write (its audit record) short."""

        async def write(session: AsyncSession) -> None:
            await self._persist(session, event, at)

        what = f"{type(event).__name__} of case {event.case_id}"
        return self.ctx.detached.submit(write, what=what, order=event.case_id)

    async def _persist(self, session: AsyncSession, event: RoomEvent, at: datetime) -> None:
        stamp = at.isoformat()
        match event:
            case ParticipantEntered(case_id=case_id, kind=kind):
                if kind == "applicant":
                    await record_applicant_joined(session, case_id, at)
                await self._audit(session, event, "live.join", {"kind": kind, "at": stamp})
            case ParticipantExited(kind=kind, reason=reason):
                detail: dict[str, Any] = {"kind": kind, "reason": reason, "at": stamp}
                await self._audit(session, event, "live.leave", detail)
            case ItemChanged(case_id=case_id, item_id=item_id, by=by):
                await self._current_item(session, case_id, item_id, by)
            case LocationEvent(case_id=case_id, latitude=lat, longitude=lng, accuracy_m=accuracy):
                detail = {"lat": lat, "lng": lng, "accuracy_m": accuracy, "at": stamp}
                case = await session.get(Case, case_id)
                if case is not None:  # distance to the site, flagged when too far (GPS 位置核验)
                    detail |= locate(case, lat, lng, accuracy).detail()
                await self._audit(session, event, "live.location", detail)
            case RecordingSwitched(case_id=case_id, on=on):
                action = "live.recording_started" if on else "live.recording_stopped"
                await append(session, RECORDER, action, case_id=case_id, detail={"at": stamp})

    @staticmethod
    async def _audit(
        session: AsyncSession,
        event: ParticipantEntered | ParticipantExited | LocationEvent,
        action: str,
        detail: dict[str, Any],
    ) -> None:
        kind = "applicant" if isinstance(event, LocationEvent) else event.kind
        actor = _actor(event.participant_id, kind)
        await append(session, actor, action, case_id=event.case_id, detail=detail)

    async def _current_item(
        self, session: AsyncSession, case_id: str, item_id: str | None, by: str
    ) -> None:
        case = await session.get(Case, case_id)
        if case is None:
            return
        view = CaseView(case, await current_inspectors(session, case_id))
        try:
            await set_current_item(session, Actor("staff", by), view, self.ctx.catalogue, item_id)
        except AppError as exc:  # not started yet, unknown item…: the call goes on
            log.info("current item not recorded: %s", exc.message_en)


class _MediaNotInstalled:
    """Stands in until ``media/`` is wired: every negotiation is refused with a clear error."""

    def __init__(self, case_id: str, channel: SignalChannel) -> None:
        del case_id, channel

    async def handle_offer(self, participant_id: str, kind: str, sdp: str) -> str:
        raise MediaError("media side not installed")

    async def handle_answer(self, participant_id: str, sdp: str) -> None:
        raise MediaError("media side not installed")

    async def add_ice_candidate(
        self,
        participant_id: str,
        candidate: str | None,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None:
        raise MediaError("media side not installed")

    async def ice_restart(self, participant_id: str, kind: str, sdp: str) -> str:
        raise MediaError("media side not installed")

    async def snapshot(
        self, requested_by: str, requester_name: str, item_id: str | None
    ) -> _NoSnapshot:
        raise MediaError("media side not installed")

    async def set_recording(self, on: bool) -> None:
        return None

    async def leave(self, participant_id: str) -> None:
        return None

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _NoSnapshot:
    ok: bool = False
    snapshot_id: str | None = None
    error: str | None = "media side not installed"


def flood_guards(settings: Settings) -> AdmissionFactory:
    """A ``FloodGuard`` per connection, with the limits of ``settings``."""
    return partial(
        FloodGuard,
        rate=settings.ws_messages_per_second,
        burst=settings.ws_message_burst,
        strikes=settings.ws_flood_strikes,
    )


def install(
    app: FastAPI,
    media_factory: MediaFactory | None = None,
    *,
    timing: Timing | None = None,
    admission: AdmissionFactory | None = None,
) -> Registry:
    """Add ``/ws/cases/{case_id}`` to ``app``; the room registry goes on ``app.state.live``.

    Each connection gets a ``FloodGuard`` with the configured limits unless ``admission``
    says otherwise.
    """
    settings: Settings = app.state.settings
    adapter = LiveAdapter(app)
    registry = Registry(media_factory or _MediaNotInstalled)
    deps = SignalingDeps(
        authenticate=adapter.authenticate,
        room_facts=adapter.room_facts,
        on_event=adapter.on_event,
        registry=registry,
        admission=admission or flood_guards(settings),
        timing=timing or Timing(),
    )
    app.state.live = registry
    before = len(app.router.routes)
    app.include_router(make_router(deps))
    # Ahead of the static client mounted at "/", which would otherwise match /ws/… first.
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = added
    return registry
