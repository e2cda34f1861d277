"""The case list: pages, order, filters, search and visibility, on SQLite and PostgreSQL.

Every case is opened through intake and moved only by endpoints and jobs (``tests.flows``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from server.auth.models import Role
from server.cases import repository
from server.platform.time import CHINA_TZ
from tests.cases.list_steps import case_page, open_cases, page_applications
from tests.fixtures.app import Api
from tests.flows import assign, open_case, start_journey, tick_sla


async def test_pages_split_the_list_without_overlap_and_count_it_all(api: Api) -> None:
    journey = await start_journey(api)
    await open_cases(journey, 5)
    seen = []
    for page in (1, 2, 3):
        seen.append(await page_applications(api, journey.dispatcher, page=page, limit=2))
    assert [len(p) for p in seen] == [2, 2, 1]
    assert [a for p in seen for a in p] == ["L-5", "L-4", "L-3", "L-2", "L-1"]  # newest first
    oldest = await page_applications(api, journey.dispatcher, sort="created", limit=2)
    assert oldest == ["L-1", "L-2"]
    body = (await case_page(api, journey.dispatcher, limit=2, page=3)).json()
    assert (body["total"], body["page"], body["limit"]) == (5, 3, 2)


async def test_sort_by_due_time_puts_the_soonest_first(api: Api) -> None:
    journey = await start_journey(api)
    await open_case(journey, "SLOW", sla_class="complex", override_reason="场所面积大，需时较长")
    await open_case(journey, "FAST", sla_class="simple", override_reason="仅核对一项，当场可办")
    await open_case(journey, "MID", sla_class="general", override_reason="按一般程序办理")
    assert await page_applications(api, journey.dispatcher, sort="due") == ["FAST", "MID", "SLOW"]
    items = (await case_page(api, journey.dispatcher, sort="due")).json()["items"]
    dues = [datetime.fromisoformat(i["due_at"]) for i in items]
    assert dues == sorted(dues)


async def test_filters_by_state_matter_inspector_card_and_created_day(api: Api) -> None:
    journey = await start_journey(api)
    simple = {"sla_class": "simple", "override_reason": "仅核对一项，当场可办"}
    await open_case(journey, "XC-1", matters=["XC"], **simple)
    await open_case(journey, "CY-1", matters=["CY"], sla_class="complex", override_reason="面积大")
    drawn = await assign(journey, matter="CY")  # CY-1 gets its pair
    lead = drawn["inspector_ids"][0]
    d = journey.dispatcher
    assert await page_applications(api, d, state="received") == ["XC-1"]
    assert await page_applications(api, d, state=["received", drawn["state"]]) == ["CY-1", "XC-1"]
    assert await page_applications(api, d, matter="XC") == ["XC-1"]
    assert await page_applications(api, d, matter="FS") == []
    assert await page_applications(api, d, inspector=lead) == ["CY-1"]
    today = datetime.now(CHINA_TZ).date()
    assert len(await page_applications(api, d, created_from=today, created_to=today)) == 2
    yesterday = today - timedelta(days=1)
    assert await page_applications(api, d, created_to=yesterday) == []
    # The simple case's due time passes: the tick raises its red card, the complex one has none.
    [fast] = (await case_page(api, d, matter="XC")).json()["items"]
    await tick_sla(api, datetime.fromisoformat(fast["due_at"]) + timedelta(minutes=1))
    assert await page_applications(api, d, card="red") == ["XC-1"]
    assert await page_applications(api, d, card="none") == ["CY-1"]


async def test_search_finds_number_application_applicant_and_address(api: Api) -> None:
    journey = await start_journey(api)
    shop = {"kind": "company", "name": "闽江茶叶商行", "phone": "13800138001"}
    case = await open_case(journey, "APP-777", applicant=shop)
    await open_case(journey, "OTHER-1", site={"address": "厦门市思明区中山路1号"})
    d = journey.dispatcher
    for q in ("茶叶", "app-77", case["number"][-6:].lower(), "东街88"):
        assert await page_applications(api, d, q=q) == ["APP-777"], q
    assert await page_applications(api, d, q="思明区") == ["OTHER-1"]
    assert await page_applications(api, d, q="%") == []  # a wildcard is a plain character
    assert await page_applications(api, d, q="   ") == ["OTHER-1", "APP-777"]


async def test_inspector_pages_show_only_their_cases(api: Api) -> None:
    journey = await start_journey(api)
    await open_case(journey, "THEIRS")
    drawn = await assign(journey)
    await open_case(journey, "NOBODYS")
    lead = journey.headers[drawn["inspector_ids"][0]]
    _, stranger = await api.staff_headers(Role.inspector)
    assert await page_applications(api, lead) == ["THEIRS"]
    assert (await case_page(api, lead)).json()["total"] == 1
    assert await page_applications(api, stranger) == []
    assert await page_applications(api, stranger, q="THEIRS") == []
    assert await page_applications(api, journey.applicant) == ["NOBODYS"]


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"limit": 0}, "limit", "每页条数须在 1 到 100 之间"),
        ({"limit": 1000}, "limit", "每页条数须在 1 到 100 之间"),
        ({"page": 0}, "page", "页码须从 1 开始"),
        (
            {"created_from": "2026-03-02", "created_to": "2026-03-01"},
            "created_from",
            "晚于结束日期",
        ),
        ({"state": "sleeping"}, "state", "未知的案件状态：sleeping"),
        ({"matter": "flying_cars"}, "matter", "目录中没有事项“flying_cars”"),
        ({"card": "green"}, "card", "时限标识只能是"),
        ({"q": "x" * 101}, "q", "搜索内容过长"),
    ],
)
async def test_bad_list_requests_are_refused_in_words(
    api: Api, params: dict[str, object], field: str, words: str
) -> None:
    journey = await start_journey(api)
    await open_cases(journey, 2)
    before = (await case_page(api, journey.dispatcher)).json()
    refused = await case_page(api, journey.dispatcher, **params)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert refused.headers["content-type"] == "application/problem+json"
    assert problem["field"] == field
    assert words in problem["detail"]
    assert problem["detail_en"]
    assert (await case_page(api, journey.dispatcher)).json() == before


async def test_a_large_total_is_counted_up_to_the_cap(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    journey = await start_journey(api)
    await open_cases(journey, 4)
    monkeypatch.setattr(repository, "COUNT_CAP", 3)  # stands for 10,000
    capped = (await case_page(api, journey.dispatcher, limit=2)).json()
    assert (capped["total"], capped["total_capped"], len(capped["items"])) == (3, True, 2)
    monkeypatch.setattr(repository, "COUNT_CAP", 4)
    exact = (await case_page(api, journey.dispatcher, limit=2)).json()
    assert (exact["total"], exact["total_capped"]) == (4, False)
