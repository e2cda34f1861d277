"""Every date/time input of the API, each sent as people and programs send them: a plain date, a
naive time, an aware time, year 0001, year 9999 and garbage. The answer is a 2xx, or a
problem+json 4xx (a 422 naming the field for the bad forms), never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from server.db import utcnow
from server.platform.time import CHINA_TZ
from server.timeinputs import EARLIEST, LATEST, BeijingDate, BeijingDateTime, start_of_day
from tests.fixtures.app import Api
from tests.flows import Journey, start_inspection, start_journey

BEIJING = timezone(timedelta(hours=8))
FORMS = ("plain_date", "naive", "aware", "year_0001", "year_9999", "garbage")
BAD_FORMS = frozenset({"year_0001", "year_9999", "garbage"})


def form_of(form: str, base: datetime, *, day_only: bool) -> str:
    """``base`` (an aware instant fit for the input) written in ``form``."""
    local = base.astimezone(CHINA_TZ).replace(microsecond=0)
    return {
        "plain_date": local.date().isoformat(),
        "naive": local.replace(tzinfo=None).isoformat(),
        "aware": local.astimezone(UTC).isoformat(),
        "year_0001": "0001-01-01" if day_only else "0001-01-01T00:00:00",
        "year_9999": "9999-12-31" if day_only else "9999-12-31T23:59:59-12:00",
        "garbage": "next tuesday",
    }[form]


@dataclass(frozen=True)
class Input:
    """One date/time input: where it goes, who may send it, an instant that suits it."""

    name: str  # the field or parameter the 422 must name
    send: Callable[[Journey, str], Any]  # → awaitable response
    base: Callable[[], datetime]
    day_only: bool = False


def _case(journey: Journey, tail: str) -> str:
    return f"/api/v1/cases/{journey.case_id}{tail}"


def _get(path: str, param: str, who: str = "admin") -> Callable[[Journey, str], Any]:
    def send(journey: Journey, value: str) -> Any:
        headers = journey.admin if who == "admin" else journey.inspector_headers(0)
        return journey.api.client.get(path, params={param: value}, headers=headers)

    return send


def _override(method: str) -> Callable[[Journey, str], Any]:
    def send(journey: Journey, value: str) -> Any:
        body = {"is_workday": False, "note": "调休"} if method == "PUT" else None
        url = f"/api/v1/calendar/overrides/{value}"
        return journey.api.client.request(method, url, json=body, headers=journey.admin)

    return send


def _slot(field: str) -> Callable[[Journey, str], Any]:
    def send(journey: Journey, value: str) -> Any:
        start = utcnow() + timedelta(days=2)
        slot = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()}
        slot[field] = value
        return journey.api.client.post(
            _case(journey, "/slots"), json={"slots": [slot]}, headers=journey.inspector_headers(0)
        )

    return send


def _deadline(journey: Journey, value: str) -> Any:
    body = {"deadline": value, "items": [{"item_id": "SH-02", "instruction": "请整改"}]}
    return journey.api.client.post(
        _case(journey, "/rectification"), json=body, headers=journey.inspector_headers(0)
    )


def _upload(where: str) -> Callable[[Journey, str], Any]:
    def send(journey: Journey, value: str) -> Any:
        body: dict[str, Any] = {
            "idempotency_key": f"time-{abs(hash(value))}-{where}",
            "content_type": "image/jpeg",
            "size": 1000,
            "sha256": "0" * 64,
        }
        if where == "captured_at":
            body["captured_at"] = value
        else:
            body["position"] = {"latitude": 26.09, "longitude": 119.3, "accuracy_m": 10.0}
            body["position"]["fixed_at"] = value
        return journey.api.client.post(
            _case(journey, "/uploads"), json=body, headers=journey.inspector_headers(0)
        )

    return send


def _past() -> datetime:
    return datetime(2026, 1, 1, tzinfo=BEIJING)


def _soon() -> datetime:
    return utcnow() + timedelta(days=2)


def _just_now() -> datetime:
    return utcnow()  # the case was registered moments ago: a photo cannot predate it


INPUTS = [
    Input("since", _get("/api/v1/opinions", "since"), _past),
    Input("since", _get("/api/v1/board", "since"), _past, day_only=True),
    Input("since", _get("/api/v1/feed", "since", who="inspector"), _past),
    Input("date", _override("PUT"), _past, day_only=True),
    Input("date", _override("DELETE"), _past, day_only=True),
    Input("starts_at", _slot("starts_at"), _soon),
    Input("ends_at", _slot("ends_at"), _soon),
    Input("deadline", _deadline, _soon),
    Input("captured_at", _upload("captured_at"), _just_now),
    Input("fixed_at", _upload("fixed_at"), _just_now),
]
IDS = [
    "opinions.since",
    "board.since",
    "feed.since",
    "override.put",
    "override.delete",
    "slots.starts_at",
    "slots.ends_at",
    "rectification.deadline",
    "uploads.captured_at",
    "uploads.position.fixed_at",
]


@pytest.fixture
async def world(api: Api) -> Journey:
    """A case under inspection; the caller of each input is one who may use it."""
    journey = await start_journey(api)
    await start_inspection(journey)
    return journey


@pytest.mark.parametrize("entry", INPUTS, ids=IDS)
async def test_every_date_input_answers_2xx_or_a_422_naming_it(
    world: Journey, entry: Input
) -> None:
    answers = {}
    for form in FORMS:
        value = form_of(form, entry.base(), day_only=entry.day_only)
        response: httpx.Response = await entry.send(world, value)
        answers[form] = (response.status_code, value, response.text[:300])
        assert response.status_code < 500, answers[form]
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json", answers[form]
        located = []
        if response.status_code == 422:
            located = [str(e["loc"][-1]) for e in response.json().get("errors", [])]
        if form in BAD_FORMS:
            assert response.status_code == 422, answers[form]
            assert entry.name in located, answers[form]
            assert entry.name in response.json()["detail"], answers[form]
        elif form == "plain_date" or not entry.day_only:
            # the value is read; a rule of the domain may still refuse it (a past deadline)
            assert entry.name not in located, answers[form]
        else:  # a time where a day is asked: read when it is a midnight, else a 422 naming it
            assert response.status_code != 422 or entry.name in located, answers[form]


# --- what the forms mean ------------------------------------------------------------------


def test_a_plain_date_is_the_start_of_that_day_in_beijing() -> None:
    parse = TypeAdapter(BeijingDateTime).validate_python

    assert parse("2026-01-01") == datetime(2026, 1, 1, tzinfo=BEIJING)
    assert parse("2026-01-01") == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert parse("2026-01-01T09:30") == datetime(2026, 1, 1, 9, 30, tzinfo=BEIJING)
    assert parse("2026-01-01T09:30Z") == datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    assert parse("2026-01-01T09:30+05:00").utcoffset() == timedelta(hours=5)  # kept
    assert start_of_day(date(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=BEIJING)  # the board


@pytest.mark.parametrize(
    "value",
    [
        "1999-12-31T23:59:59+08:00",
        "1999-12-31T16:00:00-08:00",  # 2000-01-01 08:00 in Beijing is inside: see below
        "2100-12-31T17:00:00Z",  # 2101-01-01 01:00 in Beijing
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59.999999-14:00",
    ],
)
def test_the_window_is_read_in_beijing_and_never_overflows(value: str) -> None:
    parse = TypeAdapter(BeijingDateTime).validate_python
    if value == "1999-12-31T16:00:00-08:00":
        assert parse(value) == datetime(2000, 1, 1, tzinfo=UTC)
        return
    with pytest.raises(ValidationError):
        parse(value)


def test_the_date_window_is_one_rule() -> None:
    parse = TypeAdapter(BeijingDate).validate_python
    assert parse(EARLIEST.isoformat()) == EARLIEST
    assert parse(LATEST.isoformat()) == LATEST
    for outside in (EARLIEST - timedelta(days=1), LATEST + timedelta(days=1), date(1, 1, 1)):
        with pytest.raises(ValidationError):
            parse(outside.isoformat())


async def test_since_means_beijing_time_on_the_feed(world: Journey) -> None:
    """The lead's "you are assigned" message was made moments ago; a Beijing wall-clock time
    a few minutes earlier (no offset) finds it, a few minutes later does not. Read as UTC, the
    earlier one would lie 8 hours ahead and find nothing."""
    now = utcnow().astimezone(CHINA_TZ).replace(tzinfo=None, microsecond=0)
    lead = world.inspector_headers(0)

    async def titles(since: str) -> list[str]:
        response = await world.api.client.get("/api/v1/feed", params={"since": since}, headers=lead)
        assert response.status_code == 200, response.text
        return [json.dumps(item, ensure_ascii=False) for item in response.json()]

    assert await titles((now - timedelta(minutes=10)).isoformat())
    assert await titles((now + timedelta(minutes=10)).isoformat()) == []
    assert await titles(now.date().isoformat())
    assert await titles((now.date() + timedelta(days=1)).isoformat()) == []
