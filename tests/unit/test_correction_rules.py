"""A correction obeys every rule a new record obeys (issue #11 item 3): minutes fit between start and
end, the date lies between the scheme's start and the recording date, text fields keep the record's
limits, and the late flag is recomputed with the calendar in force."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.calendar import MONDAY_TO_FRIDAY, shipped_calendar
from ledger.domain.errors import InvalidInput
from ledger.domain.service_session import ServiceSession
from ledger.domain.limits import ACTIVITY_CHARS_MAX, SERVICE_DATE_MIN
from ledger.domain.values import Rating, Role


def session(**changes: Any) -> ServiceSession:
    fields: dict[str, Any] = dict(
        session_id=uuid4(), member_id=uuid4(), community_id=uuid4(), activity="敬老", content="陪伴",
        place="活动室", service_date=date(2026, 3, 2), start_time="09:00", end_time="11:00", minutes=120,
        post_id=None, order_id=None, organiser="社区", recipient="居民", recorded_on=date(2026, 3, 3))
    fields.update(changes)
    return ServiceSession.record(**fields)


def certified(**changes: Any) -> ServiceSession:
    s = session(**changes)
    s.rate(rating=Rating.GOOD, rater_role=Role.COMMUNITY)
    s.certify(certified_by=uuid4(), certified_on=date(2026, 3, 3))
    return s


def test_corrected_minutes_beyond_end_minus_start_are_refused() -> None:
    s = certified()
    with pytest.raises(InvalidInput, match="travel time"):
        s.correct(changes={"minutes": 150}, reason="多记")  # 09:00–11:00 holds 120 minutes
    assert s.minutes == 120 and s.certified_minutes == 120


def test_a_correction_of_the_times_keeps_the_minutes_inside_them() -> None:
    s = session()
    with pytest.raises(InvalidInput, match="travel time"):
        s.correct(changes={"end_time": "10:00"}, reason="结束时间录错")  # 120 minutes in one hour
    with pytest.raises(InvalidInput, match="end_time must be after start_time"):
        s.correct(changes={"start_time": "12:00"}, reason="开始时间录错")
    s.correct(changes={"end_time": "10:00", "minutes": 60}, reason="结束时间录错")
    assert (s.end_time, s.minutes) == ("10:00", 60)
    s.correct(changes={"start_time": "08:00", "end_time": "11:30", "minutes": 200}, reason="时间录错")
    assert (s.start_time, s.end_time, s.minutes) == ("08:00", "11:30", 200)


def test_a_corrected_text_keeps_the_records_limits() -> None:
    with pytest.raises(InvalidInput, match="activity"):
        session(activity="长" * (ACTIVITY_CHARS_MAX + 1))
    s = session()
    with pytest.raises(InvalidInput, match="activity"):
        s.correct(changes={"activity": "长" * (ACTIVITY_CHARS_MAX + 1)}, reason="名称")
    with pytest.raises(InvalidInput, match="control"):
        s.correct(changes={"place": "活动\u202e室"}, reason="地点")
    with pytest.raises(InvalidInput, match="content"):
        s.correct(changes={"content": "   "}, reason="内容")


def test_a_corrected_date_lies_between_the_schemes_start_and_the_recording_date() -> None:
    s = session()
    for bad in (date(2026, 3, 4), date(2013, 12, 31)):
        with pytest.raises(InvalidInput, match="service_date"):
            s.correct(changes={"service_date": bad}, reason="日期")
    with pytest.raises(InvalidInput, match="service_date"):
        s.correct(changes={"service_date": "2026-03-01"}, reason="日期")  # a string is not a date
    s.correct(changes={"service_date": SERVICE_DATE_MIN}, reason="日期")
    assert s.service_date == SERVICE_DATE_MIN and s.late


def test_a_correction_recomputes_the_late_flag_with_the_calendar_in_force() -> None:
    # recorded 2026-10-12 for 2026-09-25: late on a Monday–Friday count (11 days), on time under the
    # State Council calendar (7: 国庆). Published later, the calendar in force clears the flag at the
    # next correction, whatever field it corrects.
    s = session(service_date=date(2026, 9, 25), recorded_on=date(2026, 10, 12), calendar=MONDAY_TO_FRIDAY)
    assert s.late
    s.correct(changes={"place": "社区活动室"}, reason="地点录错", calendar=shipped_calendar())
    assert not s.late
    s.correct(changes={"place": "活动室"}, reason="地点录错", calendar=MONDAY_TO_FRIDAY)
    assert s.late


@given(minutes=st.integers(1, 16 * 60), start=st.integers(0, 23 * 60 + 59), end=st.integers(0, 23 * 60 + 59))
def test_a_correction_is_accepted_exactly_when_the_same_record_would_be(minutes: int, start: int, end: int) -> None:
    clock = [f"{t // 60:02d}:{t % 60:02d}" for t in (start, end)]
    fields = dict(start_time=clock[0], end_time=clock[1], minutes=minutes)
    try:
        session(**fields)
    except InvalidInput:
        new_ok = False
    else:
        new_ok = True
    s = session(start_time="00:00", end_time="23:59", minutes=1)
    try:
        s.correct(changes=fields, reason="更正")
    except InvalidInput:
        corrected_ok = False
    else:
        corrected_ok = True
    assert corrected_ok == new_ok
