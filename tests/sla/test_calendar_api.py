"""The calendar-override and clock endpoints: who may do what, audit, due times that follow."""

from __future__ import annotations

from server.auth.models import Role
from tests.fixtures.app import Api
from tests.fixtures.clock import AppClock
from tests.sla import audit_count, get_clock, opened_at, sh

OVERRIDES = "/api/v1/calendar/overrides"
TUESDAY = "2026-03-10"


async def case_with_clock(api: Api, clock: AppClock, sla_class: str = "general") -> str:
    """A case taken in on Monday 2026-03-09 10:00 (a general one is due Tuesday 10:00)."""
    return (await opened_at(api, clock, sh(2026, 3, 9, 10), sla_class)).case_id


async def test_an_admin_override_moves_the_due_time_and_removing_it_restores(
    api: Api, clock: AppClock
) -> None:
    case_id = await case_with_clock(api, clock)
    _, admin = await api.staff_headers(Role.admin)
    assert (await get_clock(api, case_id, admin))["due_at_local"] == "2026-03-10T10:00:00+08:00"
    body = {"is_workday": False, "note": "台风红色预警，全市停工"}
    response = await api.client.put(f"{OVERRIDES}/{TUESDAY}", json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["clocks_refreshed"] == 1
    shown = await get_clock(api, case_id, admin)
    assert shown["due_at_local"] == "2026-03-11T10:00:00+08:00"
    assert shown["due_at"] == "2026-03-11T02:00:00Z"
    response = await api.client.delete(f"{OVERRIDES}/{TUESDAY}", headers=admin)
    assert response.status_code == 204
    assert (await get_clock(api, case_id, admin))["due_at_local"] == "2026-03-10T10:00:00+08:00"
    async with api.ctx.sessionmaker() as session:
        assert await audit_count(session, "calendar.override_set") == 1
        assert await audit_count(session, "calendar.override_removed") == 1


async def test_an_override_needs_a_note(api: Api) -> None:
    _, admin = await api.staff_headers(Role.admin)
    for body in ({"is_workday": True}, {"is_workday": True, "note": "   "}):
        response = await api.client.put(f"{OVERRIDES}/2027-02-06", json=body, headers=admin)
        assert response.status_code == 422
        problem = response.json()
        assert (problem["field"], problem["code"]) == ("note", "bad_input")
        assert "请填写调整原因" in problem["detail"]
    assert (await api.client.get(OVERRIDES, headers=admin)).json() == []


async def test_only_admins_change_the_calendar_and_dispatchers_read_it(api: Api) -> None:
    _, admin = await api.staff_headers(Role.admin)
    _, dispatcher = await api.staff_headers(Role.dispatcher)
    _, inspector = await api.staff_headers(Role.inspector)
    body = {"is_workday": True, "note": "2027 年春节调休上班"}
    refused = await api.client.put(f"{OVERRIDES}/2027-02-06", json=body, headers=dispatcher)
    assert refused.status_code == 403
    assert "无权" in refused.json()["detail"]
    saved = await api.client.put(f"{OVERRIDES}/2027-02-06", json=body, headers=admin)
    assert saved.status_code == 200
    listed = await api.client.get(OVERRIDES, params={"year": 2027}, headers=dispatcher)
    assert [(o["date"], o["is_workday"]) for o in listed.json()] == [("2027-02-06", True)]
    assert (await api.client.get(OVERRIDES, params={"year": 2026}, headers=admin)).json() == []
    assert (await api.client.get(OVERRIDES, headers=inspector)).status_code == 403
    gone = await api.client.delete(f"{OVERRIDES}/2027-02-06", headers=dispatcher)
    assert gone.status_code == 403


async def test_removing_a_missing_override_is_404_and_a_bad_date_422(api: Api) -> None:
    _, admin = await api.staff_headers(Role.admin)
    missing = await api.client.delete(f"{OVERRIDES}/2026-05-01", headers=admin)
    assert missing.status_code == 404
    assert "2026-05-01" in missing.json()["detail"]
    bad = await api.client.put(
        f"{OVERRIDES}/2026-02-30", json={"is_workday": True, "note": "x"}, headers=admin
    )
    assert bad.status_code == 422


async def test_the_clock_is_shown_to_whoever_may_see_the_case(api: Api, clock: AppClock) -> None:
    case_id = await case_with_clock(api, clock, sla_class="simple")
    _, dispatcher = await api.staff_headers(Role.dispatcher)
    _, inspector = await api.staff_headers(Role.inspector)
    shown = await get_clock(api, case_id, dispatcher)
    assert (shown["phase"], shown["sla_class"], shown["active"]) == ("initial", "simple", True)
    assert shown["due_at_local"] == "2026-03-09T11:00:00+08:00"
    hidden = await api.client.get(f"/api/v1/cases/{case_id}/clock", headers=inspector)
    assert hidden.status_code == 404  # not one of the case's inspectors
