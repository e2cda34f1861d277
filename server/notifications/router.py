"""The in-app message feed, and a case's notification delivery record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from server.auth.models import Role
from server.auth.principal import Principal
from server.deps import PrincipalDep, SessionDep, VisibleCaseDep, require_roles
from server.notifications import service
from server.notifications.schemas import DeliveryRecord, FeedItem
from server.timeinputs import BeijingDateTime

router = APIRouter(prefix="/api/v1", tags=["notifications"])
OperatorDep = Annotated[Principal, Depends(require_roles(Role.admin, Role.dispatcher))]


@router.get("/feed")
async def feed(
    principal: PrincipalDep,
    session: SessionDep,
    since: Annotated[
        BeijingDateTime | None,
        Query(description="only messages after this time (a date or no offset: Beijing time)"),
    ] = None,
) -> list[FeedItem]:
    """The caller's in-app messages, newest first."""
    rows = await service.feed_for(session, principal, since)
    return [FeedItem.model_validate(row) for row in rows]


@router.get("/cases/{case_id}/notifications")
async def case_notifications(
    view: VisibleCaseDep, _: OperatorDep, session: SessionDep
) -> list[DeliveryRecord]:
    """Every notification of a case on every channel, with its delivery status."""
    rows = await service.deliveries_for_case(session, view.case.id)
    return [DeliveryRecord.of(row) for row in rows]
