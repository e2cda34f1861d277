"""Signing is confirmed: co-signing and approving need the signer's password; a wrong or
missing one signs nothing and is refused clearly, wrong ones are audited and paced like logins."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.audit.models import AuditRecord
from server.auth.models import Role
from server.config import Settings
from tests.fixtures.app import PASSWORD, Api
from tests.inspection.team import Team, make_team
from tests.opinions.drafting import case_state, drafted_case, ok, post, to_review


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"login_max_failures": 2})


async def submitted(api: Api) -> tuple[Team, str]:
    team = await make_team(api)
    case_id = await drafted_case(team)
    ok(await post(team, case_id, "draft", team.headers["lead"]))
    ok(await post(team, case_id, "submit", team.headers["lead"]))
    return team, case_id


async def audit_actions(api: Api, case_id: str) -> list[tuple[str, str]]:
    async with api.ctx.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditRecord).where(
                AuditRecord.case_id == case_id, AuditRecord.action.like("opinion.sign_%")
            )
        )
        return [(r.action, str(r.detail["step"])) for r in rows]


async def opinion_status(team: Team, case_id: str) -> str:
    response = await team.client.get(
        f"/api/v1/cases/{case_id}/opinion", headers=team.headers["dispatcher"]
    )
    return str(ok(response)["status"])


async def test_cosign_needs_the_cosigners_password(api: Api) -> None:
    team, case_id = await submitted(api)
    second = team.headers["second"]
    url = f"/api/v1/cases/{case_id}/opinion/cosign"

    missing = await team.client.post(url, headers=second)
    assert missing.status_code == 422, missing.text
    empty = await team.client.post(url, json={"password": ""}, headers=second)
    assert empty.status_code == 422, empty.text
    assert "password" in empty.json()["detail_en"]
    wrong = await post(team, case_id, "cosign", second, password="not my password")
    assert wrong.status_code == 403, wrong.text
    problem = wrong.json()
    assert problem["reason"] == "password"
    assert "密码不正确" in problem["detail"]
    assert "nothing was signed" in problem["detail_en"]
    assert await opinion_status(team, case_id) == "awaiting_cosign"
    assert await case_state(team, case_id) == "awaiting_cosign"
    assert await audit_actions(api, case_id) == [("opinion.sign_refused", "cosign")]

    lead = await post(team, case_id, "cosign", team.headers["lead"], password=PASSWORD)
    assert lead.status_code == 403, lead.text  # the lead is not the co-signer
    signed = ok(await post(team, case_id, "cosign", second, password=PASSWORD))
    assert signed["status"] == "under_review"
    assert await audit_actions(api, case_id) == [
        ("opinion.sign_refused", "cosign"),
        ("opinion.sign_confirmed", "cosign"),
    ]


async def test_approve_needs_the_reviewers_password_and_only_a_reviewer_approves(
    api: Api,
) -> None:
    team = await make_team(api)
    _, reviewer = await api.staff_headers(Role.reviewer)
    case_id = await drafted_case(team)
    await to_review(team, case_id)
    url = f"/api/v1/cases/{case_id}/opinion/approve"

    by_cosigner = await post(team, case_id, "approve", team.headers["second"], password=PASSWORD)
    assert by_cosigner.status_code == 403, by_cosigner.text
    assert (await team.client.post(url, headers=reviewer)).status_code == 422
    wrong = await post(team, case_id, "approve", reviewer, password="guess")
    assert wrong.status_code == 403, wrong.text
    assert wrong.json()["reason"] == "password"
    assert await opinion_status(team, case_id) == "under_review"
    assert await case_state(team, case_id) == "under_review"

    issued = ok(await post(team, case_id, "approve", reviewer, password=PASSWORD))
    assert issued["status"] == "issued"
    assert ("opinion.sign_confirmed", "approve") in await audit_actions(api, case_id)


async def test_wrong_passwords_are_paced_like_logins(api: Api) -> None:
    team, case_id = await submitted(api)
    second = team.headers["second"]
    for _ in range(2):
        wrong = await post(team, case_id, "cosign", second, password="wrong again")
        assert wrong.status_code == 403, wrong.text
    paced = await post(team, case_id, "cosign", second, password=PASSWORD)
    assert paced.status_code == 429, paced.text
    assert paced.headers["retry-after"]
    assert "wrong passwords" in paced.json()["detail_en"]
    assert await opinion_status(team, case_id) == "awaiting_cosign"
    refused = [a for a, _ in await audit_actions(api, case_id) if a == "opinion.sign_refused"]
    assert len(refused) == 2
