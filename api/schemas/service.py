"""Service: 三单制 orders, sessions (服务记录), suggestions, redemptions, report slips."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.offline import INSTANT_TEXT, KEY_ID_TEXT, UUID_OR_EMPTY, UUID_TEXT
from api.schemas.common import EXAMPLE_COMMUNITY_ID, EXAMPLE_ITEM_ID, EXAMPLE_MEMBER_ID, StrictIn, WarningOut
from ledger.application import RedemptionResult
from ledger.domain.display import duration_text
from ledger.domain.limits import (
    ACTIVITY_CHARS_MAX,
    AGENCY_CHARS_MAX,
    CASE_REFERENCE_CHARS_MAX,
    MINUTES_PER_SESSION_MAX,
    MINUTES_PER_SESSION_MIN,
    NAME_CHARS_MAX,
    NOTE_CHARS_MAX,
    PLACE_CHARS_MAX,
    QUANTITY_MAX,
    REASON_CHARS_MAX,
    REDEMPTION_LINES_MAX,
    TEXT_CHARS_MAX,
)
from ledger.domain.values import Rating

CLOCK_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"  # ASCII digits: pydantic's `\d` takes full-width ones
ClockTime = Field(pattern=CLOCK_TIME_PATTERN, max_length=5, examples=["09:00"])


class OrderIn(StrictIn):
    """居民点单 / a resident orders an item of a community's service menu."""

    community_id: UUID = Field(examples=[EXAMPLE_COMMUNITY_ID])
    menu_item_id: UUID
    note: str = Field("", max_length=NOTE_CHARS_MAX, examples=["请尽快安排"])
    order_id: UUID | None = Field(None, description="客户端指定的编号 / client-chosen id")
    resident_id: UUID | None = Field(None, description="社区代居民点单时：本社区登记的居民 / when the community orders "
                                                       "on a resident's behalf: a resident it registered")


class DispatchIn(StrictIn):
    """支部下单：派给一名已报到党员 / dispatch to a registered member."""

    member_id: UUID = Field(examples=[EXAMPLE_MEMBER_ID])


class ReasonIn(StrictIn):
    reason: str = Field(min_length=1, max_length=REASON_CHARS_MAX, examples=["居民临时外出"])


class OrderOut(BaseModel):
    """三单制订单 / an order."""

    id: UUID
    community_id: UUID
    menu_item_id: UUID
    menu_title: str
    resident_id: UUID
    note: str
    placed_on: date
    status: Literal["placed", "dispatched", "accepted", "fulfilled", "cancelled"]
    member_id: UUID | None
    session_id: UUID | None


class SessionIn(StrictIn):
    """服务记录（附件5）/ a service session. Minutes exclude travel and fit between start and end."""

    member_id: UUID = Field(examples=[EXAMPLE_MEMBER_ID])
    activity: str = Field(min_length=1, max_length=ACTIVITY_CHARS_MAX, examples=["敬老助残"])
    content: str = Field(min_length=1, max_length=TEXT_CHARS_MAX, examples=["为空巢老人打扫卫生、陪伴聊天"])
    place: str = Field(min_length=1, max_length=PLACE_CHARS_MAX, examples=["社区党群服务中心"])
    service_date: date = Field(examples=["2026-05-16"])
    start_time: str = ClockTime
    end_time: str = Field(pattern=CLOCK_TIME_PATTERN, max_length=5, examples=["11:00"])
    minutes: int = Field(ge=MINUTES_PER_SESSION_MIN, le=MINUTES_PER_SESSION_MAX, examples=[120])
    post_id: UUID | None = None
    order_id: UUID | None = Field(None, description="对应的居民订单（须已接单）/ the accepted order it fulfils")
    organiser: str = Field("", max_length=NAME_CHARS_MAX, examples=["社区党委"])
    recipient: str = Field("", max_length=NAME_CHARS_MAX, examples=["社区居民"])
    session_id: UUID | None = Field(None, description="客户端指定的编号 / client-chosen id (needed to sign)")


class RatingIn(StrictIn):
    """评价 / rating by the recipient or organiser."""

    rating: Rating = Field(examples=["优"])


class CorrectionIn(StrictIn):
    """更正：以新事件引用原记录，与新记录同样校验 / a correction, recorded as a new event (give at least one
    field) and checked by the same rules as a new record."""

    reason: str = Field(min_length=1, max_length=REASON_CHARS_MAX, examples=["党员申请更正：实际服务时间少半小时"])
    activity: str | None = Field(None, min_length=1, max_length=ACTIVITY_CHARS_MAX)
    content: str | None = Field(None, min_length=1, max_length=TEXT_CHARS_MAX)
    place: str | None = Field(None, min_length=1, max_length=PLACE_CHARS_MAX)
    service_date: date | None = None
    start_time: str | None = Field(None, pattern=CLOCK_TIME_PATTERN, max_length=5, examples=["09:00"])
    end_time: str | None = Field(None, pattern=CLOCK_TIME_PATTERN, max_length=5, examples=["11:00"])
    minutes: int | None = Field(None, ge=MINUTES_PER_SESSION_MIN, le=MINUTES_PER_SESSION_MAX,
                                description="不超过结束与开始时间之差 / at most end − start")

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(exclude={"reason"}).items() if v is not None}


class SessionOut(BaseModel):
    """服务记录 / a session."""

    id: UUID
    member_id: UUID
    community_id: UUID
    activity: str
    content: str
    place: str
    service_date: date
    start_time: str
    end_time: str
    minutes: int
    post_id: UUID | None
    order_id: UUID | None
    organiser: str
    recipient: str
    recorded_on: date
    late: bool = Field(description="超过10个工作日补录 / entered more than 10 working days after the service")
    status: Literal["recorded", "certified", "rejected"]
    rating: Rating | None
    rated_by_role: str | None
    certified_minutes: int
    certified_by: UUID | None
    certified_on: date | None
    rejection_reason: str | None
    complaint_upheld: bool
    corrections: int


