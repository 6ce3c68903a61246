"""离线兑换 (issue #15): a counter device's key, the offline records it syncs, the region's offline bound.

An offline record is read exactly as the device signed it: every field is a string or an integer with
its format (no coercion: "5" is not 5), so the ledger rebuilds the very bytes the device signed
(`ledger.signing.offline.offline_redemption_bytes`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import EXAMPLE_ITEM_ID, EXAMPLE_MEMBER_ID, StrictIn
from ledger.signing import offline
from ledger.domain.limits import (
    LABEL_CHARS_MAX,
    OFFLINE_BOUND_MINUTES_MAX,
    OFFLINE_DEVICE_BOUND_MINUTES_MAX,
    PRICE_MINUTES_MAX,
    QUANTITY_MAX,
    REDEMPTION_LINES_MAX,
    SETTING_REASON_CHARS_MAX,
)

UUID_TEXT = offline.UUID_TEXT.pattern  # the shapes of a device's records: ledger/signing/offline.py
KEY_ID_TEXT = offline.KEY_ID_TEXT.pattern
INSTANT_TEXT = offline.INSTANT_TEXT.pattern
UUID_OR_EMPTY = UUID_TEXT.replace("^", "^(", 1).replace("$", ")?$")
RECORD_MINUTES_MAX = REDEMPTION_LINES_MAX * QUANTITY_MAX * PRICE_MINUTES_MAX


class _Exact(StrictIn):
    model_config = ConfigDict(extra="forbid", strict=True)


class DeviceKeyIn(StrictIn):
    """登记本机（柜台设备）密钥 / register this counter device's key (its private half stays in the browser)."""

    public_key: str = Field(min_length=44, max_length=44, pattern=r"^[A-Za-z0-9+/]{43}=$",
                            description="Ed25519 公钥（base64，32 字节）/ 32-byte Ed25519 public key, base64")
    label: str = Field(min_length=1, max_length=LABEL_CHARS_MAX, examples=["收银台平板"])


class DeviceKeyOut(BaseModel):
    key_id: str
    label: str
    registered_at: str = Field(description="登记时间 / when it was registered (UTC, ISO 8601)")
    revoked: bool
    revoked_at: str | None = None


class OfflineLineIn(_Exact):
    item_id: str = Field(pattern=UUID_TEXT, min_length=36, max_length=36, examples=[EXAMPLE_ITEM_ID])
    quantity: int = Field(ge=1, le=QUANTITY_MAX)
    price_minutes: int = Field(ge=1, le=PRICE_MINUTES_MAX, description="设备显示的单价 / the price the device showed")


class OfflineRecordIn(_Exact):
    """设备离线时签署的兑换记录 / a redemption as the device signed it offline."""

    redemption_id: str = Field(pattern=UUID_TEXT, min_length=36, max_length=36)
    region: str = Field(pattern=r"^\d{6}$", min_length=6, max_length=6, examples=["320102"])
    counter: str = Field(pattern=UUID_TEXT, min_length=36, max_length=36)
    device_key_id: str = Field(pattern=KEY_ID_TEXT, min_length=32, max_length=32)
    member: str = Field(pattern=UUID_TEXT, min_length=36, max_length=36, examples=[EXAMPLE_MEMBER_ID])
    items: list[OfflineLineIn] = Field(min_length=1, max_length=REDEMPTION_LINES_MAX)
    minutes: int = Field(ge=1, le=RECORD_MINUTES_MAX)
    created_at: str = Field(pattern=INSTANT_TEXT, min_length=20, max_length=27, examples=["2026-12-01T02:00:00.000Z"])


class OfflineSyncIn(StrictIn):
    """同步一笔离线兑换 / sync one offline redemption."""

    record: OfflineRecordIn
    signature: str = Field(min_length=88, max_length=88, pattern=r"^[A-Za-z0-9+/]{86}==$",
                           description="设备对记录规范字节的 Ed25519 签名（base64）/ the device's signature, base64")


class OfflineSyncOut(BaseModel):
    """同步结果 / what the ledger recorded (a retry returns the original result, applied=false)."""

    redemption_id: str
    member_id: str
    minutes: int
    owed_added_minutes: int = Field(description="余额不足部分，记为欠扣 / what the balance no longer covered: owed")
    owed_added_hours: str
    balance_minutes: int
    balance_hours: str
    applied: bool


class OfflineBoundIn(StrictIn):
    """柜台离线兑换上限 / how many minutes a counter may accept offline per member per day (0: none)."""

    minutes_per_member_day: int = Field(ge=0, le=OFFLINE_BOUND_MINUTES_MAX, examples=[60])
    minutes_per_device_day: int | None = Field(None, ge=0, le=OFFLINE_DEVICE_BOUND_MINUTES_MAX, examples=[600],
                                               description="每台设备每日离线兑换总量上限（0 为不另设；不填为不变）/ "
                                                           "in all per device per day (0: none; absent: unchanged)")
    reason: str = Field(min_length=1, max_length=SETTING_REASON_CHARS_MAX, examples=["网络不稳定的社区保障老人兑换"])


class OfflineExposureOut(BaseModel):
    redemptions: int = Field(description="已同步的离线兑换笔数 / offline redemptions synced")
    minutes: int
    short: int = Field(description="余额不足的笔数 / of which the balance no longer covered")
    owed_minutes: int = Field(description="由此记为欠扣的分钟 / minutes owed because of them")
    owed_hours: str


class OfflineBoundOut(BaseModel):
    minutes_per_member_day: int
    minutes_per_device_day: int = Field(description="每台设备每日总量上限（0 为不另设）/ per device per day (0: none)")
    version: int = Field(description="设置的版本，设备据此判断是否最新 / the setting's version, told to devices")
    reason: str
    exposure: OfflineExposureOut | None = Field(None, description="离线兑换风险敞口（地区与审计可见）/ the region's "
                                                                "exposure (region and auditors)")
