"""The applicant's link lives as long as the case: valid while it is open, then for the rating
window after it ended; a rating after the window is refused in words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.cases.links import check_link
from server.cases.models import Case, CaseLink
from server.db import utcnow
from server.errors import NotAuthenticated
from tests.fixtures.app import Api
from tests.fixtures.clock import AppClock
from tests.flows import cancel, close, open_case, start_journey

RATING = {"score": 5, "comment": "很方便"}


async def test_a_link_still_works_long_after_72_hours_on_an_open_case(
    api: Api, clock: AppClock
) -> None:
    journey = await start_journey(api)
    await open_case(journey)
    issued = await api.client.post(
        f"/api/v1/cases/{journey.case_id}/links", headers=journey.dispatcher
    )
    assert issued.json()["expires_at"] is None  # no fixed end
    clock.ahead(timedelta(days=40))
    seen = await api.client.get(f"/api/v1/cases/{journey.case_id}", headers=journey.applicant)
    assert seen.status_code == 200, seen.text


async def test_after_closure_the_link_rates_within_the_window_and_stops_after_it(
    api: Api, clock: AppClock
) -> None:
    journey = await start_journey(api)
    await close(journey)
    rating = f"/api/v1/cases/{journey.case_id}/rating"
    window = timedelta(days=api.ctx.settings.rating_window_days)
    clock.ahead(window - timedelta(hours=1))
    status = await api.client.get(rating, headers=journey.applicant)
    assert status.status_code == 200, status.text
    assert status.json()["can_rate"] is True
    rated = await api.client.post(rating, json=RATING, headers=journey.applicant)
    assert rated.status_code == 201, rated.text


async def test_a_rating_after_the_window_is_refused_in_words_and_nothing_is_stored(
    api: Api, clock: AppClock
) -> None:
    journey = await start_journey(api)
    await close(journey)
    rating = f"/api/v1/cases/{journey.case_id}/rating"
    clock.ahead(timedelta(days=api.ctx.settings.rating_window_days, hours=1))
    late = await api.client.post(rating, json=RATING, headers=journey.applicant)
    assert late.status_code == 401, late.text
    assert late.json()["reason"] == "link_invalid"
    assert "评价的期限已于" in late.json()["detail"]
    assert "北京时间" in late.json()["detail"]
    clock.ahead(timedelta(0))  # back to the real time
    stored = await api.client.get(rating, headers=journey.dispatcher)
    assert stored.json()["rated"] is False


async def test_a_cancelled_case_keeps_its_link_for_the_window_only(
    api: Api, clock: AppClock
) -> None:
    journey = await start_journey(api)
    await open_case(journey)
    await cancel(journey)
    case = f"/api/v1/cases/{journey.case_id}"
    assert (await api.client.get(case, headers=journey.applicant)).status_code == 200
    clock.ahead(timedelta(days=api.ctx.settings.rating_window_days, minutes=1))
    assert (await api.client.get(case, headers=journey.applicant)).status_code == 401


async def test_a_revoked_link_says_so_and_points_to_the_latest_link(api: Api) -> None:
    journey = await start_journey(api)
    await open_case(journey)
    case = f"/api/v1/cases/{journey.case_id}"
    links = await api.client.post(f"{case}/links", headers=journey.dispatcher)
    holder = {"Authorization": f"Bearer {links.json()['token']}"}
    revoked = await api.client.delete(
        f"{case}/links/{links.json()['id']}", headers=journey.dispatcher
    )
    assert revoked.status_code == 204
    refused = await api.client.get(case, headers=holder)
    assert refused.status_code == 401
    assert "已被撤销" in refused.json()["detail"]


def test_a_link_issued_with_a_fixed_end_still_ends_then_in_plain_words() -> None:
    now = utcnow()
    case = Case(ended_at=None)
    old = CaseLink(expires_at=now - timedelta(minutes=1), revoked_at=None)
    with pytest.raises(NotAuthenticated) as refused:
        check_link(case, old, now, timedelta(days=15))
    assert refused.value.message_zh == "此链接已失效，请联系受理窗口重新获取。"
    check_link(case, CaseLink(expires_at=None, revoked_at=None), now, timedelta(days=15))
