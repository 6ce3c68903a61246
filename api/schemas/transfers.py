"""转移接续 transfers between regions."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import EXAMPLE_MEMBER_ID, BoundedJsonObject, StrictIn

# ASCII digits only: in pydantic's (Rust) regex `\d` also matches full-width digits ("32０１０２").
REGION_CODE_PATTERN = r"^[0-9]{6}$"


class RegionCardIn(BaseModel):
    """另一地区的名片（由其 GET /v1/region/card 获得）/ another region's card, as its GET /v1/region/card gives it."""

    format: str = Field(max_length=64, examples=["timeledger-region/v1"])
    code: str = Field(pattern=REGION_CODE_PATTERN, max_length=6, examples=["320104"])
    name: str = Field(max_length=64)
    key_id: str = Field(max_length=64)
    public_key: str = Field(max_length=64)
    sealing_key: str = Field(max_length=64)
    address: str = Field("", max_length=200)
    certificate: str = Field(max_length=20_000)
    root_key_id: str = Field(max_length=64)


class TransferIn(StrictIn):
    """发起转出：党员须已单独同意转往该地区 / start a transfer-out; the member must have consented to it."""

    member_id: UUID = Field(examples=[EXAMPLE_MEMBER_ID])
    destination: str = Field(pattern=REGION_CODE_PATTERN, max_length=6, examples=["320104"],
                             description="目的地区代码 / destination region")
    transfer_id: UUID | None = None


class TransferOut(BaseModel):
    id: UUID
    member_id: UUID
    destination: str
    balance_minutes: int
    owed_minutes: int
    expires_at: datetime
    status: str = Field(examples=["pending", "completed", "voided"])
    bundle_sha256: str | None
    receipt_sha256: str | None
    void_reason: str | None
    void_forced: bool = Field(False, description="地区管理员到期后强制撤销（无目的地区答复）/ voided by the region "
                                                 "admin after the expiry without the destination's answer")


class ReceiptOut(BaseModel):
    """签名回执 / a signed receipt (accepted, rejected, or not imported); send it to the source region."""

    receipt: BoundedJsonObject
    key_id: str = Field(max_length=64)
    signature: str = Field(max_length=128, description="Ed25519 签名（base64）/ base64 Ed25519 signature")


class VoidIn(StrictIn):
    reason: str = Field(min_length=1, max_length=500, examples=["目的地区拒收"],
                        description="强制撤销时记入事件的理由 / for a forced void, the reason recorded in the event")
    rejection: ReceiptOut | None = Field(None, description="目的地区签名的拒收回执或“未导入”答复 / the destination's "
                                                           "signed rejection or 'not imported' answer")
    force: bool = Field(False, description="到期后目的地区始终不答复时，地区管理员强制撤销 / the region admin's override "
                                           "after the expiry for a destination that never answers")


class KeyIssuedOut(BaseModel):
    key_id: str
