"""Operations: health that really touches the database and object store, /metrics.

``/healthz`` is public and says only whether the service is up (and its version): load
balancers and uptime checks need no login. What is behind the answer (process ids, the
internal object-store endpoint, media workers) is for administrators, at ``/api/v1/ops/health``.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.auth.models import Role
from server.context import AppContext
from server.deps import ContextDep, require_roles
from server.live.media_adapter import media_health

router = APIRouter(tags=["ops"])


async def _check_database(ctx: AppContext) -> dict[str, Any]:
    try:
        async with ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure here means "unhealthy", with the reason shown
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "dialect": ctx.engine.dialect.name}


async def _check_storage(ctx: AppContext) -> dict[str, Any]:
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


async def _checks(ctx: AppContext) -> dict[str, dict[str, Any]]:
    return {
        "database": await _check_database(ctx),
        "storage": await _check_storage(ctx),
        "media": media_health(ctx),
    }


def _status(checks: dict[str, dict[str, Any]]) -> tuple[bool, int]:
    ok = all(c["ok"] for c in checks.values())
    return ok, 200 if ok else 503


class Liveness(BaseModel):
    status: Literal["ok", "unavailable"]
    version: str


class HealthDetails(BaseModel):
    model_config = ConfigDict(extra="allow")

    ok: bool
    database: dict[str, Any]
    storage: dict[str, Any]
    media: dict[str, Any]


@router.get(
    "/healthz",
    response_model=Liveness,
    responses={503: {"model": Liveness, "description": "A part the service needs is down"}},
)
async def healthz(request: Request, ctx: ContextDep) -> JSONResponse:
    """Public liveness: up or not, and the version; nothing internal (see health_details)."""
    ok, code = _status(await _checks(ctx))
    body = Liveness(status="ok" if ok else "unavailable", version=request.app.version)
    return JSONResponse(body.model_dump(), status_code=code)


@router.get(
    "/api/v1/ops/health",
    dependencies=[Depends(require_roles(Role.admin))],
    response_model=HealthDetails,
    responses={503: {"model": HealthDetails, "description": "A part is down; see which and why"}},
)
async def health_details(ctx: ContextDep) -> JSONResponse:
    """Database, object store (process, endpoint) and media workers, for administrators."""
    checks = await _checks(ctx)
    ok, code = _status(checks)
    return JSONResponse({"ok": ok, **checks}, status_code=code)


@router.get("/metrics", response_class=PlainTextResponse)
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
