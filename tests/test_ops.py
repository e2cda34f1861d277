"""Operations: health that really checks its parts, metrics, migrations in step with models."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from checklists.loader import DEFAULT_CATALOGUE_DIR as CATALOGUE_DIR
from server.app import create_app
from server.auth.models import Role
from server.catalogue import InvalidCatalogue
from server.config import Settings
from server.context import AppContext
from server.migrate import current_revision, head_revision
from server.models import Base
from tests.fixtures.app import Api
from tests.helpers import wait_until


async def test_public_health_says_up_and_the_version_and_nothing_internal(api: Api) -> None:
    response = await api.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": "0.1.0"}
    assert api.ctx.settings.s3_endpoint not in response.text  # the internal S3 address
    assert str(os.getpid()) not in response.text


async def test_health_details_are_for_administrators(api: Api) -> None:
    _, admin = await api.staff_headers(Role.admin)
    _, dispatcher = await api.staff_headers(Role.dispatcher)

    response = await api.client.get("/api/v1/ops/health", headers=admin)
    anonymous = await api.client.get("/api/v1/ops/health")
    refused = await api.client.get("/api/v1/ops/health", headers=dispatcher)

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["database"]["ok"] is True
    assert body["storage"]["ok"] is True
    assert (anonymous.status_code, refused.status_code) == (401, 403)
    assert "database" not in anonymous.text + refused.text


async def test_health_is_503_when_the_object_store_is_unreachable(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"s3_endpoint": "127.0.0.1:9"}))
    with pytest.raises(Exception, match=r"(?i)unavailable|refused|connect"):
        async with app.router.lifespan_context(app):
            pass


async def test_embedded_seaweed_crash_shows_in_health(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"s3_endpoint": ""}))
    async with app.router.lifespan_context(app):
        ctx: AppContext = app.state.ctx
        assert ctx.seaweed is not None
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            _, admin = await Api(client, ctx).staff_headers(Role.admin)
            assert (await client.get("/healthz")).status_code == 200
            assert ctx.seaweed.pid is not None
            os.kill(ctx.seaweed.pid, signal.SIGKILL)
            await wait_until(lambda: not ctx.seaweed.is_running)  # type: ignore[union-attr]
            public = await client.get("/healthz")
            response = await client.get("/api/v1/ops/health", headers=admin)
    assert public.status_code == 503
    assert public.json()["status"] == "unavailable"
    assert "exit_code" not in public.text
    assert ctx.seaweed.s3_endpoint not in public.text
    assert response.status_code == 503
    assert response.json()["storage"]["process"]["running"] is False
    assert response.json()["storage"]["process"]["exit_code"] == -signal.SIGKILL


async def test_metrics_count_requests_by_route_template(api: Api) -> None:
    await api.client.get("/api/v1/cases/abc123")
    await api.client.get("/api/v1/cases/def456")
    text = (await api.client.get("/metrics")).text
    assert 'route="/api/v1/cases/{case_id}"' in text
    assert "abc123" not in text


async def test_app_refuses_to_start_on_a_broken_catalogue(
    settings: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, broken)
    (broken / "shared.yaml").write_text("version: [unclosed\n", encoding="utf-8")
    app: FastAPI = create_app(settings.model_copy(update={"catalogue_dir": broken}))
    with pytest.raises(InvalidCatalogue, match=r"shared\.yaml:\d+"):
        async with app.router.lifespan_context(app):
            pass


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_migrations_match_the_models(engine: AsyncEngine, database_url: str) -> None:
    assert await current_revision(database_url) is not None
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


def test_migrations_have_a_single_head() -> None:
    assert head_revision() is not None


async def test_an_unknown_address_is_a_problem_of_its_own_kind(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-thing")
    wrong_method = await client.delete("/healthz")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:cloudinspect:problem:http_404"  # not internal_error
    assert response.json()["detail"] == "找不到该地址。"
    assert wrong_method.json()["type"] == "urn:cloudinspect:problem:http_405"
