"""Working days follow the State Council's calendar: 法定节假日 are off, 调休 make-up weekend days are on
(issue #11 item 2). Shipped calendars 2014–2026; a region can publish a year as a signed event."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.calendar import (
    MONDAY_TO_FRIDAY,
    InvalidCalendar,
    no_calendar_note,
    shipped_calendar,
)
from ledger.domain.region import Region
from ledger.domain.service_session import ServiceSession
from ledger.domain.values import working_days_between

NATIONAL_DAY_2026 = dict(  # 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04), by hand
    holidays=[f"2026-09-{d}" for d in (25, 26, 27)] + [f"2026-10-0{d}" for d in range(1, 8)],
    workdays=["2026-09-20", "2026-10-10"])


def test_working_days_across_national_day_2026_skip_the_holiday_and_count_the_make_up_saturday() -> None:
    # after 09-25 up to 10-12: 09-28, 09-29, 09-30, 10-08, 10-09, 10-10 (Sat, 调休上班), 10-12 → 7
    assert working_days_between(date(2026, 9, 25), date(2026, 10, 12)) == 7
    assert MONDAY_TO_FRIDAY.working_days_between(date(2026, 9, 25), date(2026, 10, 12)) == 11


def test_the_shipped_calendars_match_the_notices_checked_by_hand() -> None:
    calendar = shipped_calendar()
    assert sorted(calendar.years) == list(range(2014, 2027))
    y2026 = calendar.years[2026]
    assert {date(2026, 10, d) for d in range(1, 8)} <= y2026.holidays and date(2026, 10, 8) not in y2026.holidays
    assert y2026.workdays == {date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
                              date(2026, 9, 20), date(2026, 10, 10)}
    assert {date(2025, 10, d) for d in range(1, 9)} <= calendar.years[2025].holidays  # 国庆中秋 8 days
    assert calendar.years[2025].workdays == {date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27),
                                             date(2025, 9, 28), date(2025, 10, 11)}
    assert date(2020, 2, 2) in calendar.years[2020].holidays  # the 2020 Spring Festival extension
    assert y2026.source == "国务院办公厅关于2026年部分节假日安排的通知" and y2026.published_on == date(2025, 11, 4)
    assert not calendar.is_working_day(date(2026, 10, 8 - 1)) and calendar.is_working_day(date(2026, 10, 10))


def test_every_shipped_year_names_its_notice() -> None:
    text = resources.files("ledger.domain.data").joinpath("cn_workdays.json").read_text(encoding="utf-8")
    for year, entry in json.loads(text)["years"].items():
        assert entry["source"] == f"国务院办公厅关于{year}年部分节假日安排的通知"
        assert date.fromisoformat(entry["published_on"]) < date(int(year), 1, 1)


def test_a_year_without_a_calendar_falls_back_to_monday_to_friday_and_says_so() -> None:
    assert working_days_between(date(2027, 9, 24), date(2027, 10, 11)) == 11
    assert no_calendar_note(2027) == "注：2027年的法定节假日安排尚未发布，工作日按周一至周五计算。"
    assert no_calendar_note(2026) is None


@given(start=st.dates(date(2013, 6, 1), date(2028, 6, 1)), days=st.integers(0, 120))
def test_working_days_are_additive_and_never_more_than_the_days(start: date, days: int) -> None:
    from datetime import timedelta

    end = start + timedelta(days=days)
    middle = start + timedelta(days=days // 2)
    calendar = shipped_calendar()
    total = calendar.working_days_between(start, end)
    assert total == calendar.working_days_between(start, middle) + calendar.working_days_between(middle, end)
    assert 0 <= total <= days
    if days and total:
        assert calendar.working_days_between(start, calendar.add_working_days(start, total)) == total


@given(start=st.dates(date(2012, 1, 1), date(2029, 12, 31)), days=st.integers(0, 1200))
def test_the_counted_working_days_are_the_days_tested_one_by_one(start: date, days: int) -> None:
    from datetime import timedelta

    calendar = shipped_calendar()
    end = start + timedelta(days=days)
    one_by_one = sum(1 for offset in range(1, days + 1) if calendar.is_working_day(start + timedelta(days=offset)))
    assert calendar.working_days_between(start, end) == one_by_one


def session(**changes: object) -> ServiceSession:
    fields = dict(session_id=uuid4(), member_id=uuid4(), community_id=uuid4(), activity="敬老", content="陪伴",
                  place="活动室", service_date=date(2026, 9, 25), start_time="09:00", end_time="11:00", minutes=120,
                  post_id=None, order_id=None, organiser="社区", recipient="居民", recorded_on=date(2026, 10, 12))
    fields.update(changes)
    return ServiceSession.record(**fields)  # type: ignore[arg-type]  # the wrong type, on purpose


def test_a_record_entered_on_time_across_national_day_is_not_late() -> None:
    assert not session().late
    assert session(calendar=MONDAY_TO_FRIDAY).late  # what the Monday–Friday count said


def test_a_correction_of_the_service_date_recomputes_the_late_flag() -> None:
    s = session(service_date=date(2026, 10, 9))
    s.correct(changes={"service_date": date(2026, 9, 1)}, reason="日期录错")
    assert s.late
    s.correct(changes={"service_date": date(2026, 9, 30)}, reason="日期录错")
    assert not s.late


def region() -> Region:
    return Region.initialise(code="320102", name="南京市玄武区", display_name=None)


def test_a_region_publishes_a_year_as_a_versioned_event_that_takes_precedence() -> None:
    r = region()
    r.collect_events()
    year_2027 = dict(holidays=["2027-10-01", "2027-10-04", "2027-10-05", "2027-10-06", "2027-10-07"],
                     workdays=["2027-09-26"], source="国务院办公厅关于2027年部分节假日安排的通知",
                     published_on="2026-11-10")
    assert r.publish_calendar(year=2027, **year_2027) == 1
    assert r.publish_calendar(year=2027, **year_2027) == 1  # the same again: a no-op
    assert [type(e).__name__ for e in r.collect_events()] == ["CalendarPublished"]
    calendar = r.work_calendar()
    assert calendar.covers(2027) and calendar.years[2027].origin == "region v1"
    assert calendar.is_working_day(date(2027, 9, 26)) and not calendar.is_working_day(date(2027, 10, 4))
    assert calendar.covers(2026) and calendar.years[2026].origin == "shipped"
    assert r.publish_calendar(year=2026, **{**NATIONAL_DAY_2026, "source": "国务院办公厅关于2026年部分节假日安排的通知",
                                            "published_on": "2025-11-04"}) == 1
    assert r.publish_calendar(year=2027, **{**year_2027, "workdays": []}) == 2
    assert r.work_calendar().years[2027].origin == "region v2"


@pytest.mark.parametrize("bad", [
    {"holidays": ["2026-10-01"]},  # not in 2027
    {"workdays": ["2027-10-04"]},  # a Monday cannot be a make-up working day
    {"holidays": ["2027-10-02"], "workdays": ["2027-10-02"]},  # both
    {"holidays": ["2027-13-01"]},
    {"holidays": ["2027-10-01", "2027-10-01"]},
    {"source": " "},
    {"holidays": [f"2027-01-{d:02d}" for d in range(1, 32)] + [f"2027-03-{d:02d}" for d in range(1, 31)]},
])
def test_a_calendar_that_cannot_be_right_is_refused_and_changes_nothing(bad: dict[str, object]) -> None:
    r = region()
    r.collect_events()
    fields: dict[str, object] = dict(holidays=[], workdays=[], source="国务院办公厅关于2027年部分节假日安排的通知",
                                     published_on="2026-11-10")
    fields.update(bad)
    with pytest.raises(InvalidCalendar) as refused:
        r.publish_calendar(year=2027, **fields)  # type: ignore[arg-type]  # the wrong type, on purpose
    assert refused.value.code == "invalid_calendar"
    assert r.collect_events() == [] and r.calendars == {}
