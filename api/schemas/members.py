"""Members (在职党员): enrolment, 报到, posts, teams, exemptions, consents, balances."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import EXAMPLE_COMMUNITY_ID, StrictIn
from ledger.domain.limits import CONSENT_RECIPIENT_CHARS_MAX, NAME_CHARS_MAX, PROFILE_FIELD_CHARS_MAX, REASON_CHARS_MAX
from ledger.domain.values import ConsentPurpose, PartyStatus

YEAR_MIN, YEAR_MAX = 2000, 2100


class EnrolIn(StrictIn):
    """单位登记在职党员并为其生成签名密钥 / the unit enrols a member and certifies the member's key."""

    name: str = Field(min_length=1, max_length=NAME_CHARS_MAX, examples=["王建国"])
    party_status: PartyStatus = Field(description="正式 / 预备", examples=["正式"])
    job_title: str = Field("", max_length=NAME_CHARS_MAX, examples=["科员"])
    member_id: UUID | None = Field(None, description="终身编号（可由客户端指定）/ the member's id for life")


class ReportSlipIn(StrictIn):
    """报到单：派往社区 / the report slip names the community the member reports to."""

    community_id: UUID = Field(examples=[EXAMPLE_COMMUNITY_ID])


class ProfileIn(StrictIn):
    """登记表非敏感项 / 登记表 fields kept in clear."""

    sex: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX, examples=["男"])
    education: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX, examples=["本科"])
    party_joined: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX, examples=["2008-07"])
    specialities: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX, examples=["法律咨询"])
    hobbies: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX, examples=["书法"])
    available_time: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX, examples=["周末"])


class PersonalIn(StrictIn):
    """个人信息：加密保存，仅本人、所在社区和单位可见 / personal fields: encrypted at rest, visible only to
    the member, their community and their unit. Health data only with the member's consent."""

    ethnicity: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX, examples=["汉族"])
    health: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX, examples=["健康"])
    birth_month: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX, examples=["1980-05"])
    home_address: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX)
    unit_address: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX)
    unit_phone: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX)
    mobile: str | None = Field(None, max_length=PROFILE_FIELD_CHARS_MAX)


class RegistrationIn(StrictIn):
    """报到登记（附件2）/ the community registers a member who reports, with at least one claimed post."""

    post_ids: list[UUID] = Field(min_length=1, max_length=20, description="认领岗位，至少一个 / claimed posts")
    profile: ProfileIn = Field(default_factory=ProfileIn)
    personal: PersonalIn = Field(default_factory=PersonalIn)
    willing_other_service: bool = Field(False, description="是否愿意参加其他服务 / willing to do other service")
    slip_id: UUID | None = Field(None, description="报到单（有则同时寄回执）/ the report slip; its receipt is sent")


class PostClaimIn(StrictIn):
    post_id: UUID


class TeamJoinIn(StrictIn):
    team_id: UUID


class ExemptionIn(StrictIn):
    """有故：单位说明原因 / the unit's reason for excusing the member this year."""

    reason: str = Field(min_length=1, max_length=REASON_CHARS_MAX, examples=["援疆挂职一年"])


class ConsentIn(StrictIn):
    """单独同意 / a separate consent naming its recipient (PIPL)."""

    purpose: ConsentPurpose = Field(description="unit_feedback: 向单位反馈服务纪实; transfer: 转移至其他地区")
    recipient: str = Field(min_length=1, max_length=CONSENT_RECIPIENT_CHARS_MAX,
                           description="接收方：单位编号或地区代码 / the unit id, or the region code for a transfer")
    consent_id: UUID | None = None


class ErasureIn(StrictIn):
    reason: str = Field("党员本人申请", min_length=1, max_length=REASON_CHARS_MAX)


class PostClaimOut(BaseModel):
    id: UUID
    name: str


class ConsentOut(BaseModel):
    consent_id: UUID
    purpose: ConsentPurpose
    recipient: str


class IdentityOut(BaseModel):
    """姓名、职务、登记表非敏感项 / name, job and the clear 登记表 fields."""

    name: str
    job_title: str
    profile: dict[str, str]
    exemption_reasons: dict[int, str]


class MemberOut(BaseModel):
    """在职党员 / a member (no personal fields: see /v1/members/{id}/personal)."""

    id: UUID
    region_code: str
    unit_id: UUID | None = Field(description="所在单位；转入后尚未入册时为空 / the member's unit; null for a member "
                                             "who arrived by transfer and is not yet taken on")
    community_id: UUID | None = Field(description="报到社区 / the community reported to")
    party_status: PartyStatus
    reported_on: date | None
    report_late: bool = Field(description="逾期报到 / reported after the deadline")
    willing_other_service: bool
    posts: list[PostClaimOut]
    team_ids: list[UUID]
    exempt_years: list[int] = Field(description="有故免报到年度 / years exempted")
    consents: list[ConsentOut]
    personal_erased: bool
    status: Literal["active", "frozen", "moved"]
    identity: IdentityOut


class PersonalOut(BaseModel):
    """解密的个人信息 / the decrypted personal fields."""

    member_id: UUID
    fields: dict[str, str]


class BalanceOut(BaseModel):
    """时间账户余额 / a member's time account."""

    member_id: UUID
    balance_minutes: int = Field(examples=[150])
    balance_hours: str = Field(examples=["2:30"], description="时:分，精确到分钟 / exact hours and minutes, h:mm")
    owed_minutes: int = Field(description="待抵扣（更正/投诉超出余额部分）/ owed after a clawback")
    credited_minutes_total: int
    redeemed_minutes_total: int
    clawed_back_minutes_total: int
    over_cap_minutes_total: int
    status: Literal["open", "frozen", "moved"]


class EntryOut(BaseModel):
    """时间账户流水 / one entry of a time account (an event)."""

    version: int = Field(description="账户事件序号（稳定排序）/ account event number (stable order)")
    type: str = Field(examples=["Credited", "Redeemed"])
    time: datetime = Field(description="记录时间（北京时间）/ when it was recorded, China time")
    minutes: int | None = None
    change_minutes: int = Field(description="对余额的变动（存入为正，兑换、扣回、转出为负）/ the change to the balance")
    balance_minutes: int = Field(description="本条之后的余额 / the running balance after this entry")
    detail: dict[str, Any]


class EntriesOut(BaseModel):
    member_id: UUID
    entries: list[EntryOut]
    next_after_version: int | None = Field(description="下一页参数 after_version / pass as after_version")
