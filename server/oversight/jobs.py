"""The SLA tick's card hook with supervision orders, and the orders' escalation job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.config import Settings
from server.notifications.service import configured_channels
from server.oversight.orders import escalate_due, open_for_red_card
from server.sla.jobs import CardRaised, OnCard


def order_opener(settings: Settings, then: OnCard | None = None) -> OnCard:
    """``on_card`` for the tick: ``then`` (the card notifier) hears every card, and a red card
    also opens the clock's supervision order, in the tick's transaction."""

    async def on_card(session: AsyncSession, raised: CardRaised) -> None:
        if then is not None:
            await then(session, raised)
        await open_for_red_card(
            session,
            raised,
            answer_days=settings.supervision_order_answer_days,
            channels=configured_channels(settings),
        )

    return on_card


async def escalate_orders(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """One pass: every open order unanswered past its time goes up a level; the count."""
    async with sessionmaker() as session:
        raised = await escalate_due(
            session,
            now,
            answer_days=settings.supervision_order_answer_days,
            channels=configured_channels(settings),
        )
        await session.commit()
    return raised
