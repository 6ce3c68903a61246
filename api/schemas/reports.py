"""Lists and reports from the read models."""

from __future__ import annotations

from datetime import date
from typing import Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import PageOut

T = TypeVar("T")


class ListOut(BaseModel, Generic[T]):
    """一页 / one page of a list, in a stable order."""

    items: list[T]
    page: PageOut
    position: int = Field(description="读模型对应的事件位置 / the event-log position the read models describe")


class MemberRowOut(BaseModel):
    """登记册一行（不含个人信息）/ a register row (no personal fields)."""

    member_id: UUID
    name: str
    party_status: str
    job_title: str
    unit_id: UUID | None
    unit_name: str
    community_id: UUID | None
    community_name: str
    enrolled_on: date
    reported_on: date | None
    report_late: bool
    posts: list[str]
    teams: list[str]
    willing_other_service: bool
    personal_erased: bool
    moved_on: date | None = Field(description="转出日期 / moved to another region on")


class SessionRowOut(BaseModel):
    """服务记录一行 / a session row (certification queue, late records …)."""

    session_id: UUID
    member_id: UUID
    member_name: str
    community_id: UUID
    service_date: date
    start_time: str
    end_time: str
    activity: str
    minutes: int
    status: str = Field(examples=["recorded"])
    rating: str | None
    late: bool = Field(description="补录（超过10个工作日）/ entered after 10 working days")
    recorded_on: date
    certified_minutes: int
    rejection_reason: str | None = Field(None, description="不予认证的原因 / why the community did not certify it")
    assurance: str = Field("self_reported", examples=["checked_in"],
                           description="记录方式：self_reported 事后填报 / checked_in 签到签退 / imported 纸质记录导入 "
                                       "(how the hours were recorded)")


class MissingRowOut(BaseModel):
    """未达基本要求的党员 / a member missing a basic yearly requirement (loses award eligibility)."""

    member_id: UUID
    name: str
    unit_name: str
    community_name: str
    year: int
    reported: bool
    sessions: int
    suggestions: int
    certified_minutes: int
    missing: list[str] = Field(examples=[["服务活动少于2次", "未提出建议"]])


class BalanceRowOut(BaseModel):
    """时间账户余额一行 / a balance row."""

    member_id: UUID
    name: str
    unit_name: str
    community_id: UUID | None
    community_name: str
    available_minutes: int
    deposited_minutes: int
    redeemed_minutes: int
    clawed_back_minutes: int
    owed_minutes: int
    redemptions: int
    frozen: bool
    closed: bool
