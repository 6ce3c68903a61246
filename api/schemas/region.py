"""Region settings, scoring policies, auditors, keys."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import StrictIn
from ledger.domain.calendar import HOLIDAYS_PER_YEAR_MAX, WORKDAYS_PER_YEAR_MAX
from ledger.domain.limits import (
    CALENDAR_SOURCE_CHARS_MAX,
    DISPLAY_NAME_CHARS_MAX,
    KEY_REASON_CHARS_MAX,
    LABEL_CHARS_MAX,
    NOTE_CHARS_MAX,
    SETTING_REASON_CHARS_MAX,
)
from ledger.domain.region import TRANSFER_TIMEOUT_DAYS_MAX

POINTS_MAX = 10_000
YEAR_MIN, YEAR_MAX = 2000, 2100


class RegionOut(BaseModel):
    """地区（县/市/区）设置 / the region's settings."""

    code: str = Field(description="行政区划代码 GB/T 2260", examples=["320102"])
    name: str = Field(examples=["南京市玄武区"])
    display_name: str = Field(description="对外名称 / scheme name shown to users", examples=["爱心时间银行"])
    storage_cap_minutes: int | None = Field(None, description="时间账户上限（分钟）/ account cap in minutes")
    report_deadlines: dict[int, date] = Field(description="各年度报到截止日期 / reporting deadline per year")
    policy_from_year: dict[int, int] = Field(description="积分办法版本生效年份 / policy version adopted from year")
    policy_by_year: dict[int, int] = Field(description="重新评分的年度 / years explicitly re-scored")
    root_public_key: str = Field(description="省级信任根公钥（base64）/ province trust-root public key")
    transfer_timeout_days: int = Field(description="转出等待回执的天数 / days a transfer-out waits for its receipt",
                                       examples=[30])


def _reason() -> Any:
    return Field("", max_length=SETTING_REASON_CHARS_MAX, examples=["区委组织部2026年第3次会议决定"],
                 description="修改原因（签入事件）/ why (signed into the event)")


class RegionSettingsIn(StrictIn):
    """修改地区设置 / change region settings (omitted fields keep their value)."""

    display_name: str | None = Field(None, min_length=1, max_length=DISPLAY_NAME_CHARS_MAX, examples=["爱心时间银行"])
    storage_cap_minutes: int | None = Field(None, ge=1, le=100_000 * 60, examples=[90000],
                                            description="时间账户上限（分钟）/ account cap, minutes")
    clear_storage_cap: bool = Field(False, description="取消上限 / remove the cap")
    reason: str = _reason()


class TransferTimeoutIn(StrictIn):
    """转出等待回执的时限 / how long a transfer-out waits for the destination's receipt."""

    days: int = Field(ge=1, le=TRANSFER_TIMEOUT_DAYS_MAX, examples=[45], description="天数 / days")
    reason: str = Field(min_length=1, max_length=SETTING_REASON_CHARS_MAX, examples=["跨省转移回执较慢"],
                        description="修改原因（签入事件）/ why (signed into the event)")


class ReportDeadlineIn(StrictIn):
    """报到截止日期 / the reporting deadline of a campaign year (default: 31 August)."""

    deadline: date = Field(examples=["2026-08-31"])
    reason: str = _reason()


class RatingFactorsIn(StrictIn):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    excellent: int = Field(alias="优", ge=0, le=POINTS_MAX, examples=[1200])
    good: int = Field(alias="良", ge=0, le=POINTS_MAX, examples=[1000])
    fair: int = Field(alias="一般", ge=0, le=POINTS_MAX, examples=[800])


class AssuranceFactorsIn(StrictIn):
    """每小时按记录方式的系数（千分比）/ an hour's weight by how it was recorded, per mille (issue #15)."""

    self_reported: int = Field(ge=0, le=POINTS_MAX, examples=[1000], description="事后填报 / typed afterwards")
    checked_in: int = Field(ge=0, le=POINTS_MAX, examples=[1000], description="签到签退 / checked in at the venue")
    imported: int = Field(ge=0, le=POINTS_MAX, examples=[1000], description="纸质记录导入 / from the paper backlog")


class ScoringRulesIn(StrictIn):
    """积分规则 / the rules of a scoring policy (all required)."""

    points_per_certified_hour: int = Field(ge=0, le=POINTS_MAX, examples=[10])
    rating_factor_permille: RatingFactorsIn
    points_per_certified_session: int = Field(ge=0, le=POINTS_MAX, examples=[5])
    points_per_distinct_item: int = Field(ge=0, le=POINTS_MAX, examples=[10])
    points_per_excellent_order: int = Field(ge=0, le=POINTS_MAX, examples=[5])
    points_per_adopted_suggestion: int = Field(ge=0, le=POINTS_MAX, examples=[10])
    star_thresholds: list[Annotated[int, Field(ge=0, le=POINTS_MAX)]] = Field(
        min_length=5, max_length=5, examples=[[50, 100, 200, 400, 800]],
        description="★ 到 ★★★★★ 的积分门槛，递增 / five increasing thresholds")
    assurance_factor_permille: AssuranceFactorsIn | None = Field(
        None, description="可选：按记录方式（事后填报、签到签退、纸质记录导入）加权每小时积分，千分比；不填则一律 1000。/ "
                          "Optional: weigh each hour by how it was recorded, per mille; absent, every class is 1000.")

    def as_rules(self) -> dict[str, Any]:
        rules = self.model_dump(exclude_none=True)
        rules["rating_factor_permille"] = self.rating_factor_permille.model_dump(by_alias=True)
        return rules