class CertifiedOut(BaseModel):
    minutes: int = Field(description="存入时间账户的分钟数 / minutes deposited")


class DeltaOut(BaseModel):
    delta_minutes: int = Field(description="账户变动（分钟）/ change to the account, minutes")


class SuggestionIn(StrictIn):
    """建议：反映群众诉求 / a suggestion."""

    content: str = Field(min_length=1, max_length=TEXT_CHARS_MAX, examples=["建议老旧小区加装电梯"])
    suggestion_id: UUID | None = None


class AdoptIn(StrictIn):
    note: str = Field("", max_length=NOTE_CHARS_MAX, examples=["已纳入社区年度计划"])


class ForwardIn(StrictIn):
    agency: str = Field(min_length=1, max_length=AGENCY_CHARS_MAX, examples=["区住建局"])
    reference: str = Field("", max_length=CASE_REFERENCE_CHARS_MAX, examples=["玄建信〔2026〕17号"],
                           description="受理编号（可选）/ the agency's case number, if it gave one")


class SuggestionOut(BaseModel):
    id: UUID
    member_id: UUID
    community_id: UUID
    content: str
    submitted_on: date
    status: Literal["submitted", "adopted", "forwarded"]
    outcome_note: str
    outcome_reference: str = Field("", description="交转受理编号 / the agency's case number of a forwarded suggestion")


class RedemptionLineIn(StrictIn):
    item_id: UUID = Field(examples=[EXAMPLE_ITEM_ID])
    quantity: int = Field(1, ge=1, le=QUANTITY_MAX)


class RedemptionIn(StrictIn):
    """爱心超市兑换 / redeem certified minutes at a counter. Exactly once per `redemption_id`."""

    member_id: UUID = Field(examples=[EXAMPLE_MEMBER_ID])
    redemption_id: UUID = Field(description="客户端生成，重试时不变 / client-generated, the same on retries",
                                examples=["0d9c8b7a-6f5e-4d3c-9b2a-1f0e9d8c7b6a"])
    items: list[RedemptionLineIn] = Field(min_length=1, max_length=REDEMPTION_LINES_MAX)


class RedemptionLineOut(BaseModel):
    item_id: UUID
    name: str
    quantity: int
    price_minutes: int


class RedemptionOut(BaseModel):
    """兑换结果 / the redemption as applied (a retry returns the original terms, applied=false)."""

    redemption_id: UUID
    minutes: int
    balance_minutes: int = Field(description="兑换后余额 / balance after the redemption")
    balance_hours: str = Field(examples=["2:30"], description="时:分，精确到分钟 / exact hours and minutes, h:mm")
    applied: bool = Field(description="本次是否新扣减 / false when this was a retry of an applied redemption")
    lines: list[RedemptionLineOut]

    @classmethod
    def of(cls, result: RedemptionResult) -> RedemptionOut:
        return cls(redemption_id=result.redemption_id, minutes=result.minutes, balance_minutes=result.balance_minutes,
                   balance_hours=duration_text(result.balance_minutes), applied=result.applied,
                   lines=[RedemptionLineOut(**line) for line in result.lines])


class ReportSlipOut(BaseModel):
    """报到单与回执单（附件1）/ a report slip and its receipt."""

    id: UUID
    member_id: UUID
    unit_id: UUID
    community_id: UUID
    issued_on: date
    deadline: date
    receipt_sent_on: date | None
    reported_on: date | None
    post_names: list[str]
    warnings: list[WarningOut] = Field(default_factory=list, description="提示（不阻止），如晚于截止日期开具 / warnings")


class OfflineSessionRecordIn(StrictIn):
    """党员手机离线填写的服务记录（ledger/signing/offline.py 定义的字段，原样签名）/ a record as the phone signed it."""

    session_id: str = Field(pattern=UUID_TEXT, min_length=36, max_length=36)
    region: str = Field(pattern=r"^\d{6}$", min_length=6, max_length=6)
    member: str = Field(pattern=UUID_TEXT, min_length=36, max_length=36)
    device_key_id: str = Field(pattern=KEY_ID_TEXT, min_length=32, max_length=32)
    activity: str = Field(max_length=2000)
    content: str = Field(max_length=4000)
    place: str = Field(max_length=2000)
    service_date: str = Field(min_length=10, max_length=10)
    start_time: str = Field(min_length=5, max_length=5)
    end_time: str = Field(min_length=5, max_length=5)
    minutes: int = Field(ge=0, le=24 * 60, description="分钟；规则由账本核对 / minutes; the ledger checks the rules")
    post_id: str = Field(pattern=UUID_OR_EMPTY, max_length=36)
    order_id: str = Field(pattern=UUID_OR_EMPTY, max_length=36)
    organiser: str = Field(max_length=2000)
    recipient: str = Field(max_length=2000)
    created_at: str = Field(pattern=INSTANT_TEXT, min_length=20, max_length=27,
                            description="UTC, ISO 8601 (toISOString)")


class OfflineSessionIn(StrictIn):
    """同步一条离线服务记录 / sync one record typed offline."""

    record: OfflineSessionRecordIn
    signature: str = Field(min_length=88, max_length=88, pattern=r"^[A-Za-z0-9+/]{86}==$",
                           description="设备对记录规范字节的 Ed25519 签名（base64）/ the device's signature, base64")


class OfflineSessionOut(BaseModel):
    """同步结果（重复同步返回原结果，applied=false）/ the session's id (a retry: the same, applied=false)."""

    session_id: UUID
    applied: bool
