"""The app factory and its lifespan: everything long-lived is built here and torn down here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

from server.apidocs import install as install_api_docs
from server.appointments.router import router as appointments_router
from server.assignment.router import router as assignment_router
from server.auth import passwords
from server.auth.clients_router import router as api_clients_router
from server.auth.router import router as auth_router
from server.cases.router import matters_router
from server.cases.router import router as cases_router
from server.catalogue import load as load_catalogue
from server.catalogue import matter_lookup
from server.closure.router import router as closure_router
from server.config import Settings
from server.context import AppContext
from server.db import make_engine
from server.devsecrets import with_dev_secrets
from server.errors import install_error_handlers
from server.evidence import integrity
from server.evidence.playback import router as playback_router
from server.evidence.playback import sweep_stale_work
from server.evidence.router import router as evidence_router
from server.inspection.router import router as inspection_router
from server.live.media_adapter import media_factory, start_media_pool
from server.live.news import room_news
from server.live.uplink import router as uplink_router
from server.live.wiring import end_live_access
from server.live.wiring import install as install_live
from server.logs import configure_logging, get_logger
from server.notifications.router import router as notifications_router
from server.openapi import install as install_openapi
from server.opinions.evidence_router import router as opinion_evidence_router
from server.opinions.router import router as opinions_router
from server.ops import MetricsMiddleware
from server.ops import router as ops_router
from server.oversight.router import router as oversight_router
from server.platform.seaweed import SeaweedProcess
from server.platform.storage import ObjectStore
from server.rectification.router import router as rectification_router
from server.scheduler import start_scheduler
from server.sessions import app_sessionmaker
from server.sla.policy import policy_from_settings
from server.sla.router import router as sla_router
from server.staff.router import router as staff_router
from server.supervision.router import router as supervision_router
from server.uploads.router import router as uploads_router

CLIENT_DIR = Path(__file__).resolve().parent.parent / "mini_client"
log = get_logger(__name__)


async def _start_storage(
    settings: Settings, stack: AsyncExitStack
) -> tuple[ObjectStore, SeaweedProcess | None]:
    seaweed = None
    endpoint = settings.s3_endpoint
    if not endpoint:
        seaweed = SeaweedProcess.from_settings(settings)
        await seaweed.start()
        stack.push_async_callback(seaweed.stop)
        endpoint = seaweed.s3_endpoint
        log.info("seaweedfs.started", endpoint=endpoint)
    store = ObjectStore.from_settings(settings, endpoint_override=endpoint)
    await store.ensure_bucket()
    return store, seaweed


async def _close_live_calls(app: FastAPI) -> None:
    closed = await app.state.live.close_all()
    if closed:
        log.info("live.closed_on_shutdown", rooms=closed)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        engine = make_engine(
            settings.effective_database_url, sqlite_full_sync=settings.sqlite_synchronous_full
        )
        stack.push_async_callback(engine.dispose)
        catalogue = await load_catalogue(settings.catalogue_dir)
        if swept := await asyncio.to_thread(sweep_stale_work, settings.data_dir):
            log.info("playback.swept_stale_work", folders=swept)
        store, seaweed = await _start_storage(settings, stack)
        # Stopped after the live calls close (their last segments need the workers), before
        # storage goes.
        media_pool = await start_media_pool(settings, stack, setup=app.state.media_worker_setup)
        ctx = AppContext(
            catalogue=catalogue,
            matter_lookup=matter_lookup(catalogue),
            settings=settings,
            engine=engine,
            sessionmaker=app_sessionmaker(engine, policy_from_settings(settings)),
            store=store,
            metrics=app.state.metrics,
            seaweed=seaweed,
            media_pool=media_pool,
        )
        app.state.ctx = ctx
        integrity.wire(store, ctx.detached)  # a refused evidence read is audited
        ctx.access_ended.append(end_live_access(app))  # logout, disable… close live sockets
        ctx.room_news.append(room_news(app))  # a stored verdict… pushed to the call
        # Live events still being written are waited for before the engine goes.
        stack.push_async_callback(ctx.detached.drain)
        # Unwound first on shutdown: live calls store their last segment before storage goes.
        stack.push_async_callback(_close_live_calls, app)
        if settings.scheduler_enabled:
            scheduler = start_scheduler(ctx)
            stack.callback(scheduler.shutdown, wait=False)
        log.info("app.ready", base_url=settings.effective_base_url)
        yield
        log.info("app.stopping")


def create_app(
    settings: Settings | None = None,
    *,
    media_worker_setup: Callable[[], None] | None = None,
) -> FastAPI:
    """The app; ``media_worker_setup`` (picklable) runs first in each media worker process."""
    settings = with_dev_secrets(settings or Settings())
    configure_logging(json_output=settings.log_json)
    passwords.configure(
        time_cost=settings.password_time_cost, memory_kib=settings.password_memory_kib
    )
    app = FastAPI(
        title="云踏勘 Cloud Inspection",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url=None,  # served from the package by server/apidocs.py (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.media_worker_setup = media_worker_setup
    app.state.metrics = CollectorRegistry()
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, registry=app.state.metrics)
    routers = (
        ops_router,
        auth_router,
        staff_router,
        api_clients_router,
        cases_router,
        matters_router,
        assignment_router,
        appointments_router,
        notifications_router,
        sla_router,
        inspection_router,
        supervision_router,
        oversight_router,
        opinions_router,
        opinion_evidence_router,
        evidence_router,
        playback_router,
        uploads_router,
        rectification_router,
        closure_router,
        uplink_router,
    )
    for router in routers:
        app.include_router(router)
    install_live(app, media_factory(app))
    install_openapi(app)
    install_api_docs(app)
    app.mount("/", StaticFiles(directory=CLIENT_DIR, html=True), name="client")
    return app
