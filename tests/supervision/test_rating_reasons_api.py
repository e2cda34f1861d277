"""The five levels of the rating (好差评) and the reasons a bad one must give."""

from __future__ import annotations

from typing import Any

from server.supervision.models import FollowUp, Rating
from tests.fixtures.app import Api
from tests.supervision.feedback import closed_journey, count, rating_url


async def test_a_bad_rating_needs_a_reason_from_the_list(api: Api) -> None:
    journey = await closed_journey(api, "RR-BAD")
    url, applicant = rating_url(journey.case_id), journey.applicant
    status = (await api.client.get(url, headers=applicant)).json()
    assert [s["zh"] for s in status["scores"]] == [
        "非常满意",
        "满意",
        "基本满意",
        "不满意",
        "非常不满意",
    ]
    assert "other" in [r["code"] for r in status["bad_reasons"]]
    refused: list[tuple[dict[str, Any], str]] = [
        ({"score": 2}, "reasons"),
        ({"score": 1, "reasons": []}, "reasons"),
        ({"score": 1, "reasons": ["nope"]}, "reasons"),
        ({"score": 1, "reasons": ["other"], "comment": "  "}, "comment"),
        ({"score": 4, "reasons": ["slow"]}, "reasons"),
        ({"score": 6, "reasons": ["slow"]}, "score"),
    ]
    for body, field in refused:
        response = await api.client.post(url, json=body, headers=applicant)
        assert response.status_code == 422, body
        assert response.json()["code"] == "bad_input"
        assert field in response.text, body
    assert (
        "请至少选择一个不满意的原因"
        in (await api.client.post(url, json={"score": 2}, headers=applicant)).json()["detail"]
    )
    assert (await count(api, Rating), await count(api, FollowUp)) == (0, 0)

    body = {"score": 1, "reasons": ["video", "slow", "video"], "comment": "画面一直卡"}
    rated = await api.client.post(url, json=body, headers=applicant)
    assert rated.status_code == 201, rated.text
    rating = rated.json()
    assert (rating["score_zh"], rating["score_en"]) == ("非常不满意", "very dissatisfied")
    assert [r["code"] for r in rating["reasons"]] == ["slow", "video"]  # the list's order
    assert rating["follow_up_id"] is not None
    again = await api.client.post(url, json={"score": 5}, headers=applicant)
    assert (again.status_code, again.json()["reason"]) == (409, "already_rated")
    assert await count(api, Rating) == 1


async def test_a_good_rating_needs_no_reason(api: Api) -> None:
    journey = await closed_journey(api, "RR-GOOD")
    rated = await api.client.post(
        rating_url(journey.case_id), json={"score": 3}, headers=journey.applicant
    )
    assert rated.status_code == 201, rated.text
    assert (rated.json()["score_zh"], rated.json()["reasons"]) == ("基本满意", [])
    assert await count(api, FollowUp) == 0
