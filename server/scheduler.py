"""Periodic jobs (APScheduler in the app process). Every job is idempotent and claims its rows
in the database, so several app processes may run the same jobs side by side."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession

from server.appointments.models import Appointment
from server.appointments.service import mark_no_shows
from server.cases.models import Case
from server.context import AppContext
from server.db import utcnow
from server.logs import get_logger
from server.notifications import events
from server.notifications.jobs import deliver_due
from server.notifications.reminders import send_reminders
from server.oversight.jobs import escalate_orders, order_opener
from server.rectification.jobs import expire_overdue
from server.sla.jobs import sla_tick
from server.uploads.sweep import sweep_spent_keys

log = get_logger(__name__)
NO_SHOW_TICK_SECONDS = 60
UPLOAD_SWEEP_SECONDS = 300
ORDER_ESCALATION_SECONDS = 300


async def run_sla_tick(ctx: AppContext, now: datetime | None = None) -> None:
    on_card = order_opener(ctx.settings, then=events.card_notifier(ctx.settings))
    result = await sla_tick(ctx.sessionmaker, now=now, on_card=on_card)
    if result.yellow or result.red or result.failed:
        log.info("sla.tick", yellow=result.yellow, red=result.red, failed=result.failed)


async def run_order_escalation(ctx: AppContext, now: datetime | None = None) -> None:
    if raised := await escalate_orders(ctx.sessionmaker, ctx.settings, now or utcnow()):
        log.info("supervision.orders_escalated", count=raised)


async def run_outbox(ctx: AppContext) -> None:
    result = await deliver_due(ctx.sessionmaker, ctx.settings)
    if result.delivered or result.retried or result.dead:
        log.info(
            "outbox.tick", delivered=result.delivered, retried=result.retried, dead=result.dead
        )


async def run_reminders(ctx: AppContext) -> None:
    if added := await send_reminders(ctx.sessionmaker, ctx.settings, utcnow()):
        log.info("reminders.enqueued", count=added)


async def run_no_shows(ctx: AppContext) -> None:
    async def tell(session: AsyncSession, case: Case, appointment: Appointment) -> None:
        await events.no_show(session, ctx.settings, case, appointment.starts_at, appointment.id)

    await mark_no_shows(
        ctx.sessionmaker,
        no_show_after=timedelta(minutes=ctx.settings.no_show_minutes),
        now=utcnow(),
        on_no_show=tell,
    )


async def run_rectification_expiry(ctx: AppContext) -> None:
    await expire_overdue(ctx.sessionmaker, utcnow())


async def run_upload_sweep(ctx: AppContext) -> None:
    if swept := await sweep_spent_keys(ctx.sessionmaker, ctx.store, utcnow()):
        log.info("uploads.swept", count=swept)


def _guarded(
    name: str, job: Callable[[AppContext], Awaitable[None]], ctx: AppContext
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await job(ctx)
        except Exception:  # a failed run is logged and retried next interval
            log.exception("job.failed", job=name)

    return run


def start_scheduler(ctx: AppContext) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    jobs = [
        ("sla_tick", run_sla_tick, ctx.settings.sla_tick_seconds),
        ("outbox", run_outbox, ctx.settings.outbox_tick_seconds),
        ("no_shows", run_no_shows, NO_SHOW_TICK_SECONDS),
        ("reminders", run_reminders, NO_SHOW_TICK_SECONDS),
        ("rectification_expiry", run_rectification_expiry, NO_SHOW_TICK_SECONDS),
        ("upload_sweep", run_upload_sweep, UPLOAD_SWEEP_SECONDS),
        ("order_escalation", run_order_escalation, ORDER_ESCALATION_SECONDS),
    ]
    for name, job, seconds in jobs:
        scheduler.add_job(
            _guarded(name, job, ctx),
            "interval",
            seconds=seconds,
            id=name,
            max_instances=1,
            coalesce=True,
            next_run_time=utcnow(),
        )
    scheduler.start()
    return scheduler