class ScoringPolicyIn(StrictIn):
    """发布积分和星级评定办法 / publish a scoring policy version."""

    version: int = Field(ge=2, le=10_000, examples=[2], description="版本号（1 为省级默认）/ version (1 is the default)")
    rules: ScoringRulesIn
    note: str = Field("", max_length=NOTE_CHARS_MAX, examples=["区委组织部2027年积分办法"])
    from_year: int = Field(ge=YEAR_MIN, le=YEAR_MAX, examples=[2027], description="自哪一年起适用 / first year")


class RescoreIn(StrictIn):
    """按另一版本重新评定某年 / re-score a year under another policy version."""

    year: int = Field(ge=YEAR_MIN, le=YEAR_MAX, examples=[2026])
    version: int = Field(ge=1, le=10_000, examples=[2])
    reason: str = _reason()


class ScoringPolicyOut(BaseModel):
    """积分办法 / a published scoring policy."""

    version: int
    region_code: str
    rules: dict[str, Any]
    note: str


class LabelIn(StrictIn):
    """名称（不是个人姓名）/ a label (not a person's name)."""

    label: str = Field(min_length=1, max_length=LABEL_CHARS_MAX, examples=["玄武区委组织部审计组"])


class KeyOut(BaseModel):
    """公钥 / a registered public key."""

    key_id: str
    public_key: str = Field(description="Ed25519 公钥（base64）/ Ed25519 public key, base64")
    owner_id: UUID
    role: str
    certified_by: str = Field(description="认证该密钥的密钥 / the key that certified it")
    label: str
    revoked_at: datetime | None = None
    replaced_by: str | None = None


class ClientKeyIn(StrictIn):
    """登记客户端自持的密钥 / register a key whose private half stays with the client."""

    owner_id: UUID = Field(description="密钥持有主体（柜台、社区等）/ the actor the key belongs to")
    public_key: str = Field(min_length=44, max_length=44, pattern=r"^[A-Za-z0-9+/]{43}=$",
                            description="Ed25519 公钥（base64，32 字节）/ 32-byte Ed25519 public key, base64")
    label: str = Field(min_length=1, max_length=LABEL_CHARS_MAX, examples=["紫鑫城社区爱心超市收银终端2号"])


class KeyIdOut(BaseModel):
    key_id: str


class KeyRevokeIn(StrictIn):
    """吊销密钥 / revoke a key (from now, or from an earlier moment after a compromise)."""

    reason: str = Field(min_length=1, max_length=KEY_REASON_CHARS_MAX, examples=["收银终端丢失"])
    effective_at: datetime | None = Field(None, description="生效时间，缺省为现在 / from when; default now")


class KeyRotateIn(StrictIn):
    reason: str = Field("rotation", min_length=1, max_length=KEY_REASON_CHARS_MAX, examples=["定期轮换"])


class CalendarIn(StrictIn):
    """某年法定节假日安排 / a year's State Council calendar: days off and make-up working days."""

    holidays: list[date] = Field(max_length=HOLIDAYS_PER_YEAR_MAX, description="放假日期（含假期内的周末）/ days off",
                                 examples=[["2027-10-01", "2027-10-04"]])
    workdays: list[date] = Field(max_length=WORKDAYS_PER_YEAR_MAX, description="调休上班的周末 / weekend days worked",
                                 examples=[["2027-09-26"]])
    source: str = Field(min_length=1, max_length=CALENDAR_SOURCE_CHARS_MAX, description="通知名称 / the notice",
                        examples=["国务院办公厅关于2027年部分节假日安排的通知"])
    published_on: date | None = Field(None, description="通知日期 / the notice's date", examples=["2026-11-10"])


class CalendarOut(BaseModel):
    """某年施行的工作日日历 / the calendar in force for a year."""

    year: int
    covered: bool = Field(description="是否有法定节假日安排；否则按周一至周五 / false: Monday–Friday fallback")
    origin: str = Field(description="shipped（随软件发布）, region vN（本区发布第N版）或 monday-friday",
                        examples=["region v1"])
    holidays: list[date]
    workdays: list[date]
    source: str | None = None
    published_on: date | None = None


class CalendarPublishedOut(BaseModel):
    year: int
    version: int = Field(description="本区该年日历的版本 / the version now in force")
