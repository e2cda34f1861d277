"""Who hears what along the journey: inspectors when the applicant submits a rectification,
the second inspector when a draft awaits co-signing, reviewers when it awaits review, window
staff when the opinion is issued. Read through each person's in-app feed."""

from __future__ import annotations

from server.auth.models import Role
from tests.fixtures.app import Api
from tests.flows import Journey, issue_opinion, start_journey
from tests.notifications.feeds import templates
from tests.rectification.steps import requested_and_submitted


async def test_inspectors_hear_of_a_submitted_rectification(api: Api, journey: Journey) -> None:
    await requested_and_submitted(journey)

    assert "rectification_requested" in await templates(api, journey.applicant)
    for position in (0, 1):
        heard = await templates(api, journey.inspector_headers(position))
        assert heard.count("rectification_submitted") == 1
    assert "rectification_submitted" not in await templates(api, journey.applicant)


async def test_cosigner_reviewers_and_window_hear_of_the_opinion(api: Api) -> None:
    journey = await start_journey(api)
    _, window = await api.staff_headers(Role.window)
    _, reviewer = await api.staff_headers(Role.reviewer)

    await issue_opinion(journey)

    assert "cosign_requested" in await templates(api, journey.inspector_headers(1))
    assert "cosign_requested" not in await templates(api, journey.inspector_headers(0))
    assert "review_requested" in await templates(api, reviewer)
    assert "opinion_issued_window" in await templates(api, window)
    assert "opinion_issued_applicant" in await templates(api, journey.applicant)
