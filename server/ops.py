"""Operations: /healthz that really touches the database and object store, /metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.deps import ContextDep
from server.live.media_adapter import media_health

router = APIRouter(tags=["ops"])


async def _check_database(ctx: ContextDep) -> dict[str, Any]:
    try:
        async with ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure here means "unhealthy", with the reason shown
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "dialect": ctx.engine.dialect.name}


async def _check_storage(ctx: ContextDep) -> dict[str, Any]:
    result: dict[str, Any] = {"ok": True, "embedded": ctx.seaweed is not None}
    if ctx.seaweed is not None:
        process = ctx.seaweed.health()
        result["process"] = process
        if not process.get("running"):
            result["ok"] = False
            return result
    try:
        await ctx.store.ping()
    except Exception as exc:  # same: report, do not raise
        result.update(ok=False, error=type(exc).__name__)
    return result


@router.get("/healthz")
async def healthz(ctx: ContextDep) -> JSONResponse:
    """Database and object store reachability, media workers; 503 when one is down."""
    checks = {
        "database": await _check_database(ctx),
        "storage": await _check_storage(ctx),
        "media": media_health(ctx),
    }
    ok = all(c["ok"] for c in checks.values())
    return JSONResponse({"ok": ok, **checks}, status_code=200 if ok else 503)


@router.get("/metrics")
async def metrics(ctx: ContextDep) -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(ctx.metrics), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts requests and their latency per route template (not per raw path)."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "http_request_seconds", "HTTP latency", ["method", "route"], registry=registry
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, record_status)
        finally:
            route = _route_template(scope)
            self.requests.labels(scope["method"], route, str(status["code"])).inc()
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - start)


def _route_template(scope: Scope) -> str:
    """The matched route's template (set in the scope by the router), never the raw path."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))
