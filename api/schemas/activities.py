"""签到签退 (issue #15): activities at the venue, rotating check-in codes, scans, group entry."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.offline import INSTANT_TEXT, KEY_ID_TEXT, UUID_TEXT
from api.schemas.common import StrictIn
from api.schemas.service import CLOCK_TIME_PATTERN
from ledger.application import ScanResult
from ledger.domain.activities import EXPECTED_MEMBERS_MAX, GROUP_ENTRY_MEMBERS_MAX, Activity
from ledger.domain.limits import ACTIVITY_CHARS_MAX, PLACE_CHARS_MAX, REASON_CHARS_MAX, SETTING_REASON_CHARS_MAX
from ledger.verification.checkin_code import CODE_CHARS_MAX, WINDOW_SECONDS


class ActivityIn(StrictIn):
    """开放活动签到：服务菜单项或岗位、地点、同一天内的计划起止时间、预计人数 / an activity: a menu item or a
    post, a place, planned start and end on one date, the members expected."""

    title: str = Field(min_length=1, max_length=ACTIVITY_CHARS_MAX, examples=["重阳节敬老活动"])
    place: str = Field(min_length=1, max_length=PLACE_CHARS_MAX, examples=["社区党群服务中心"])
    service_date: date = Field(examples=["2026-10-29"])
    start_time: str = Field(pattern=CLOCK_TIME_PATTERN, max_length=5, examples=["09:00"])
    end_time: str = Field(pattern=CLOCK_TIME_PATTERN, max_length=5, examples=["11:00"])
    expected_members: int = Field(ge=1, le=EXPECTED_MEMBERS_MAX, examples=[20])
    post_id: UUID | None = None
    menu_item_id: UUID | None = None
    activity_id: UUID | None = Field(None, description="客户端指定的编号 / client-chosen id")


class AttendanceOut(BaseModel):
    member_id: UUID
    checked_in_at: datetime
    checked_in_by: str
    checked_out_at: datetime | None
    checked_out_by: str | None
    check_out_missed: bool
    outcome: str | None
    presence_minutes: int
    session_id: UUID | None


class ActivityOut(BaseModel):
    id: UUID
    community_id: UUID
    title: str
    place: str
    service_date: date
    start_time: str
    end_time: str
    expected_members: int
    post_id: UUID | None
    menu_item_id: UUID | None
    status: str
    attendance: list[AttendanceOut]


def activity_out(activity: Activity) -> ActivityOut:
    return ActivityOut(
        id=activity.id, community_id=activity.community_id, title=activity.title, place=activity.place,
        service_date=activity.service_date, start_time=activity.start_time, end_time=activity.end_time,
        expected_members=activity.expected_members, post_id=activity.post_id, menu_item_id=activity.menu_item_id,
        status=activity.status,
        attendance=[AttendanceOut(member_id=member_id, checked_in_at=entry["checked_in_at"],
                                  checked_in_by=entry["in_by"], checked_out_at=entry["checked_out_at"],
                                  checked_out_by=entry["out_by"], check_out_missed=entry["missed"],
                                  outcome=entry["outcome"], presence_minutes=entry["presence_minutes"],
                                  session_id=entry["session_id"])
                    for member_id, entry in activity.attendance.items()])


class CheckinCodeOut(BaseModel):
    code: str
    window_seconds: int = WINDOW_SECONDS
    seconds_left: int


class ScanIn(StrictIn):
    """扫码：签到码原文；action 缺省为自动（首次签到，再次签退）/ the scanned code; `auto` checks in first,
    then out."""

    code: str = Field(min_length=1, max_length=CODE_CHARS_MAX)
    action: Literal["auto", "in", "out"] = "auto"


class MemberScanIn(StrictIn):
    """组织方扫党员码（党员编号）/ the organiser scans the member's own code (the member id)."""

    member_id: UUID
    action: Literal["in", "out"] = "in"


class GroupEntryIn(StrictIn):
    """团体录入：一次录入多名党员，每人一条签名事件 / several members in one step, each their own event."""

    member_ids: list[UUID] = Field(min_length=1, max_length=GROUP_ENTRY_MEMBERS_MAX)
    action: Literal["in", "out"] = "in"


class ScanOut(BaseModel):
    activity_id: UUID
    member_id: UUID
    action: str
    presence_minutes: int
    outcome: str | None = Field(description="drafted（已生成服务记录）或 below_minimum_share（在场不足，未生成）")
    session_id: UUID | None
    share_min_percent: int


def scan_out(result: ScanResult) -> ScanOut:
    return ScanOut(activity_id=result.activity_id, member_id=result.member_id, action=result.action,
                   presence_minutes=result.presence_minutes, outcome=result.outcome, session_id=result.session_id,
                   share_min_percent=result.share_min_percent)


class ScansOut(BaseModel):
    results: list[ScanOut]


class PresenceShareIn(StrictIn):
    percent: int = Field(ge=1, le=100, examples=[60])
    reason: str = Field(min_length=1, max_length=REASON_CHARS_MAX, examples=["依据区文明办2026年第3号通知"])




class OfflineScanRecordIn(StrictIn):
    """离线扫码记录（ledger/signing/offline.py 定义的字段，原样签名）/ an offline scan as the device signed it."""

    scan_id: str = Field(pattern=UUID_TEXT, min_length=36, max_length=36)
    region: str = Field(pattern=r"^\d{6}$", min_length=6, max_length=6)
    community: str = Field(pattern=UUID_TEXT, min_length=36, max_length=36)
    activity: str = Field(pattern=UUID_TEXT, min_length=36, max_length=36)
    device_key_id: str = Field(pattern=KEY_ID_TEXT, min_length=32, max_length=32)
    member: str = Field(pattern=UUID_TEXT, min_length=36, max_length=36)
    action: Literal["in", "out"]
    scanned_at: str = Field(pattern=INSTANT_TEXT, min_length=20, max_length=27, description="UTC, ISO 8601 (toISOString)")


class OfflineScanIn(StrictIn):
    """同步一次离线扫码 / sync one scan the venue device took offline."""

    record: OfflineScanRecordIn
    signature: str = Field(min_length=88, max_length=88, pattern=r"^[A-Za-z0-9+/]{86}==$",
                           description="设备对记录规范字节的 Ed25519 签名（base64）/ the device's signature, base64")


class OfflineScanOut(BaseModel):
    """同步结果（重复同步返回原结果，applied=false）/ what the scan did (a retry: the same, applied=false)."""

    scan_id: UUID
    applied: bool
    result: ScanOut


def offline_scan_out(synced: Any) -> OfflineScanOut:
    return OfflineScanOut(scan_id=synced.scan_id, applied=synced.applied, result=scan_out(synced.result))
class OrganiserIn(StrictIn):
    """指定活动组织者：本社区已报到的党员 / name a member registered with this community organiser."""

    member_id: UUID


class OrganiserWithdrawalIn(StrictIn):
    reason: str = Field("", max_length=SETTING_REASON_CHARS_MAX, examples=["本人工作调动"])


class OrganiserOut(BaseModel):
    member_id: UUID
    name: str


class OrganisersOut(BaseModel):
    organisers: list[OrganiserOut]
