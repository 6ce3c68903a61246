"""通存通兑 (issue #14): redeeming at this region's counter for a member of another region."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import EXAMPLE_MEMBER_ID, StrictIn
from api.schemas.service import RedemptionLineIn
from ledger.application.anywhere import RemoteResult
from ledger.domain.display import duration_text
from ledger.domain.limits import REDEMPTION_LINES_MAX


class RemoteRedemptionIn(StrictIn):
    """跨区兑换：党员码上的所属地区不是本地区 / the member's QR names another region of the federation."""

    member_id: UUID = Field(examples=[EXAMPLE_MEMBER_ID])
    home_region: str = Field(pattern=r"^\d{6}$", min_length=6, max_length=6, examples=["320104"],
                             description="党员所属地区（党员码上的 region）/ the member's home region (GB/T 2260)")
    redemption_id: UUID = Field(description="客户端生成，重试时不变 / client-generated, the same on retries")
    items: list[RedemptionLineIn] = Field(min_length=1, max_length=REDEMPTION_LINES_MAX)
    offline: bool = Field(False, description="所属地区无法连接时，在本地区离线上限内先行兑换（事后向所属地区补报）/ if the home "
                                             "region cannot be reached, take it within this region's offline bound "
                                             "and present it later")


class RemoteRedemptionLineOut(BaseModel):
    item_id: UUID
    name: str
    quantity: int
    price_minutes: int


class RemoteRedemptionOut(BaseModel):
    """跨区兑换结果 / the cross-region redemption: authorised at home (captured, or the capture pending)."""

    redemption_id: UUID
    home_region: str
    home_name: str = Field(description="党员所属地区名称 / the home region's name")
    minutes: int
    balance_minutes: int | None = Field(description="党员在所属地区的余额（兑换后）/ the balance at home after it")
    balance_hours: str | None
    status: Literal["authorised", "captured", "released", "refused", "requested", "offline"] = Field(
        description="captured 已扣减；authorised 已冻结、确认稍后自动重试；offline 离线先行，待向所属地区补报 / captured; "
                    "authorised, the capture retried later; offline, to be presented to the home region")
    applied: bool = Field(description="本次是否新兑换 / false when this was a retry")
    lines: list[RemoteRedemptionLineOut]

    @classmethod
    def of(cls, result: RemoteResult) -> "RemoteRedemptionOut":
        return cls(redemption_id=result.redemption_id, home_region=result.home, home_name=result.home_name,
                   minutes=result.minutes, balance_minutes=result.balance_minutes,
                   balance_hours=duration_text(result.balance_minutes) if result.balance_minutes is not None else None,
                   status=result.status,
                   applied=result.applied, lines=[RemoteRedemptionLineOut(**line) for line in result.lines])
