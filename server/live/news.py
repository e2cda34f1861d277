"""Stored news pushed into a case's live room: the room decides who hears what, the registry
carries it out (``signaling.room.Room.verdict_stored`` / ``rectification_requested``)."""

from __future__ import annotations

from typing import cast

from fastapi import FastAPI

from server.platform.news import RectificationNews, RoomNews, RoomNewsHook, VerdictNews
from signaling.messages import VerdictValueName
from signaling.registry import Registry
from signaling.room import Effect, Room


def room_news(app: FastAPI) -> RoomNewsHook:
    """The hook that tells the case's live room, if it has one, what was just stored."""

    def tell(news: RoomNews) -> None:
        registry: Registry = app.state.live  # looked up now: tests may install a new one
        registry.announce(news.case_id, lambda room: decide(room, news))

    return tell


def decide(room: Room, news: RoomNews) -> list[Effect]:
    match news:
        case VerdictNews(item_id=item_id, inspector_id=inspector_id, value=value):
            # the value was checked by the verdict's schema before it was stored
            return room.verdict_stored(item_id, inspector_id, cast(VerdictValueName, value))
        case RectificationNews(items=items, deadline=deadline, end_call=end_call):
            return room.rectification_requested(
                list(items), deadline.isoformat(), end_call=end_call
            )
