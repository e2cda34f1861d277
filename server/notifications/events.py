"""Who hears about what: case events turned into outbox messages (zh + en)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.models import Role
from server.cases.access import current_inspectors
from server.cases.models import Case
from server.cases.states import Label
from server.config import Settings
from server.notifications.service import configured_channels, notify
from server.platform.time import shanghai_time
from server.sla.jobs import CardRaised, OnCard

POSITIONS = {
    "lead": ("主办踏勘人员", "lead inspector"),
    "second": ("协办踏勘人员", "second inspector"),
}


async def case_assigned(
    session: AsyncSession, settings: Settings, case: Case, link_url: str
) -> None:
    """The pair is drawn: the applicant gets the case's link, each inspector their position."""
    channels = configured_channels(settings)
    await notify(
        session,
        template="case_assigned_link",
        params={
            "case_number": case.number,
            "url": link_url,
            "days": settings.rating_window_days,
        },
        event=f"assigned:{case.id}:{case.version}",
        channels=channels,
        case_id=case.id,
        applicant=True,
    )
    inspectors = await current_inspectors(session, case.id)
    for position, staff_id in zip(("lead", "second"), inspectors, strict=False):
        zh, en = POSITIONS[position]
        await notify(
            session,
            template="inspector_assigned",
            params={
                "case_number": case.number,
                "position_zh": zh,
                "position_en": en,
                "address": case.site_address,
            },
            event=f"inspector_assigned:{case.id}:{staff_id}",
            channels=channels,
            case_id=case.id,
            staff_ids=(staff_id,),
        )


async def link_resent(
    session: AsyncSession, settings: Settings, case: Case, link_url: str, link_id: str
) -> None:
    """Staff resent the applicant's link: the fresh one goes to the applicant."""
    await notify(
        session,
        template="applicant_link",
        params={"case_number": case.number, "url": link_url, "days": settings.rating_window_days},
        event=f"link:{case.id}:{link_id}",
        channels=configured_channels(settings),
        case_id=case.id,
        applicant=True,
    )


async def case_withdrawn(
    session: AsyncSession, settings: Settings, case: Case, reason: str
) -> None:
    """The applicant withdrew the application: the case's inspectors and dispatchers hear why."""
    await notify(
        session,
        template="case_withdrawn",
        params={"case_number": case.number, "reason": reason},
        event=f"withdrawn:{case.id}",
        channels=configured_channels(settings),
        case_id=case.id,
        staff_ids=await current_inspectors(session, case.id),
        roles=(Role.dispatcher.value,),
    )


async def slots_proposed(
    session: AsyncSession, settings: Settings, case: Case, first_start: datetime, event: str
) -> None:
    await notify(
        session,
        template="appointment_proposed",
        params={"case_number": case.number, "time": shanghai_time(first_start)},
        event=f"slots:{case.id}:{event}",
        channels=configured_channels(settings),
        case_id=case.id,
        applicant=True,
    )


async def appointment_confirmed(
    session: AsyncSession, settings: Settings, case: Case, starts_at: datetime, event: str
) -> None:
    await notify(
        session,
        template="appointment_confirmed",
        params={"case_number": case.number, "time": shanghai_time(starts_at)},
        event=f"confirmed:{case.id}:{event}",
        channels=configured_channels(settings),
        case_id=case.id,
        applicant=True,
        staff_ids=await current_inspectors(session, case.id),
    )


async def switched_onsite(
    session: AsyncSession, settings: Settings, case: Case, reason: str
) -> None:
    """The applicant hears that inspectors will come to the site instead of a video call."""
    await notify(
        session,
        template="switched_onsite",
        params={"case_number": case.number, "reason": reason},
        event=f"switched_onsite:{case.id}:{case.version}",
        channels=configured_channels(settings),
        case_id=case.id,
        applicant=True,
    )


async def no_show(
    session: AsyncSession, settings: Settings, case: Case, starts_at: datetime, event: str
) -> None:
    await notify(
        session,
        template="no_show",
        params={"case_number": case.number, "time": shanghai_time(starts_at)},
        event=f"no_show:{case.id}:{event}",
        channels=configured_channels(settings),
        case_id=case.id,
        staff_ids=await current_inspectors(session, case.id),
        roles=(Role.dispatcher.value,),
    )


async def case_closed(
    session: AsyncSession, settings: Settings, case: Case, *, outcome: Label, decision_no: str
) -> None:
    """The case is closed (办结): the applicant hears the decision and is asked to rate."""
    await notify(
        session,
        template="case_closed",
        params={
            "case_number": case.number,
            "outcome_zh": outcome.zh,
            "outcome_en": outcome.en,
            "decision_no": decision_no,
        },
        event=f"closed:{case.id}",
        channels=configured_channels(settings),
        case_id=case.id,
        applicant=True,
    )


def card_notifier(settings: Settings) -> OnCard:
    """The SLA tick's ``on_card`` hook: dispatchers and the case's inspectors hear of it."""

    async def on_card(session: AsyncSession, raised: CardRaised) -> None:
        case = await session.get(Case, raised.case_id)
        if case is None:
            return
        due = shanghai_time(raised.due_at) if raised.due_at else "-"
        await notify(
            session,
            template=f"sla_{raised.card.value}",
            params={"case_number": case.number, "due": due},
            event=f"card:{raised.clock_id}:{raised.card.value}",
            channels=configured_channels(settings),
            case_id=case.id,
            staff_ids=await current_inspectors(session, case.id),
            roles=(Role.dispatcher.value,),
        )

    return on_card


async def cosign_requested(
    session: AsyncSession, settings: Settings, case: Case, draft_key: str
) -> None:
    """The lead signed the draft ``draft_key`` (opinion id and content hash): the second
    inspector is asked to co-sign (会签)."""
    inspectors = await current_inspectors(session, case.id)
    if len(inspectors) < 2:
        return
    await notify(
        session,
        template="cosign_requested",
        params={"case_number": case.number},
        event=f"cosign:{draft_key}",
        channels=configured_channels(settings),
        case_id=case.id,
        staff_ids=(inspectors[1],),
    )


async def rectification_submitted(
    session: AsyncSession, settings: Settings, case: Case, *, round_number: int, items: int
) -> None:
    """The applicant handed in a rectification round: the case's inspectors review it."""
    await notify(
        session,
        template="rectification_submitted",
        params={"case_number": case.number, "round": round_number, "items": items},
        event=f"rectification_submitted:{case.id}:{round_number}",
        channels=configured_channels(settings),
        case_id=case.id,
        staff_ids=await current_inspectors(session, case.id),
    )
