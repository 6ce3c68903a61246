"""Activities at the venue and check-in/check-out (签到签退, issue #15 part 1).

A community opens an **activity** (a menu item or a post, a place, a planned start and end on one date,
the members it expects) and shows a rotating check-in code (ledger/verification/checkin_code.py).
Members check in and out by scanning it — or the community checks them in by scanning the member's own
code, or records a group in one step (团体录入) — and each scan is its own signed event on the activity.

When a member checks out, or the activity is closed with the member still checked in (a forgotten
check-out: closed at the activity's end and flagged), the member's **presence** is the time between
check-in and check-out that falls inside the activity's window. A session is drafted
(`Assurance.CHECKED_IN`) when the presence reaches the region's minimum share of the planned time
(default 60 %); otherwise none is drafted and the event says why (`below_minimum_share`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.errors import (
    ActivityClosed,
    AlreadyCheckedIn,
    InvalidInput,
    NotCheckedIn,
)
from ledger.domain.limits import ACTIVITY_CHARS_MAX, PLACE_CHARS_MAX
from ledger.domain.values import CHINA_TIME, check_text

EXPECTED_MEMBERS_MAX = 500  # one venue's activity; a bigger crowd is several activities
GROUP_ENTRY_MEMBERS_MAX = 100  # 团体录入: one form, one transaction
PRESENCE_SHARE_MIN_PERCENT_DEFAULT = 60  # 云南等地: hours count only at ≥ 60 % presence
# how a member came to be checked in or out
BY_CODE, BY_MEMBER_CODE, BY_GROUP, AT_CLOSE = "code", "member_code", "group", "closed_at_end"
BY_DEVICE_OFFLINE = "member_code_offline"  # the organiser's venue device scanned the member's code offline
METHODS = frozenset({BY_CODE, BY_MEMBER_CODE, BY_GROUP, BY_DEVICE_OFFLINE})
DRAFTED, BELOW_MINIMUM_SHARE = "drafted", "below_minimum_share"


def _clock(value: str, field: str) -> tuple[int, int]:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":" or not (value[:2] + value[3:]).isascii() \
            or not (value[:2] + value[3:]).isdigit():
        raise InvalidInput(f"{field} 须为 HH:MM 时间 / {field} must be a time of day HH:MM")
    hours, minutes = int(value[:2]), int(value[3:])
    if hours > 23 or minutes > 59:
        raise InvalidInput(f"{field} 须为 HH:MM 时间 / {field} must be a time of day HH:MM")
    return hours, minutes


def window(service_date: date, start_time: str, end_time: str) -> tuple[datetime, datetime]:
    """The activity's planned window as China-time moments."""
    start = datetime(service_date.year, service_date.month, service_date.day, *_clock(start_time, "start_time"),
                     tzinfo=CHINA_TIME)
    end = datetime(service_date.year, service_date.month, service_date.day, *_clock(end_time, "end_time"),
                   tzinfo=CHINA_TIME)
    return start, end


def presence(*, start: datetime, end: datetime, checked_in: datetime, checked_out: datetime) \
        -> tuple[str, str, int] | None:
    """The part of [checked_in, checked_out] inside the window [start, end], on whole minutes (China
    time): (from HH:MM, to HH:MM, minutes), or None when there is no whole minute of overlap. Minutes
    are counted between the whole minutes shown, so they never exceed to − from."""
    begin = max(start, checked_in).astimezone(CHINA_TIME).replace(second=0, microsecond=0)
    finish = min(end, checked_out).astimezone(CHINA_TIME).replace(second=0, microsecond=0)
    minutes = int((finish - begin) / timedelta(minutes=1))
    if minutes <= 0:
        return None
    return begin.strftime("%H:%M"), finish.strftime("%H:%M"), minutes


def meets_share(*, presence_minutes: int, planned_minutes: int, share_min_percent: int) -> bool:
    """Integer arithmetic: presence / planned ≥ share / 100."""
    assert planned_minutes > 0
    return presence_minutes * 100 >= share_min_percent * planned_minutes


def check_share_percent(percent: int) -> int:
    if not isinstance(percent, int) or isinstance(percent, bool) or not 1 <= percent <= 100:
        raise InvalidInput("最低在场比例须为 1–100 的整数百分比 / the minimum presence share is a whole percent 1–100")
    return percent


