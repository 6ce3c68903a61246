"""Working days (工作日): the State Council's yearly calendar of 法定节假日 and 调休 make-up working days.

A service record is entered within 10 working days of the activity (志愿服务记录与证明出具办法), and
working days follow the calendar the State Council's General Office publishes each year
(国务院办公厅关于YYYY年部分节假日安排的通知): its holidays are not working days, its make-up weekend
days are. The calendar in force for a year is, in order:

1. the latest version the region published (`Region.CalendarPublished`, a signed event);
2. the calendar shipped with the package (`data/cn_workdays.json`, each year with its notice);
3. otherwise Monday–Friday, and every report of that year says so (`WorkCalendar.covers`).

Everything here is pure: a command is handed the `WorkCalendar` to use (the region's, see
`Region.work_calendar`) and records its result (days elapsed, late) in its event; no applier reads
a calendar.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from typing import Any

from ledger.domain.errors import InvalidInput
from ledger.domain.limits import CALENDAR_SOURCE_CHARS_MAX

HOLIDAYS_PER_YEAR_MAX = 60  # the published years have 21–33 days off; room for an extension (2020)
WORKDAYS_PER_YEAR_MAX = 20  # make-up working days: the published years have 4–8
CALENDAR_YEAR_MIN = 2000
CALENDAR_YEAR_MAX = 2100


class InvalidCalendar(InvalidInput):
    """A published calendar that cannot be right (dates outside its year, a day both off and on…)."""

    code = "invalid_calendar"


@dataclass(frozen=True)
class YearCalendar:
    """One year's published calendar: its days off, its make-up working days and its source."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str  # 国务院办公厅关于YYYY年部分节假日安排的通知
    published_on: date | None
    origin: str = "shipped"  # "shipped" (the package's data) or "region v<N>" (a published event)

    def is_working_day(self, day: date) -> bool:
        assert day.year == self.year, (day, self.year)
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def to_payload(self) -> dict[str, Any]:
        return {"year": self.year, "holidays": sorted(d.isoformat() for d in self.holidays),
                "workdays": sorted(d.isoformat() for d in self.workdays), "source": self.source,
                "published_on": self.published_on.isoformat() if self.published_on else None}


def _day(value: Any, year: int, what: str) -> date:
    if isinstance(value, date):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise InvalidCalendar(f"{what} {value!r} 不是日期 / is not a date (YYYY-MM-DD)") from None
    else:
        raise InvalidCalendar(f"{what} 须为日期 / must be dates (YYYY-MM-DD)")
    if day.year != year:
        raise InvalidCalendar(f"{what} {day.isoformat()} 不在{year}年内 / is not in {year}")
    return day


def check_year_calendar(*, year: int, holidays: Iterable[Any], workdays: Iterable[Any], source: str,
                        published_on: Any) -> YearCalendar:
    """A year's calendar from untrusted input, or `InvalidCalendar` saying what is wrong."""
    if not isinstance(year, int) or isinstance(year, bool) or not CALENDAR_YEAR_MIN <= year <= CALENDAR_YEAR_MAX:
        raise InvalidCalendar(f"年度须在{CALENDAR_YEAR_MIN}–{CALENDAR_YEAR_MAX}之间 / year out of range")
    holiday_list = list(holidays)
    workday_list = list(workdays)
    if len(holiday_list) > HOLIDAYS_PER_YEAR_MAX or len(workday_list) > WORKDAYS_PER_YEAR_MAX:
        raise InvalidCalendar(f"节假日至多{HOLIDAYS_PER_YEAR_MAX}天、调休上班日至多{WORKDAYS_PER_YEAR_MAX}天 / "
                              "too many days")
    off = {_day(v, year, "holidays") for v in holiday_list}
    on = {_day(v, year, "workdays") for v in workday_list}
    if len(off) != len(holiday_list) or len(on) != len(workday_list):
        raise InvalidCalendar("日期重复 / a date is listed twice")
    both = off & on
    if both:
        raise InvalidCalendar(f"{min(both).isoformat()} 既是假日又是上班日 / is both a holiday and a working day")
    weekday_workdays = sorted(d for d in on if d.weekday() < 5)
    if weekday_workdays:
        raise InvalidCalendar(f"调休上班日须为周末 / a make-up working day falls on a weekend: "
                              f"{weekday_workdays[0].isoformat()} is a weekday")
    if not isinstance(source, str) or not source.strip() or len(source.strip()) > CALENDAR_SOURCE_CHARS_MAX:
        raise InvalidCalendar(f"须注明来源（通知名称），至多{CALENDAR_SOURCE_CHARS_MAX}字 / "
                              "the source notice is required")
    notice_day = None if published_on in (None, "") else _day(published_on, _year_of(published_on), "published_on")
    if notice_day is not None and notice_day.year > year:
        raise InvalidCalendar("通知日期晚于该年度 / the notice is dated after its year")
    return YearCalendar(year=year, holidays=frozenset(off), workdays=frozenset(on), source=source.strip(),
                        published_on=notice_day)


