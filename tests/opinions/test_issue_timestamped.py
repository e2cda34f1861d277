"""Issuing through the API with a TSA over HTTP: B-LT by default, the level shown on /verify,
and an unreachable TSA issuing nothing at all."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from server.audit.models import AuditRecord
from server.auth.models import Role
from server.config import Settings
from server.devtools.tsa import DevTsaServer
from server.notifications.models import Notification
from server.opinions.models import Opinion
from server.opinions.service import signing_material
from server.opinions.verify import verify_pdf
from server.platform.storage import case_opinion_key
from server.platform.time import shanghai_time
from tests.fixtures.app import Api
from tests.inspection.team import make_team
from tests.opinions.drafting import case_state, drafted_case, ok, post, to_review


@pytest.fixture
def app_tsa(tmp_path: Path) -> Iterator[DevTsaServer]:
    """The dev TSA hanging from the app's own dev CA (the app's data_dir), on loopback."""
    with DevTsaServer(tmp_path / "data") as server:
        yield server


@pytest.fixture
def settings(settings: Settings, app_tsa: DevTsaServer, request: pytest.FixtureRequest) -> Settings:
    assert app_tsa.material.cert_path.is_relative_to(settings.data_dir)
    level = getattr(request, "param", None)
    return settings.model_copy(
        update={"tsa_url": app_tsa.url, "tsa_timeout_seconds": 5, "signature_level": level}
    )


async def _issue(api: Api) -> tuple[str, dict[str, Any], dict[str, str]]:
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    case_id = await drafted_case(team)
    await to_review(team, case_id)
    issued = ok(await post(team, case_id, "approve", reviewer))
    return case_id, issued, reviewer


async def test_issued_opinion_is_b_lt_with_a_timestamp_from_the_tsa(
    api: Api, settings: Settings, app_tsa: DevTsaServer
) -> None:
    assert settings.effective_signature_level == "B-LT"  # the default once a TSA is configured
    case_id, issued, reviewer = await _issue(api)
    assert app_tsa.app.answered > 0
    response = await api.client.get(f"/api/v1/cases/{case_id}/opinion/pdf", headers=reviewer)
    assert response.status_code == 200, response.text
    material = signing_material(settings)
    roots = material.trust_roots()
    report = await asyncio.to_thread(
        verify_pdf, response.content, roots, expected_hash=issued["content_hash"]
    )
    assert report.ok, report.problems
    assert report.signer_subject == material.signing_cert.subject.human_friendly
    assert (report.level, report.timestamp_valid, report.validation_data) == ("B-LT", True, True)
    assert report.timestamp_time is not None

    facts = ok(await api.client.get(f"/verify/{issued['verification_code']}"))
    signature = facts["signature"]
    assert (signature["ok"], signature["level"], signature["timestamp_valid"]) == (
        True,
        "B-LT",
        True,
    )
    beijing = shanghai_time(report.timestamp_time, "%Y-%m-%d %H:%M:%S")
    assert signature["timestamp_time_beijing"] == beijing
    assert signature["validation_data"] is True
    assert signature["problems"] == []
    page = await api.client.get(f"/verify/{issued['verification_code']}.html")
    assert "B-LT" in page.text
    assert beijing in page.text

    tampered = bytearray(response.content)
    tampered[len(tampered) // 2] ^= 0x01
    broken = await asyncio.to_thread(verify_pdf, bytes(tampered), roots)
    assert not broken.ok
    assert broken.level is None


@pytest.mark.parametrize("settings", ["B-LTA"], indirect=True)
async def test_configured_b_lta_is_what_verify_reports(api: Api, settings: Settings) -> None:
    _, issued, _ = await _issue(api)
    facts = ok(await api.client.get(f"/verify/{issued['verification_code']}"))
    assert facts["signature"]["level"] == "B-LTA"
    assert facts["signature"]["archive_timestamp_time"] is not None


@pytest.mark.parametrize("settings", ["B-T"], indirect=True)
async def test_configured_b_t_has_no_validation_data(api: Api, settings: Settings) -> None:
    _, issued, _ = await _issue(api)
    signature = ok(await api.client.get(f"/verify/{issued['verification_code']}"))["signature"]
    assert (signature["level"], signature["validation_data"]) == ("B-T", False)


async def _count(api: Api, query: Any) -> int:
    async with api.ctx.sessionmaker() as session:
        return int(await session.scalar(query) or 0)


async def test_tsa_down_issues_nothing_and_a_retry_succeeds(
    api: Api, settings: Settings, app_tsa: DevTsaServer
) -> None:
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    case_id = await drafted_case(team)
    await to_review(team, case_id)
    app_tsa.stop()

    refused = await post(team, case_id, "approve", reviewer)
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert (problem["code"], problem["tsa_url"]) == ("tsa_unavailable", settings.tsa_url)
    assert "CLOUDINSPECT_TSA_URL" in problem["detail"]
    assert "not issued" in problem["detail_en"]

    assert await case_state(team, case_id) == "under_review"
    async with api.ctx.sessionmaker() as session:
        opinion = await session.scalar(select(Opinion).where(Opinion.case_id == case_id))
    assert opinion is not None
    assert (opinion.status, opinion.pdf_key, opinion.issued_at) == ("under_review", None, None)
    for ext in ("pdf", "json", "p7s"):
        assert not await api.ctx.store.exists(case_opinion_key(case_id, opinion.id, 1, ext))
    issued_audits = select(func.count()).where(
        AuditRecord.case_id == case_id, AuditRecord.action == "opinion.issued"
    )
    assert await _count(api, issued_audits) == 0
    told = select(func.count()).where(
        Notification.case_id == case_id, Notification.template.like("opinion_issued%")
    )
    assert await _count(api, told) == 0

    app_tsa.start()  # the TSA is back: the same approval now goes through
    issued = ok(await post(team, case_id, "approve", reviewer))
    assert issued["status"] == "issued"
    assert await case_state(team, case_id) == "issued"
    assert await _count(api, issued_audits) == 1