class Activity(LedgerAggregate):
    OPEN, CLOSED = "open", "closed"

    @classmethod
    def open(cls, *, activity_id: UUID, community_id: UUID, title: str, place: str, service_date: date,
             start_time: str, end_time: str, expected_members: int, menu_item_id: UUID | None,
             post_id: UUID | None, opened_on: date) -> "Activity":
        start, end = window(service_date, start_time, end_time)
        if end <= start:
            raise InvalidInput("结束时间须晚于开始时间（同一天内）/ end_time must be after start_time on the same date")
        if service_date < opened_on - timedelta(days=1):
            raise InvalidInput("活动日期已过，无法再开放签到 / the activity's date has passed: it cannot be opened")
        if (menu_item_id is None) == (post_id is None):
            raise InvalidInput("活动对应一个服务菜单项或一个岗位 / an activity serves one menu item or one post")
        if not isinstance(expected_members, int) or not 1 <= expected_members <= EXPECTED_MEMBERS_MAX:
            raise InvalidInput(f"预计人数须为 1–{EXPECTED_MEMBERS_MAX} / expected members: 1 to {EXPECTED_MEMBERS_MAX}")
        return cls(id=activity_id, community_id=community_id,
                   title=check_text(title, "title", chars_max=ACTIVITY_CHARS_MAX),
                   place=check_text(place, "place", chars_max=PLACE_CHARS_MAX), service_date=service_date,
                   start_time=start_time, end_time=end_time, expected_members=expected_members,
                   menu_item_id=menu_item_id, post_id=post_id)

    @event("Opened")
    def __init__(self, *, id: UUID, community_id: UUID, title: str, place: str, service_date: date,
                 start_time: str, end_time: str, expected_members: int, menu_item_id: UUID | None,
                 post_id: UUID | None) -> None:
        self.community_id = community_id
        self.title = title
        self.place = place
        self.service_date = service_date
        self.start_time = start_time
        self.end_time = end_time
        self.expected_members = expected_members
        self.menu_item_id = menu_item_id
        self.post_id = post_id
        self.status = self.OPEN
        self.closed_at: str | None = None
        # member id -> {"checked_in_at", "in_by", "checked_out_at", "out_by", "missed", "outcome",
        # "presence_minutes", "session_id"}; appliers replace a member's entry, never change it in place
        self.attendance: dict[UUID, dict[str, Any]] = {}

    # -- reads -------------------------------------------------------------------------------------
    def window(self) -> tuple[datetime, datetime]:
        return window(self.service_date, self.start_time, self.end_time)

    def planned_minutes(self) -> int:
        start, end = self.window()
        return int((end - start) / timedelta(minutes=1))

    def checked_in_now(self) -> list[UUID]:
        """Members checked in and not yet out, in check-in order."""
        return [member_id for member_id, entry in self.attendance.items() if entry["checked_out_at"] is None]

    def require_open(self) -> None:
        if self.status != self.OPEN:
            raise ActivityClosed("活动已结束，不能再签到或签退 / the activity is closed: no more check-ins or check-outs")

    # -- commands ----------------------------------------------------------------------------------
    def check_in(self, *, member_id: UUID, at: datetime, method: str) -> None:
        assert method in METHODS, method
        self.require_open()
        entry = self.attendance.get(member_id)
        if entry is not None and entry["checked_out_at"] is None:
            raise AlreadyCheckedIn("已签到，无需重复签到 / already checked in to this activity")
        if entry is not None:
            raise AlreadyCheckedIn("本活动已签到并签退 / already checked in and out of this activity")
        _, end = self.window()
        if at >= end:
            raise ActivityClosed("活动时间已过，不能再签到 / the activity's time is over: no more check-ins")
        self._checked_in(member_id=member_id, at=at.isoformat(), method=method)

    @event("CheckedIn")
    def _checked_in(self, member_id: UUID, at: str, method: str) -> None:
        self.attendance[member_id] = {"checked_in_at": at, "in_by": method, "checked_out_at": None, "out_by": None,
                                      "missed": False, "outcome": None, "presence_minutes": 0, "session_id": None}

    def assess(self, *, member_id: UUID, out_at: datetime, share_min_percent: int) \
            -> tuple[tuple[str, str, int] | None, str]:
        """What a check-out at `out_at` gives: the presence (from, to, minutes) and the outcome."""
        entry = self.attendance.get(member_id)
        if entry is None or entry["checked_out_at"] is not None:
            raise NotCheckedIn("尚未签到，不能签退 / not checked in to this activity: nothing to check out")
        start, end = self.window()
        span = presence(start=start, end=end, checked_in=datetime.fromisoformat(entry["checked_in_at"]),
                        checked_out=out_at)
        enough = span is not None and meets_share(presence_minutes=span[2], planned_minutes=self.planned_minutes(),
                                                  share_min_percent=share_min_percent)
        return span, DRAFTED if enough else BELOW_MINIMUM_SHARE

    def check_out(self, *, member_id: UUID, at: datetime, method: str, share_min_percent: int,
                  session_id: UUID | None) -> None:
        """Record the check-out (by the member's scan, or the organiser's); `session_id` names the drafted
        session when the presence reached the share, and is None otherwise."""
        assert method in METHODS, method
        self.require_open()
        span, outcome = self.assess(member_id=member_id, out_at=at, share_min_percent=share_min_percent)
        assert (outcome == DRAFTED) == (session_id is not None)
        self._checked_out(member_id=member_id, at=at.isoformat(), method=method, outcome=outcome,
                          presence_minutes=span[2] if span else 0, share_min_percent=share_min_percent,
                          session_id=session_id)

    @event("CheckedOut")
    def _checked_out(self, member_id: UUID, at: str, method: str, outcome: str, presence_minutes: int,
                     share_min_percent: int, session_id: UUID | None) -> None:
        self.attendance[member_id] = {**self.attendance[member_id], "checked_out_at": at, "out_by": method,
                                      "outcome": outcome, "presence_minutes": presence_minutes,
                                      "session_id": session_id}

    def close_at(self, closing: datetime) -> datetime:
        """When a forgotten check-out is closed: the activity's planned end (or the closing moment, if the
        activity is closed before its end)."""
        _, end = self.window()
        return min(end, closing)

    def miss_check_out(self, *, member_id: UUID, at: datetime, share_min_percent: int,
                       session_id: UUID | None) -> None:
        """A forgotten check-out, closed by the community at the activity's end and flagged."""
        self.require_open()
        span, outcome = self.assess(member_id=member_id, out_at=at, share_min_percent=share_min_percent)
        assert (outcome == DRAFTED) == (session_id is not None)
        self._check_out_missed(member_id=member_id, at=at.isoformat(), outcome=outcome,
                               presence_minutes=span[2] if span else 0, share_min_percent=share_min_percent,
                               session_id=session_id)

    @event("CheckOutMissed")
    def _check_out_missed(self, member_id: UUID, at: str, outcome: str, presence_minutes: int,
                          share_min_percent: int, session_id: UUID | None) -> None:
        self.attendance[member_id] = {**self.attendance[member_id], "checked_out_at": at, "out_by": AT_CLOSE,
                                      "missed": True, "outcome": outcome, "presence_minutes": presence_minutes,
                                      "session_id": session_id}

    # -- scans a venue device took offline (synced later, once each) ---------------------------------
    def synced_scan(self, scan_id: UUID) -> dict[str, Any] | None:
        """The offline scan already synced under this id (its record), if any."""
        return getattr(self, "synced_scans", {}).get(scan_id)

    def sync_scan(self, *, scan_id: UUID, member_id: UUID, action: str, at: datetime, device_key_id: str,
                  device_signature: str) -> None:
        """Keep an offline scan's provenance (the device's key and signature over the record), before the
        check-in or check-out it makes; a scan id is synced once."""
        if action not in ("in", "out"):
            raise InvalidInput("action is in or out")
        self.require_open()
        if self.synced_scan(scan_id) is not None:
            raise AlreadyCheckedIn("这次扫码已同步 / this scan was synced already")
        self._scan_synced(scan_id=scan_id, member_id=member_id, action=action, at=at.isoformat(),
                          device_key_id=device_key_id, device_signature=device_signature)

    @event("ScanSynced")
    def _scan_synced(self, scan_id: UUID, member_id: UUID, action: str, at: str, device_key_id: str,
                     device_signature: str) -> None:
        self.synced_scans = {**getattr(self, "synced_scans", {}),
                             scan_id: {"member_id": member_id, "action": action, "at": at,
                                       "device_key_id": device_key_id}}

    def close(self, *, at: datetime) -> None:
        self.require_open()
        assert not self.checked_in_now(), "the use case closes every forgotten check-out first"
        self._closed(at=at.isoformat())

    @event("Closed")
    def _closed(self, at: str) -> None:
        self.status = self.CLOSED
        self.closed_at = at