def _year_of(value: Any) -> int:
    if isinstance(value, date):
        return value.year
    if isinstance(value, str) and len(value) >= 4 and value[:4].isdigit():
        return int(value[:4])
    raise InvalidCalendar("published_on 须为日期 / must be a date (YYYY-MM-DD)")


@dataclass(frozen=True)
class WorkCalendar:
    """The calendars in force, by year; Monday–Friday for a year none covers."""

    years: Mapping[int, YearCalendar] = field(default_factory=dict)

    def covers(self, year: int) -> bool:
        return year in self.years

    def is_working_day(self, day: date) -> bool:
        calendar = self.years.get(day.year)
        if calendar is None:
            return day.weekday() < 5
        return calendar.is_working_day(day)

    def with_year(self, calendar: YearCalendar) -> WorkCalendar:
        return WorkCalendar({**self.years, calendar.year: calendar})

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end`; 0 when end <= start. Counted as the
        weekdays of the span, less the holidays on weekdays, plus the make-up working days on weekends
        of each year's calendar (the same as testing each day with `is_working_day`, without the loop:
        a paper record two years old costs as little as yesterday's)."""
        if end <= start:
            return 0
        count = _weekdays_between(start, end)
        for year in range(start.year, end.year + 1):
            calendar = self.years.get(year)
            if calendar is None:
                continue
            count -= sum(1 for day in calendar.holidays
                         if start < day <= end and day.weekday() < 5 and day not in calendar.workdays)
            count += sum(1 for day in calendar.workdays if start < day <= end and day.weekday() >= 5)
        return count

    def add_working_days(self, start: date, working_days: int) -> date:
        """The `working_days`-th working day after `start` (a deadline: the last day still on time)."""
        assert 0 <= working_days <= 366, working_days
        day = start
        while working_days > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                working_days -= 1
        return day


def _weekdays_between(start: date, end: date) -> int:
    days = (end - start).days
    full_weeks, rest = divmod(days, 7)
    return full_weeks * 5 + sum(1 for offset in range(1, rest + 1) if (start + timedelta(days=offset)).weekday() < 5)


MONDAY_TO_FRIDAY = WorkCalendar()


@functools.cache
def shipped_calendar() -> WorkCalendar:
    """The State Council calendars shipped with the package (read once; the file never changes)."""
    text = resources.files("ledger.domain.data").joinpath("cn_workdays.json").read_text(encoding="utf-8")
    years = {}
    for key, entry in json.loads(text)["years"].items():
        year = check_year_calendar(year=int(key), holidays=entry["holidays"], workdays=entry["workdays"],
                                   source=entry["source"], published_on=entry["published_on"])
        years[year.year] = year
    return WorkCalendar(years)


def calendar_from_published(published: Mapping[int, Mapping[str, Any]]) -> WorkCalendar:
    """The shipped calendar overlaid with a region's published years (payloads of
    `Region.CalendarPublished`, the latest version of each year)."""
    calendar = shipped_calendar()
    for year, payload in sorted(published.items()):
        # checked when it was published; trusted as stored, so a stricter check later never makes
        # an old region fail to load
        notice_day = payload["published_on"]
        calendar = calendar.with_year(YearCalendar(
            year=year, holidays=frozenset(date.fromisoformat(d) for d in payload["holidays"]),
            workdays=frozenset(date.fromisoformat(d) for d in payload["workdays"]), source=payload["source"],
            published_on=date.fromisoformat(notice_day) if notice_day else None,
            origin=f"region v{payload['version']}"))
    return calendar


def working_days_between(start: date, end: date, calendar: WorkCalendar | None = None) -> int:
    """Working days after `start` up to and including `end` under `calendar` (default: the shipped
    State Council calendars, Monday–Friday for years they do not cover); 0 when end <= start."""
    return (calendar or shipped_calendar()).working_days_between(start, end)


def no_calendar_note(year: int, calendar: WorkCalendar | None = None) -> str | None:
    """The line a report of `year` carries when no calendar covers that year, else None."""
    if (calendar or shipped_calendar()).covers(year):
        return None
    return f"注：{year}年的法定节假日安排尚未发布，工作日按周一至周五计算。"
