"""The region admin publishes a year's holiday calendar over HTTP; the late flag follows it."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from ledger.demo import at, simulated
from tests.api.world import World

YEAR_2027 = {"holidays": ["2027-10-01", "2027-10-04", "2027-10-05", "2027-10-06", "2027-10-07"],
             "workdays": ["2027-09-26"], "source": "国务院办公厅关于2027年部分节假日安排的通知",
             "published_on": "2026-11-10"}


def test_the_region_publishes_a_calendar_and_reads_it_back(client: TestClient, world: World) -> None:
    region = world.headers(world.region)
    before = client.get("/v1/region/calendars/2027", headers=region).json()
    assert (before["covered"], before["origin"]) == (False, "monday-friday")
    response = client.put("/v1/region/calendars/2027", headers=region, json=YEAR_2027)
    assert response.status_code == 200, response.text
    assert response.json() == {"year": 2027, "version": 1}
    again = client.put("/v1/region/calendars/2027", headers=region, json=YEAR_2027)
    assert again.json() == {"year": 2027, "version": 1}  # the same calendar again: no new version
    shown = client.get("/v1/region/calendars/2027", headers=world.headers(world.a.member)).json()
    assert (shown["covered"], shown["origin"], shown["workdays"]) == (True, "region v1", ["2027-09-26"])
    shipped = client.get("/v1/region/calendars/2026", headers=region).json()
    assert (shipped["origin"], shipped["source"]) == ("shipped", "国务院办公厅关于2026年部分节假日安排的通知")


def test_a_calendar_that_cannot_be_right_is_refused_with_a_stable_code(client: TestClient, world: World) -> None:
    region = world.headers(world.region)
    response = client.put("/v1/region/calendars/2027", headers=region,
                          json={**YEAR_2027, "workdays": ["2027-10-04"]})  # a Monday
    assert response.status_code == 422 and response.json()["code"] == "invalid_calendar"
    assert client.get("/v1/region/calendars/2027", headers=region).json()["covered"] is False


def test_only_the_region_admin_publishes_a_calendar(client: TestClient, world: World) -> None:
    response = client.put("/v1/region/calendars/2027", headers=world.headers(world.a.community), json=YEAR_2027)
    assert response.status_code == 403


YEAR_2099 = {"holidays": [f"2099-10-0{d}" for d in range(1, 8)], "workdays": ["2099-09-27", "2099-10-10"],
             "source": "国务院办公厅关于2099年部分节假日安排的通知", "published_on": "2098-11-10"}


def test_a_session_recorded_after_a_published_holiday_week_is_on_time(world: World) -> None:
    # a far year, so the world (built today) has its member registered before the session, whatever today is
    ledger = world.ledger
    ledger.publish_calendar(actor=world.region, year=2099, **YEAR_2099)
    side = world.a
    with simulated(at(date(2099, 10, 16), 10)):
        # after Tue 09-29 up to Fri 10-16: 09-30, 10-08, 10-09, Sat 10-10 (调休), 10-12 … 10-16 → 9 working
        # days, on time (Monday–Friday would count 13: late)
        session_id = ledger.record_session(
            actor=side.community, member_id=side.member.actor_id, activity="巡逻", content="夜间巡逻",
            place="小区", service_date=date(2099, 9, 29), start_time="19:00", end_time="21:00", minutes=90)
    assert not ledger.get_session(session_id).late
    with simulated(at(date(2099, 10, 17), 10)):
        ledger.correct_session(actor=side.community, session_id=session_id,
                               changes={"service_date": date(2099, 9, 1)}, reason="日期录错")
    assert ledger.get_session(session_id).late  # a correction obeys the same calendar
